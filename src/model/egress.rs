//! Where a service connects outside the cluster: its `egress` entries (`host:port`) read
//! once, the protocol the mesh needs for each port, and the addresses a NetworkPolicy opens
//! for them. `parse` is also how validate learns why an entry is refused, so the two
//! cannot disagree; templates only look the results up.

use std::net::IpAddr;

use schemars::JsonSchema;
use serde::Serialize;

use crate::spec::defaults::{EGRESS_PORT, HOST_MAX, LABEL_MAX};

/// Every IPv4 address: what an egress port is opened to, minus `NON_PUBLIC`.
pub const INTERNET_CIDR: &str = "0.0.0.0/0";

/// Ranges that are never a public destination, so a declared egress port never reaches
/// them: the cluster's own pod, service and node networks live here, and so do the cloud
/// metadata endpoints.
pub const NON_PUBLIC: &[&str] = &[
    // Private networks (RFC 1918): pods, Services and nodes of almost every cluster.
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    // Shared address space (RFC 6598): carrier-grade NAT, and the pod networks of some
    // managed clusters.
    "100.64.0.0/10",
    // Link-local: the cloud providers' metadata and credential endpoints (169.254.169.254).
    "169.254.0.0/16",
];

/// Ports whose connections start with a TLS handshake (implicit TLS): HTTPS, SMTP
/// submission over TLS, LDAPS, DNS over TLS, IMAPS, POP3S, AMQPS and MQTT over TLS. The mesh
/// routes them by the TLS server name; every other port is plain TCP to it (SMTP on 587
/// starts in plain text and upgrades with STARTTLS).
pub const TLS_PORTS: &[u16] = &[443, 465, 636, 853, 993, 995, 5671, 8883];

/// Why an `egress` entry is not `host:port` of a host outside the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// No `:port` after the host (`smtp.example.com`).
    NoPort,
    /// What follows the last `:` is not a port number in `EGRESS_PORT` (the text).
    Port(String),
    /// A URL (`https://api.example.com:443`).
    Scheme,
    /// A path after the host or the port (`api.example.com:443/v1`).
    Path,
    /// An IP address instead of a host name.
    IpAddress,
    /// A wildcard (`*.example.com`).
    Wildcard,
    /// A name inside the cluster (`orders.shop.svc.cluster.local`, `*.local`).
    Internal,
    /// Not a lowercase DNS name with at least two labels: why.
    Host(String),
}

/// One `egress` entry: a host outside the cluster and the port the service connects to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct EgressDestination {
    /// The host name, a lowercase DNS name.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// What the mesh sees on the port: `TLS` (routed by the TLS server name) or `TCP`.
    pub protocol: &'static str,
}

/// One port a service connects to outside the cluster, and the hosts it is declared for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct EgressPort {
    /// The TCP port.
    pub number: u16,
    /// What the mesh sees on the port: `TLS` or `TCP` (`protocol_of`).
    pub protocol: &'static str,
    /// The port's name in the ServiceEntry, `<protocol>-<number>` in lowercase (`tls-443`).
    pub name: String,
    /// The hosts declared on this port, in file order.
    pub hosts: Vec<String>,
}

/// Where a service connects outside the cluster: `egress` of service.toml, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Egress {
    /// The entries as declared, in file order; empty: nothing outside the cluster.
    pub destinations: Vec<EgressDestination>,
    /// The distinct host names in order of first mention (the ServiceEntry's `hosts`).
    pub hosts: Vec<String>,
    /// The distinct ports in order of first mention: one NetworkPolicy egress rule each
    /// (TCP to `platform.internet`), and the ServiceEntry's `ports`.
    pub ports: Vec<EgressPort>,
}

/// The addresses a declared egress port is opened to (a NetworkPolicy `ipBlock`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Internet {
    /// Every IPv4 address (`0.0.0.0/0`).
    pub cidr: &'static str,
    /// The ranges left out: private, shared (carrier-grade NAT) and link-local addresses,
    /// where the cluster itself and the cloud metadata endpoints live.
    pub except: Vec<&'static str>,
}

