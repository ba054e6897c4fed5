//! The certificates of the public entrances, the way the gateways and cert-manager read
//! them: Istio's ingress gateway reads a Gateway server's `credentialName` from its own
//! namespace (where its pods run), ingress-nginx an Ingress's `secretName` from the
//! Ingress's namespace; a cert-manager Certificate writes `secretName` in its own
//! namespace, for its `dnsNames`. Across environments, two entrances on one cluster
//! reading one Secret in one namespace would serve each other's certificate.

use std::collections::BTreeMap;

use super::objects::{Object, items, scalar, text};

/// One Secret an entrance reads: (namespace, name), and the hosts it must be valid for.
struct Read {
    by: String,
    namespace: String,
    secret: String,
    hosts: Vec<String>,
}

/// What the entrances of one environment read. `gateway_namespace`: where the Istio
/// gateway's pods run.
fn reads(objects: &[Object], gateway_namespace: &str) -> Vec<Read> {
    let mut out = Vec::new();
    for gw in objects
        .iter()
        .filter(|o| o.is("networking.istio.io", "Gateway"))
    {
        for server in items(gw.spec(), &["servers"]) {
            let secret = text(server, &["tls", "credentialName"]);
            if secret.is_empty() {
                continue;
            }
            out.push(Read {
                by: gw.describe(),
                namespace: gateway_namespace.to_string(),
                secret: secret.to_string(),
                // `./host`, `ns/host`: the host after the namespace part.
                hosts: items(server, &["hosts"])
                    .iter()
                    .map(|h| {
                        let h = scalar(h);
                        h.rsplit_once('/')
                            .map_or(h.clone(), |(_, host)| host.to_string())
                    })
                    .collect(),
            });
        }
    }
    for ing in objects
        .iter()
        .filter(|o| o.is("networking.k8s.io", "Ingress"))
    {
        for tls in items(ing.spec(), &["tls"]) {
            out.push(Read {
                by: ing.describe(),
                namespace: ing.namespace().to_string(),
                secret: text(tls, &["secretName"]).to_string(),
                hosts: items(tls, &["hosts"]).iter().map(scalar).collect(),
            });
        }
    }
    out
}

/// Whether a certificate name (`a.example.com`, `*.example.com`) covers `host`.
fn covers(name: &str, host: &str) -> bool {
    match name.strip_prefix("*.") {
        Some(base) => host
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == base),
        None => name == host,
    }
}

/// With cert-manager (`certificates`): every Secret an entrance reads is written by a
/// Certificate in that namespace that covers every host it serves there.
pub fn certificates_fill_what_entrances_read(
    objects: &[Object],
    gateway_namespace: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for read in reads(objects, gateway_namespace) {
        let certs: Vec<&Object> = objects
            .iter()
            .filter(|o| o.is("cert-manager.io", "Certificate"))
            .filter(|c| text(c.spec(), &["secretName"]) == read.secret)
            .collect();
        let here: Vec<&&Object> = certs
            .iter()
            .filter(|c| c.namespace() == read.namespace)
            .collect();
        let Some(cert) = here.first() else {
            let elsewhere: Vec<String> = certs.iter().map(|c| c.describe()).collect();
            out.push(format!(
                "tls: {} reads the Secret {}/{}, and no Certificate writes it there{}",
                read.by,
                read.namespace,
                read.secret,
                if elsewhere.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} writes one in another namespace)",
                        elsewhere.join(", ")
                    )
                }
            ));
            continue;
        };
        let names: Vec<String> = items(cert.spec(), &["dnsNames"])
            .iter()
            .map(scalar)
            .collect();
        for host in &read.hosts {
            if !names.iter().any(|n| covers(n, host)) {
                out.push(format!(
                    "tls: {} serves {host} with {}, whose dnsNames ({}) do not cover it",
                    read.by,
                    cert.describe(),
                    names.join(", ")
                ));
            }
        }
    }
    out
}

/// Across the environments (name, cluster, objects): no two read one Secret in one
/// namespace of one cluster.
pub fn environments_do_not_share_a_secret(
    envs: &[(&str, &str, &[Object])],
    gateway_namespace: &str,
) -> Vec<String> {
    let mut readers: BTreeMap<(String, String, String), Vec<&str>> = BTreeMap::new();
    for (env, cluster, objects) in envs {
        for read in reads(objects, gateway_namespace) {
            let who = readers
                .entry(((*cluster).to_string(), read.namespace, read.secret))
                .or_default();
            if !who.contains(env) {
                who.push(env);
            }
        }
    }
    readers
        .into_iter()
        .filter(|(_, envs)| envs.len() > 1)
        .map(|((cluster, ns, secret), envs)| {
            format!(
                "tls: environments {} all serve the certificate in the Secret {ns}/{secret} on {cluster}: each renewal or replacement for one changes the others'",
                envs.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::parse;

    const GATEWAY: &str = "apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: p-dev}
spec:
  servers:
    - port: {number: 443, name: https, protocol: HTTPS}
      hosts: [./dev.example.com]
      tls: {mode: SIMPLE, credentialName: p-dev-tls}
";

    fn certificate(namespace: &str, secret: &str, host: &str) -> String {
        format!(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: {secret}, namespace: {namespace}}}\nspec: {{secretName: {secret}, dnsNames: [{host}], issuerRef: {{name: x, kind: ClusterIssuer}}}}\n"
        )
    }

    #[test]
    fn a_certificate_must_be_where_the_gateway_reads_and_cover_its_hosts() {
        let good = parse(
            "a",
            &format!(
                "{GATEWAY}---\n{}",
                certificate("istio-system", "p-dev-tls", "dev.example.com")
            ),
        );
        assert!(certificates_fill_what_entrances_read(&good, "istio-system").is_empty());
        // In the Gateway's namespace: the gateway's pods never see it.
        let misplaced = parse(
            "a",
            &format!(
                "{GATEWAY}---\n{}",
                certificate("p-dev", "p-dev-tls", "dev.example.com")
            ),
        );
        let found = certificates_fill_what_entrances_read(&misplaced, "istio-system");
        assert!(found[0].contains("in another namespace"), "{found:?}");
        let other_host = parse(
            "a",
            &format!(
                "{GATEWAY}---\n{}",
                certificate("istio-system", "p-dev-tls", "staging.example.com")
            ),
        );
        let found = certificates_fill_what_entrances_read(&other_host, "istio-system");
        assert!(found[0].contains("do not cover"), "{found:?}");
        assert!(covers("*.example.com", "dev.example.com"));
        assert!(!covers("*.example.com", "a.dev.example.com"));
    }

    #[test]
    fn two_environments_reading_one_secret_on_one_cluster_are_found() {
        let dev = parse("a", GATEWAY);
        let staging = parse("b", &GATEWAY.replace("dev", "staging"));
        let shared = parse("b", &GATEWAY.replace("dev.example", "staging.example"));
        let one = "https://kubernetes.default.svc";
        assert!(
            environments_do_not_share_a_secret(
                &[("dev", one, &dev), ("staging", one, &staging)],
                "istio-system"
            )
            .is_empty()
        );
        assert_eq!(
            environments_do_not_share_a_secret(
                &[("dev", one, &dev), ("staging", one, &shared)],
                "istio-system"
            )
            .len(),
            1
        );
        // Another cluster has its own istio-system.
        assert!(
            environments_do_not_share_a_secret(
                &[("dev", one, &dev), ("staging", "https://other", &shared)],
                "istio-system"
            )
            .is_empty()
        );
    }
}
