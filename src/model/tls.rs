//! The certificates of the environments' public hosts: which Secret each environment's
//! entrance serves, the namespace that Secret must be in for the gateway to read it, and,
//! with `[platform] tls.mode = "cert-manager"`, the cert-manager Certificate that keeps it
//! filled. Pure: it decides names and places, blueprints only write them out.

use schemars::JsonSchema;
use serde::Serialize;

use crate::spec::{IssuerKind, Mesh, TlsMode};

/// `platform.tls`: how the environments' certificates are made.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Tls {
    /// `secret`: each environment's Secret is made by hand; `cert-manager`: a Certificate
    /// per environment has cert-manager issue and renew it.
    pub mode: TlsMode,
    /// The kind of issuer `issuer` is (`tls.issuer_kind`).
    pub issuer_kind: IssuerKind,
    /// The issuer the Certificates name, with `cert-manager`.
    pub issuer: Option<IssuerRef>,
    /// Where the Certificates go (the Argo CD project `{platform}-tls` allows exactly
    /// these): each distinct cluster and namespace, in promotion order; empty without any.
    pub destinations: Vec<Destination>,
}

/// A cluster and a namespace Argo CD applies Certificates to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Destination {
    /// The Argo CD destination server.
    pub server: String,
    /// The namespace.
    pub namespace: String,
}

/// A cert-manager issuer, as a Certificate's `issuerRef` names it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IssuerRef {
    /// The issuer's name.
    pub name: String,
    /// `ClusterIssuer` (cluster-wide) or `Issuer` (in the Certificate's namespace).
    pub kind: IssuerKind,
    /// The issuer's API group.
    pub group: &'static str,
}

/// cert-manager's API group.
pub const GROUP: &str = "cert-manager.io";

impl Tls {
    pub fn new(mode: TlsMode, issuer: Option<String>, kind: IssuerKind) -> Self {
        let issuer = (mode == TlsMode::CertManager).then(|| IssuerRef {
            name: issuer.unwrap_or_default(),
            kind,
            group: GROUP,
        });
        Self {
            mode,
            issuer_kind: kind,
            issuer,
            destinations: Vec::new(),
        }
    }

    /// Adds where one environment's Certificate goes, unless already there.
    pub fn add_destination(&mut self, server: &str, namespace: &str) {
        let d = Destination {
            server: server.to_owned(),
            namespace: namespace.to_owned(),
        };
        if !self.destinations.contains(&d) {
            self.destinations.push(d);
        }
    }
}

/// A cert-manager Certificate: the Secret it fills, where, and for which hosts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Certificate {
    /// The Certificate's name: the Secret's.
    pub name: String,
    /// Its namespace: the Secret's (see `Environment::tls_namespace`).
    pub namespace: String,
    /// The Secret cert-manager writes (`tls.crt`, `tls.key`): the environment's `tls_secret`.
    pub secret_name: String,
    /// The hosts it is valid for: every host the environment's entrance serves.
    pub dns_names: Vec<String>,
    /// Who signs it.
    pub issuer: IssuerRef,
}

/// Where an environment's TLS Secret must be for its entrance to read it: Istio's gateway
/// reads `credentialName` from its own namespace; an Ingress reads `secretName` from the
/// Ingress's, the environment's.
pub fn secret_namespace(mesh: Mesh, gateway_namespace: &str, env_namespace: &str) -> String {
    match mesh {
        Mesh::Istio => gateway_namespace.to_owned(),
        Mesh::None => env_namespace.to_owned(),
    }
}

/// The Certificate of one environment, when the platform has cert-manager make them and
/// the environment serves public hosts (`hosts` empty: no entrance, no certificate).
pub fn certificate(
    tls: &Tls,
    secret: &str,
    namespace: &str,
    hosts: Vec<String>,
) -> Option<Certificate> {
    let issuer = tls.issuer.clone()?;
    (!hosts.is_empty()).then(|| Certificate {
        name: secret.to_owned(),
        namespace: namespace.to_owned(),
        secret_name: secret.to_owned(),
        dns_names: hosts,
        issuer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_where_the_gateway_reads_it() {
        assert_eq!(
            secret_namespace(Mesh::Istio, "istio-system", "fleet-dev"),
            "istio-system"
        );
        assert_eq!(
            secret_namespace(Mesh::None, "ingress-nginx", "fleet-dev"),
            "fleet-dev"
        );
    }

    #[test]
    fn a_certificate_only_with_cert_manager_and_a_host() {
        let manual = Tls::new(TlsMode::Secret, None, IssuerKind::ClusterIssuer);
        assert!(certificate(&manual, "s", "ns", vec!["a.example".into()]).is_none());
        let cm = Tls::new(
            TlsMode::CertManager,
            Some("letsencrypt".into()),
            IssuerKind::ClusterIssuer,
        );
        assert!(certificate(&cm, "s", "ns", Vec::new()).is_none());
        let c = certificate(
            &cm,
            "fleet-dev-tls",
            "istio-system",
            vec!["a.example".into()],
        )
        .unwrap();
        assert_eq!(c.secret_name, "fleet-dev-tls");
        assert_eq!(c.namespace, "istio-system");
        assert_eq!(c.issuer.name, "letsencrypt");
        assert_eq!(c.issuer.kind, IssuerKind::ClusterIssuer);
    }
}