impl Default for Internet {
    fn default() -> Self {
        Self {
            cidr: INTERNET_CIDR,
            except: NON_PUBLIC.to_vec(),
        }
    }
}

/// `TLS` for the ports of `TLS_PORTS`, `TCP` for every other.
pub fn protocol_of(port: u16) -> &'static str {
    if TLS_PORTS.contains(&port) {
        "TLS"
    } else {
        "TCP"
    }
}

/// Reads one `egress` entry: `host:port`, the host a lowercase DNS name outside the
/// cluster, the port a number without sign or leading zero.
pub fn parse(entry: &str) -> Result<EgressDestination, Invalid> {
    if entry.contains("://") {
        return Err(Invalid::Scheme);
    }
    let bare = entry.trim_start_matches('[');
    if entry.parse::<std::net::SocketAddr>().is_ok()
        || entry.parse::<IpAddr>().is_ok()
        || (entry.starts_with('[') && bare.split(']').next().is_some_and(is_ip))
    {
        return Err(Invalid::IpAddress);
    }
    if entry.contains('/') {
        return Err(Invalid::Path);
    }
    let Some((host, port)) = entry.rsplit_once(':') else {
        return Err(Invalid::NoPort);
    };
    if is_ip(host) {
        return Err(Invalid::IpAddress);
    }
    let number = port_number(port).ok_or_else(|| Invalid::Port(port.to_string()))?;
    if host.contains('*') {
        return Err(Invalid::Wildcard);
    }
    if let Some(why) = host_problem(host) {
        return Err(Invalid::Host(why));
    }
    if host == "local" || host.ends_with(".local") || host.ends_with(".svc") {
        return Err(Invalid::Internal);
    }
    Ok(EgressDestination {
        host: host.to_string(),
        port: number,
        protocol: protocol_of(number),
    })
}

fn is_ip(text: &str) -> bool {
    text.parse::<IpAddr>().is_ok()
}

/// A port as written: digits only, no leading zero, within `EGRESS_PORT`.
fn port_number(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || text.starts_with('0') {
        return None;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = text.parse().ok()?;
    if !EGRESS_PORT.contains(n) {
        return None;
    }
    u16::try_from(n).ok()
}

/// Why `host` is not a lowercase DNS name of at least two labels ending in a name (not a
/// number), if it is not.
fn host_problem(host: &str) -> Option<String> {
    if host.is_empty() {
        return Some("the host name is empty".into());
    }
    if host.len() > HOST_MAX {
        return Some(format!(
            "the host name is {} characters long; at most {HOST_MAX} are allowed",
            host.len()
        ));
    }
    if host.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("host names are written in lowercase".into());
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return Some("a single label resolves inside the cluster; write the full name".into());
    }
    for label in &labels {
        if label.is_empty() {
            return Some("a host name has no empty labels (`..`, or a dot at an end)".into());
        }
        if label.len() > LABEL_MAX {
            return Some(format!(
                "a label of {} characters; at most {LABEL_MAX} are allowed",
                label.len()
            ));
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Some("only lowercase letters, digits, `-` and `.` are allowed".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("a label cannot start or end with `-`".into());
        }
    }
    let last = labels[labels.len() - 1];
    if !last.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("the last label must start with a letter".into());
    }
    None
}

