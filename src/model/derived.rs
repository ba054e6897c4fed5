//! What the model derives that validate must know before there is a model: default names,
//! replica counts, who owns each datum and publishes each topic. One function each, called
//! by `Model::build` and by the rules, so the two cannot disagree. Pure functions of
//! their arguments; the defaults they fall back on are in `spec::defaults`.

use indexmap::IndexMap;

use crate::spec::Datastore;
use crate::spec::defaults;

/// An environment's namespace when `namespace` is not set: `{platform}-{env}`.
pub fn default_namespace(platform: &str, env: &str) -> String {
    format!("{platform}-{env}")
}

/// An environment's TLS Secret when `tls_secret` is not set: `{platform}-{env}-tls`, one
/// per environment (the environments' gateways may share a namespace).
pub fn default_tls_secret(platform: &str, env: &str) -> String {
    format!("{platform}-{env}-tls")
}

/// An environment's public host when `host` is not set: `{env}.{domain}`, or `{domain}`
/// for the last (production) environment.
pub fn default_host(domain: &str, env: &str, production: bool) -> String {
    if production {
        domain.to_string()
    } else {
        format!("{env}.{domain}")
    }
}

/// The name of a service's own database objects (StatefulSet, Service, Secret prefix):
/// `{service}-{kind}`.
pub fn store_name(service: &str, kind: Datastore) -> String {
    format!("{service}-{kind}")
}

/// A service's replica count in an environment: its own `replicas` there, else the
/// environment's `replicas`, else the default.
pub fn replicas(own: Option<i64>, environment: Option<i64>) -> i64 {
    own.or(environment).unwrap_or(defaults::REPLICAS.default)
}

/// A key (datum, topic) claimed by a second service after `first` claimed it.
#[derive(Debug)]
pub struct Clash<'a, T> {
    /// The second claim, as written.
    pub item: &'a T,
    /// The service that claimed the key first.
    pub first: &'a str,
    /// The service making the second claim.
    pub by: &'a str,
}

/// Who claims each key, from `(service, claims)` in file order: key → the first service
/// claiming it (in the order of first claims), and every claim of the same key by another
/// service. The owners of data (`owns`) and the publishers of topics (`publishes`): the
/// model keeps the map, validate reports the clashes. A service repeating its own claim is
/// not a clash.
pub fn claims<'a, T>(
    services: impl IntoIterator<Item = (&'a str, &'a [T])>,
    key: impl Fn(&'a T) -> &'a str,
) -> (IndexMap<&'a str, &'a str>, Vec<Clash<'a, T>>) {
    let mut first: IndexMap<&'a str, &'a str> = IndexMap::new();
    let mut clashes = Vec::new();
    for (service, items) in services {
        for item in items {
            match first.get(key(item)) {
                Some(&owner) if owner != service => clashes.push(Clash {
                    item,
                    first: owner,
                    by: service,
                }),
                Some(_) => {}
                None => {
                    first.insert(key(item), service);
                }
            }
        }
    }
    (first, clashes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_claim_wins_and_later_ones_clash() {
        let a = vec![
            "trips".to_string(),
            "routes".to_string(),
            "trips".to_string(),
        ];
        let b = vec!["users".to_string(), "trips".to_string()];
        let c = vec!["routes".to_string()];
        let (map, clashes) = claims(
            [
                ("a", a.as_slice()),
                ("b", b.as_slice()),
                ("c", c.as_slice()),
            ],
            String::as_str,
        );
        let map: Vec<(&str, &str)> = map.into_iter().collect();
        assert_eq!(map, [("trips", "a"), ("routes", "a"), ("users", "b")]);
        let clashes: Vec<(&str, &str, &str)> = clashes
            .iter()
            .map(|c| (c.item.as_str(), c.first, c.by))
            .collect();
        assert_eq!(clashes, [("trips", "a", "b"), ("routes", "a", "c")]);
    }

    #[test]
    fn replicas_prefer_the_service_then_the_environment() {
        assert_eq!(replicas(Some(5), Some(3)), 5);
        assert_eq!(replicas(None, Some(3)), 3);
        assert_eq!(replicas(None, None), defaults::REPLICAS.default);
    }

    #[test]
    fn default_names() {
        assert_eq!(default_namespace("fleet", "dev"), "fleet-dev");
        assert_eq!(default_tls_secret("fleet", "dev"), "fleet-dev-tls");
        assert_eq!(default_host("fleet.io", "dev", false), "dev.fleet.io");
        assert_eq!(default_host("fleet.io", "prod", true), "fleet.io");
        assert_eq!(store_name("trips", Datastore::Postgres), "trips-postgres");
    }
}
