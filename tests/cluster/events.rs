//! The event broker as its controllers and clients meet it in one environment: the NATS
//! server reads the configuration its StatefulSet mounts, with the passwords its
//! environment holds; each service logs in with the Secret its own container names; NACK
//! creates the Streams and Consumers through the Account; KEDA reads the backlog of a
//! consumer that exists. The permissions the server enforces are compared with what
//! service.toml declares (not with the model bulkhead built from it).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::objects::{Object, at, items, text};

/// What service.toml says a service publishes and consumes.
pub struct Declared {
    pub name: String,
    pub publishes: Vec<String>,
    pub consumes: Vec<String>,
}

/// One user of the broker's configuration.
#[derive(Debug)]
struct User {
    name: String,
    password_var: String,
    publish: BTreeSet<String>,
    subscribe: BTreeSet<String>,
}

/// The users of a nats.conf `authorization` block. Its passwords are unquoted NATS
/// variables (`"password": $PASSWORD_X`); quoted, the block is JSON.
fn users(conf: &str) -> Result<Vec<User>, String> {
    let (_, block) = conf
        .split_once("\nauthorization:")
        .ok_or("no authorization block")?;
    let mut json = String::new();
    let mut rest = block;
    while let Some(i) = rest.find(": $") {
        json.push_str(&rest[..i + 2]);
        let var: String = rest[i + 2..]
            .chars()
            .take_while(|c| *c == '$' || c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        json.push_str(&format!("\"{var}\""));
        rest = &rest[i + 2 + var.len()..];
    }
    json.push_str(rest);
    let parsed: Json = serde_json::Deserializer::from_str(&json)
        .into_iter::<Json>()
        .next()
        .ok_or("empty")?
        .map_err(|e| e.to_string())?;
    let set = |v: &Json| -> BTreeSet<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    Ok(parsed["users"]
        .as_array()
        .ok_or("no users")?
        .iter()
        .map(|u| User {
            name: u["user"].as_str().unwrap_or_default().to_string(),
            password_var: u["password"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('$')
                .to_string(),
            publish: set(&u["permissions"]["publish"]["allow"]),
            subscribe: set(&u["permissions"]["subscribe"]["allow"]),
        })
        .collect())
}

fn stream_of(topic: &str) -> String {
    topic.replace(['.', '_'], "-")
}

/// The env var `name` of a container: its Secret, when it reads one.
fn secret_of<'a>(container: &'a serde_yaml_ng::Value, name: &str) -> Option<&'a str> {
    items(container, &["env"])
        .iter()
        .find(|e| text(e, &["name"]) == name)
        .map(|e| text(e, &["valueFrom", "secretKeyRef", "name"]))
}