impl Egress {
    /// The service's `egress` entries, resolved; entries that do not parse (validate has
    /// refused them) are left out.
    pub fn new<'a>(entries: impl IntoIterator<Item = &'a str>) -> Self {
        let mut egress = Self::default();
        for entry in entries {
            let Ok(d) = parse(entry) else { continue };
            if egress.destinations.contains(&d) {
                continue;
            }
            if !egress.hosts.contains(&d.host) {
                egress.hosts.push(d.host.clone());
            }
            match egress.ports.iter_mut().find(|p| p.number == d.port) {
                Some(port) => {
                    if !port.hosts.contains(&d.host) {
                        port.hosts.push(d.host.clone());
                    }
                }
                None => egress.ports.push(EgressPort {
                    number: d.port,
                    protocol: d.protocol,
                    name: format!("{}-{}", d.protocol.to_ascii_lowercase(), d.port),
                    hosts: vec![d.host.clone()],
                }),
            }
            egress.destinations.push(d);
        }
        egress
    }

    pub fn is_empty(&self) -> bool {
        self.destinations.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(entry: &str) -> (String, u16, &'static str) {
        let d = parse(entry).unwrap_or_else(|e| panic!("{entry}: {e:?}"));
        (d.host, d.port, d.protocol)
    }

    #[test]
    fn host_and_port_and_the_mesh_protocol() {
        assert_eq!(
            ok("smtp.example.com:587"),
            ("smtp.example.com".into(), 587, "TCP")
        );
        assert_eq!(
            ok("api.payments.example:443"),
            ("api.payments.example".into(), 443, "TLS")
        );
        assert_eq!(ok("1password.com:1"), ("1password.com".into(), 1, "TCP"));
        assert_eq!(ok("a-b.example:65535").1, 65535);
    }

    #[test]
    fn refused_entries_say_why() {
        let cases: &[(&str, Invalid)] = &[
            ("smtp.example.com", Invalid::NoPort),
            ("smtp.example.com:", Invalid::Port(String::new())),
            ("smtp.example.com:smtp", Invalid::Port("smtp".into())),
            ("smtp.example.com:0", Invalid::Port("0".into())),
            ("smtp.example.com:65536", Invalid::Port("65536".into())),
            ("smtp.example.com:0587", Invalid::Port("0587".into())),
            ("smtp.example.com:+587", Invalid::Port("+587".into())),
            ("https://api.example.com:443", Invalid::Scheme),
            ("api.example.com:443/v1", Invalid::Path),
            ("203.0.113.7:443", Invalid::IpAddress),
            ("203.0.113.7", Invalid::IpAddress),
            ("[2001:db8::1]:443", Invalid::IpAddress),
            ("2001:db8::1", Invalid::IpAddress),
            ("*.example.com:443", Invalid::Wildcard),
            ("orders.shop.svc.cluster.local:8080", Invalid::Internal),
            ("printer.local:631", Invalid::Internal),
        ];
        for (entry, want) in cases {
            assert_eq!(parse(entry).as_ref(), Err(want), "{entry}");
        }
        for entry in [
            "Smtp.Example.com:587",
            "smtp:587",
            "smtp..example.com:587",
            "smtp.example.com.:587",
            "-smtp.example.com:587",
            "smtp_relay.example.com:587",
            "smtp.example.123:587",
            ":587",
            "smtp.example.com:587:587",
        ] {
            assert!(
                matches!(parse(entry), Err(Invalid::Host(_) | Invalid::IpAddress)),
                "{entry}: {:?}",
                parse(entry)
            );
        }
    }

    #[test]
    fn ports_group_the_hosts_declared_on_them() {
        let e = Egress::new([
            "smtp.example.com:587",
            "api.payments.example:443",
            "backup-smtp.example.com:587",
            "smtp.example.com:587",
        ]);
        assert_eq!(e.destinations.len(), 3);
        assert_eq!(
            e.hosts,
            [
                "smtp.example.com",
                "api.payments.example",
                "backup-smtp.example.com"
            ]
        );
        let ports: Vec<(u16, &str, &str, Vec<String>)> = e
            .ports
            .iter()
            .map(|p| (p.number, p.protocol, p.name.as_str(), p.hosts.clone()))
            .collect();
        assert_eq!(
            ports,
            [
                (
                    587,
                    "TCP",
                    "tcp-587",
                    vec![
                        "smtp.example.com".to_string(),
                        "backup-smtp.example.com".to_string()
                    ]
                ),
                (
                    443,
                    "TLS",
                    "tls-443",
                    vec!["api.payments.example".to_string()]
                ),
            ]
        );
        assert!(Egress::new([]).is_empty());
    }
}
