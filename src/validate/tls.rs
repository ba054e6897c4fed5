//! `[platform] tls`: cert-manager has an issuer to ask, the issuer keys are not written
//! where nothing reads them, and no two environments' Certificates fill the same Secret.

use crate::diagnostic::Diagnostic;
use crate::model::{Addons, default_namespace, default_tls_secret, tls};
use crate::spec::{Mesh, Spec, TlsMode, defaults};

pub fn tls_certificates(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let Some(t) = &spec.platform.tls else {
        return;
    };
    let mode = t.mode.as_ref().map_or(defaults::TLS_MODE, |m| m.value);
    if mode == TlsMode::CertManager {
        match &t.issuer {
            None => out.push(
                Diagnostic::error(t.span.clone(), "`tls.mode = \"cert-manager\"` needs an issuer")
                    .label("no `issuer` here")
                    .help("name the cert-manager issuer that signs the certificates, e.g. `issuer = \"letsencrypt\"` (a ClusterIssuer unless `issuer_kind = \"Issuer\"`)"),
            ),
            Some(issuer) if !super::names::dns_name(&issuer.value) => out.push(
                Diagnostic::error(issuer.span.clone(), format!("`{}` is not a cert-manager issuer name", issuer.value))
                    .label("expected a Kubernetes object name")
                    .help("lowercase letters, digits, `-` and `.`, e.g. `letsencrypt`"),
            ),
            Some(_) => {}
        }
        shared_secrets(spec, out);
    } else if t.mode.is_some() || !t.mode_written {
        // (An unknown mode is reported where it is read: no guess at what it meant.)
        let keys = [
            t.issuer.as_ref().map(|i| ("issuer", i.span.clone())),
            t.issuer_kind
                .as_ref()
                .map(|k| ("issuer_kind", k.span.clone())),
        ];
        for (key, span) in keys.into_iter().flatten() {
            out.push(
                Diagnostic::error(span, format!("`tls.{key}` has no effect without cert-manager"))
                    .label(format!("the TLS mode is \"{mode}\": the Secrets are made by hand"))
                    .help("set `mode = \"cert-manager\"` to have cert-manager issue the certificates, or remove the key"),
            );
        }
    }
}

/// Two Certificates filling one Secret overwrite each other's on every renewal (and two
/// Applications would own one object): each environment needs its own `tls_secret` in the
/// namespace the gateway reads it from.
fn shared_secrets(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let p = &spec.platform;
    let platform = p.name.as_ref().map_or("", |n| n.value.as_str());
    let mesh = p.mesh.as_ref().map_or(defaults::MESH, |m| m.value);
    let gateway = Addons::new(mesh, p.gateway.as_ref()).gateway.namespace;
    let mut seen: Vec<(String, String, &str)> = Vec::new();
    for env in &spec.environments {
        let name = env.name.value.as_str();
        let namespace = env
            .namespace
            .as_ref()
            .map_or_else(|| default_namespace(platform, name), |n| n.value.clone());
        let namespace = tls::secret_namespace(mesh, &gateway, &namespace);
        let (secret, span) = env.tls_secret.as_ref().map_or_else(
            || (default_tls_secret(platform, name), env.name.span.clone()),
            |s| (s.value.clone(), s.span.clone()),
        );
        if let Some((_, _, first)) = seen
            .iter()
            .find(|(s, n, _)| *s == secret && *n == namespace)
        {
            let whose = if mesh == Mesh::Istio {
                "the gateway's namespace "
            } else {
                ""
            };
            out.push(
                Diagnostic::error(
                    span,
                    format!("environments {first} and {name} share the TLS secret `{secret}` in {whose}`{namespace}`"),
                )
                .label("secret already used")
                .help("with cert-manager each environment's Certificate needs its own Secret: give each a different `tls_secret`, or leave it out for the default"),
            );
        } else {
            seen.push((secret, namespace, name));
        }
    }
}