/// Every finding on the broker of one environment.
pub fn all(declared: &[Declared], external: &[String], objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    let participants: Vec<&Declared> = declared
        .iter()
        .filter(|d| !d.publishes.is_empty() || !d.consumes.is_empty())
        .collect();
    let brokers: Vec<&Object> = objects
        .iter()
        .filter(|o| {
            o.is("apps", "StatefulSet")
                && o.pod_labels()
                    .get("app.kubernetes.io/component")
                    .map(String::as_str)
                    == Some("event-broker")
        })
        .collect();
    if participants.is_empty() {
        if !brokers.is_empty() {
            out.push("a broker runs, though no service publishes or consumes".into());
        }
        return out;
    }
    let [broker] = brokers.as_slice() else {
        out.push(format!(
            "{} brokers run where services publish or consume: want one",
            brokers.len()
        ));
        return out;
    };
    // The configuration the server reads: the ConfigMap its volume names.
    let volume = items(broker.spec(), &["template", "spec", "volumes"])
        .iter()
        .find_map(|v| at(v, &["configMap", "name"]).as_str());
    let Some(conf) = objects
        .iter()
        .find(|o| o.kind() == "ConfigMap" && Some(o.name()) == volume)
        .map(|o| text(&o.value, &["data", "nats.conf"]))
    else {
        out.push(format!(
            "{} mounts the ConfigMap {volume:?}, which is not applied",
            broker.describe()
        ));
        return out;
    };
    let users = match users(conf) {
        Ok(u) => u,
        Err(e) => {
            out.push(format!("its nats.conf: {e}"));
            return out;
        }
    };
    let server = broker.containers().next().cloned().unwrap_or_default();
    let by_name: BTreeMap<&str, &User> = users.iter().map(|u| (u.name.as_str(), u)).collect();
    for d in declared {
        let Some(user) = by_name.get(d.name.as_str()) else {
            if participants.iter().any(|p| p.name == d.name) {
                out.push(format!(
                    "{} publishes or consumes but has no broker identity",
                    d.name
                ));
            }
            continue;
        };
        if !participants.iter().any(|p| p.name == d.name) {
            out.push(format!(
                "{} has a broker identity, though it neither publishes nor consumes",
                d.name
            ));
        }
        // Topics: exactly the owned ones to publish, the consumed ones to subscribe.
        let topics = |set: &BTreeSet<String>| -> BTreeSet<String> {
            set.iter()
                .filter(|s| !s.starts_with('$') && !s.starts_with("_INBOX"))
                .cloned()
                .collect()
        };
        let owns: BTreeSet<String> = d.publishes.iter().cloned().collect();
        let reads: BTreeSet<String> = d.consumes.iter().cloned().collect();
        if topics(&user.publish) != owns {
            out.push(format!(
                "{} may publish {:?}, but service.toml gives it {owns:?}",
                d.name,
                topics(&user.publish)
            ));
        }
        if topics(&user.subscribe) != reads {
            out.push(format!(
                "{} may subscribe to {:?}, but consumes {reads:?}",
                d.name,
                topics(&user.subscribe)
            ));
        }
        // The JetStream API only on its own durable consumers, and only its own inbox.
        let mut api: BTreeSet<String> = BTreeSet::new();
        for t in &d.consumes {
            let s = stream_of(t);
            api.insert(format!("$JS.API.CONSUMER.MSG.NEXT.{s}.{}", d.name));
            api.insert(format!("$JS.API.CONSUMER.INFO.{s}.{}", d.name));
            api.insert(format!("$JS.ACK.{s}.{}.>", d.name));
        }
        let have: BTreeSet<String> = user
            .publish
            .iter()
            .filter(|s| s.starts_with('$'))
            .cloned()
            .collect();
        if have != api {
            out.push(format!(
                "{} may use the JetStream API on {have:?}, want {api:?}",
                d.name
            ));
        }
        let inboxes: BTreeSet<String> = user
            .subscribe
            .iter()
            .filter(|s| s.starts_with("_INBOX"))
            .cloned()
            .collect();
        if inboxes != BTreeSet::from([format!("_INBOX.{}.>", d.name)]) {
            out.push(format!("{} may read the inboxes {inboxes:?}", d.name));
        }
        // The server checks the password its environment holds against the one the
        // service's container sends: both from the same Secret.
        let on_server = secret_of(&server, &user.password_var);
        let workload = objects.iter().find(|o| {
            o.is_workload() && o.pod_labels().get("app.kubernetes.io/name") == Some(&d.name)
        });
        let sent = workload
            .and_then(|w| w.containers().next())
            .and_then(|c| secret_of(c, "NATS_PASSWORD"));
        if on_server.is_none() || on_server != sent {
            out.push(format!(
                "{}: the server reads ${} from {on_server:?}, the service sends NATS_PASSWORD from {sent:?}",
                d.name, user.password_var
            ));
        }
        if let Some(c) = workload.and_then(|w| w.containers().next()) {
            let user_var = items(c, &["env"])
                .iter()
                .find(|e| text(e, &["name"]) == "NATS_USER")
                .map(|e| text(e, &["value"]));
            if user_var != Some(d.name.as_str()) {
                out.push(format!("{} logs in as {user_var:?}", d.name));
            }
        }
    }
    // Every variable the configuration names is set on the server, or it does not start.
    for u in &users {
        if secret_of(&server, &u.password_var).is_none() {
            out.push(format!(
                "nats.conf needs ${}, which the server's environment lacks",
                u.password_var
            ));
        }
    }
    // NACK: one Stream per topic, one durable Consumer per consumer, all through an Account here.
    let topics: BTreeSet<&String> = declared
        .iter()
        .flat_map(|d| d.publishes.iter().chain(&d.consumes))
        .chain(external)
        .collect();
    let streams: BTreeMap<String, &Object> = objects
        .iter()
        .filter(|o| o.is("jetstream.nats.io", "Stream"))
        .map(|o| (text(o.spec(), &["name"]).to_string(), o))
        .collect();
    let accounts: BTreeSet<&str> = objects
        .iter()
        .filter(|o| o.is("jetstream.nats.io", "Account"))
        .map(|o| o.name())
        .collect();
    for t in &topics {
        match streams.get(&stream_of(t)) {
            None => out.push(format!("no Stream holds the topic {t}")),
            Some(s) => {
                let subjects: Vec<&str> = items(s.spec(), &["subjects"])
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect();
                if subjects != [t.as_str()] {
                    out.push(format!("{} holds {subjects:?}, want [{t}]", s.describe()));
                }
            }
        }
    }
    if streams.len() != topics.len() {
        out.push(format!(
            "{} Streams for {} topics",
            streams.len(),
            topics.len()
        ));
    }
    let consumers: BTreeSet<(String, String, String)> = objects
        .iter()
        .filter(|o| o.is("jetstream.nats.io", "Consumer"))
        .map(|o| {
            (
                text(o.spec(), &["streamName"]).to_string(),
                text(o.spec(), &["durableName"]).to_string(),
                text(o.spec(), &["filterSubject"]).to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = declared
        .iter()
        .flat_map(|d| {
            d.consumes
                .iter()
                .map(|t| (stream_of(t), d.name.clone(), t.clone()))
        })
        .collect();
    if consumers != want {
        out.push(format!("durable consumers {consumers:?}, want {want:?}"));
    }
    for o in objects
        .iter()
        .filter(|o| o.group() == "jetstream.nats.io" && o.kind() != "Account")
    {
        if !accounts.contains(text(o.spec(), &["account"])) {
            out.push(format!(
                "{} names the Account {:?}, which is not applied",
                o.describe(),
                text(o.spec(), &["account"])
            ));
        }
    }
    // KEDA: each backlog trigger reads a consumer that exists, from a Service whose
    // endpoints are the broker's servers.
    for so in objects.iter().filter(|o| o.is("keda.sh", "ScaledObject")) {
        for t in items(so.spec(), &["triggers"])
            .iter()
            .filter(|t| text(t, &["type"]) == "nats-jetstream")
        {
            let m = at(t, &["metadata"]);
            let key = (
                text(m, &["stream"]).to_string(),
                text(m, &["consumer"]).to_string(),
            );
            if !consumers.iter().any(|(s, c, _)| (s, c) == (&key.0, &key.1)) {
                out.push(format!(
                    "{} watches {key:?}, no such durable consumer",
                    so.describe()
                ));
            }
            let endpoint = text(m, &["natsServerMonitoringEndpoint"]);
            let host = endpoint.split(':').next().unwrap_or_default();
            let service = objects.iter().find(|o| {
                o.kind() == "Service"
                    && host == format!("{}.{}.svc.cluster.local", o.name(), o.namespace())
            });
            let reaches = service.is_some_and(|s| {
                super::objects::string_map(at(s.spec(), &["selector"]))
                    .iter()
                    .all(|(k, v)| broker.pod_labels().get(k) == Some(v))
                    && items(s.spec(), &["ports"]).iter().any(|p| {
                        endpoint
                            .ends_with(&format!(":{}", super::objects::scalar(at(p, &["port"]))))
                    })
            });
            if !reaches {
                out.push(format!(
                    "{} reads {endpoint}, which no Service of the broker answers",
                    so.describe()
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::parse;

    const OBJECTS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: nats, namespace: ns}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/name: nats, app.kubernetes.io/component: event-broker}}
    spec:
      volumes: [{name: config, configMap: {name: nats-config-abc}}]
      containers:
        - name: nats
          env:
            - {name: PASSWORD_A, valueFrom: {secretKeyRef: {name: a-nats, key: password}}}
            - {name: PASSWORD_B, valueFrom: {secretKeyRef: {name: b-nats, key: password}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: nats-config-abc, namespace: ns}
data:
  nats.conf: |
    port: 4222
    authorization: {
      "users": [
        {"user": "a", "password": $PASSWORD_A, "permissions": {"publish": {"allow": ["t.x"]}, "subscribe": {"allow": ["_INBOX.a.>"]}}},
        {"user": "b", "password": $PASSWORD_B, "permissions": {"publish": {"allow": ["$JS.API.CONSUMER.MSG.NEXT.t-x.b", "$JS.API.CONSUMER.INFO.t-x.b", "$JS.ACK.t-x.b.>"]}, "subscribe": {"allow": ["t.x", "_INBOX.b.>"]}}}
      ]
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: a, namespace: ns}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/name: a}}
    spec:
      containers:
        - name: a
          env:
            - {name: NATS_USER, value: a}
            - {name: NATS_PASSWORD, valueFrom: {secretKeyRef: {name: a-nats, key: password}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b, namespace: ns}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/name: b}}
    spec:
      containers:
        - name: b
          env:
            - {name: NATS_USER, value: b}
            - {name: NATS_PASSWORD, valueFrom: {secretKeyRef: {name: b-nats, key: password}}}
---
apiVersion: jetstream.nats.io/v1beta2
kind: Account
metadata: {name: nats, namespace: ns}
---
apiVersion: jetstream.nats.io/v1beta2
kind: Stream
metadata: {name: t-x, namespace: ns}
spec: {name: t-x, subjects: [t.x], account: nats}
---
apiVersion: jetstream.nats.io/v1beta2
kind: Consumer
metadata: {name: t-x-b, namespace: ns}
spec: {streamName: t-x, durableName: b, filterSubject: t.x, account: nats}
"#;

    fn declared() -> Vec<Declared> {
        vec![
            Declared {
                name: "a".into(),
                publishes: vec!["t.x".into()],
                consumes: vec![],
            },
            Declared {
                name: "b".into(),
                publishes: vec![],
                consumes: vec!["t.x".into()],
            },
        ]
    }

    #[test]
    fn the_declared_graph_passes_and_each_defect_is_found() {
        let check = |yaml: &str| all(&declared(), &[], &parse("app", yaml));
        assert_eq!(check(OBJECTS), Vec::<String>::new());
        for (defect, from, to) in [
            (
                "a consumer may publish",
                r#""allow": ["$JS.API.CONSUMER.MSG.NEXT"#,
                r#""allow": ["t.x", "$JS.API.CONSUMER.MSG.NEXT"#,
            ),
            ("a shared inbox", "_INBOX.b.>", "_INBOX.>"),
            (
                "another consumer's durable",
                "CONSUMER.MSG.NEXT.t-x.b",
                "CONSUMER.MSG.NEXT.t-x.a",
            ),
            (
                "another service's password",
                "{name: NATS_PASSWORD, valueFrom: {secretKeyRef: {name: b-nats",
                "{name: NATS_PASSWORD, valueFrom: {secretKeyRef: {name: a-nats",
            ),
            (
                "a stream without its account",
                "account: nats}\n---\napiVersion: jetstream.nats.io/v1beta2\nkind: Consumer",
                "account: other}\n---\napiVersion: jetstream.nats.io/v1beta2\nkind: Consumer",
            ),
            ("a missing consumer", "durableName: b", "durableName: c"),
        ] {
            assert!(OBJECTS.contains(from), "{defect}");
            let found = check(&OBJECTS.replacen(from, to, 1));
            assert!(!found.is_empty(), "{defect} went unnoticed");
        }
    }
}
