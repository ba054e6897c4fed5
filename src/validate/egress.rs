//! `egress`: each entry is `host:port` of a host outside the cluster, listed once.
//! Why an entry is refused comes from the model's reading of it (`model::egress::parse`).

use crate::diagnostic::Diagnostic;
use crate::model::egress::{self, Invalid};
use crate::spec::Spec;
use crate::spec::defaults::EGRESS_PORT;

/// What an entry should look like, for every help line.
const EXAMPLE: &str = "`smtp.example.com:587`";

pub fn egress_names_hosts_outside_the_cluster(spec: &Spec, out: &mut Vec<Diagnostic>) {
    for s in &spec.services {
        let mut seen: Vec<egress::EgressDestination> = Vec::new();
        for entry in &s.egress {
            let text = &entry.value;
            let (message, label, help) = match egress::parse(text) {
                Ok(d) => {
                    if seen.contains(&d) {
                        out.push(
                            Diagnostic::error(
                                entry.span.clone(),
                                format!("egress `{text}` is listed twice"),
                            )
                            .label("duplicate entry")
                            .help("remove one of them"),
                        );
                    } else {
                        seen.push(d);
                    }
                    continue;
                }
                Err(Invalid::NoPort) => (
                    format!("egress `{text}` has no port"),
                    "expected `host:port`".to_string(),
                    format!("add the port after a `:`, e.g. {EXAMPLE}"),
                ),
                Err(Invalid::Port(port)) => (
                    format!("egress `{text}` has no valid port"),
                    if port.is_empty() {
                        "nothing after `:`".to_string()
                    } else {
                        format!(
                            "`{port}` is not a port number {}–{}",
                            EGRESS_PORT.min, EGRESS_PORT.max
                        )
                    },
                    format!(
                        "write the port as a number from {} to {}, e.g. {EXAMPLE}",
                        EGRESS_PORT.min, EGRESS_PORT.max
                    ),
                ),
                Err(Invalid::Scheme) => (
                    format!("egress `{text}` is a URL, not `host:port`"),
                    "a scheme (`…://`)".to_string(),
                    format!("write the host and the port only, e.g. {EXAMPLE}"),
                ),
                Err(Invalid::Path) => (
                    format!("egress `{text}` has a path"),
                    "`/` after the host".to_string(),
                    format!(
                        "a NetworkPolicy opens host and port, not paths: write `host:port`, e.g. {EXAMPLE}"
                    ),
                ),
                Err(Invalid::IpAddress) => (
                    format!("egress `{text}` names an IP address"),
                    "not a host name".to_string(),
                    "declare a host name: the mesh knows external hosts by name, and addresses change"
                        .to_string(),
                ),
                Err(Invalid::Wildcard) => (
                    format!("egress `{text}` has a wildcard"),
                    "wildcard hosts are not supported".to_string(),
                    format!("list each host name, e.g. {EXAMPLE}"),
                ),
                Err(Invalid::Internal) => (
                    format!("egress `{text}` is a name inside the cluster"),
                    "egress is for hosts outside the cluster".to_string(),
                    "a service of this platform is reached through `calls`".to_string(),
                ),
                Err(Invalid::Host(why)) => (
                    format!("egress `{text}` has an invalid host name"),
                    why,
                    format!("write a lowercase DNS name and a port, e.g. {EXAMPLE}"),
                ),
            };
            out.push(
                Diagnostic::error(entry.span.clone(), message)
                    .label(label)
                    .help(help),
            );
        }
    }
}
