//! The domain graph: services, the data they own, synchronous calls, events through
//! topics, public routes through the gateway and the hosts outside the cluster services
//! connect to — built here once and drawn as Mermaid (docs/architecture.md) or Graphviz DOT
//! (`bulkhead graph`), so the two cannot drift. Every label is escaped for the format it is
//! written in.

use schemars::JsonSchema;
use serde::Serialize;

use super::Service;
use crate::spec::Datastore;

/// The graph as text in both formats, as blueprints see it (`platform.graph`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Drawings {
    /// A Mermaid `flowchart` (without the Markdown fence).
    pub mermaid: String,
    /// A Graphviz `digraph`.
    pub dot: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// The ingress gateway public routes arrive through.
    Gateway,
    Service,
    /// A service's own database and the data it owns.
    Datastore,
    Topic,
    /// A host outside the cluster a service connects to (`egress`).
    External,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Unique and stable: `gateway`, `svc:<name>`, `db:<service>`, `topic:<name>`,
    /// `ext:<host>`.
    pub key: String,
    pub kind: NodeKind,
    /// Lines of the label, unescaped.
    pub label: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// Gateway → service: the service's public route prefixes.
    Route,
    /// Service → callee: a synchronous call.
    Call,
    /// Service — its datastore.
    Owns,
    /// Service → topic it publishes.
    Publishes,
    /// Topic → service consuming it.
    Consumes,
    /// Service → a host outside the cluster, labelled with the ports.
    Egress,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// Lines of the label (route prefixes, egress ports), unescaped; usually empty.
    pub label: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

fn service_key(name: &str) -> String {
    format!("svc:{name}")
}

fn topic_key(name: &str) -> String {
    format!("topic:{name}")
}

fn external_key(host: &str) -> String {
    format!("ext:{host}")
}

impl Graph {
    /// Nodes and edges in file order: the gateway, then each service followed by its
    /// datastore, then topics in order of first mention (external ones included), then the
    /// hosts outside the cluster in order of first mention.
    pub fn build(name: &str, services: &[Service], external_topics: &[String]) -> Self {
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        if services.iter().any(|s| !s.apis.is_empty()) {
            nodes.push(Node {
                key: "gateway".into(),
                kind: NodeKind::Gateway,
                label: vec!["gateway".into()],
            });
        }
        let mut topics: Vec<String> = Vec::new();
        let mut note_topic = |t: &String| {
            if !topics.contains(t) {
                topics.push(t.clone());
            }
        };
        for s in services {
            let key = service_key(&s.name);
            nodes.push(Node {
                key: key.clone(),
                kind: NodeKind::Service,
                label: vec![s.name.clone()],
            });
            if !s.apis.is_empty() {
                edges.push(Edge {
                    from: "gateway".into(),
                    to: key.clone(),
                    kind: EdgeKind::Route,
                    label: s.apis.clone(),
                });
            }
            if s.datastore != Datastore::None || !s.owns.is_empty() {
                let db = format!("db:{}", s.name);
                let mut label = vec![match s.datastore {
                    Datastore::None => "data (no datastore)".to_string(),
                    kind => kind.to_string(),
                }];
                if !s.owns.is_empty() {
                    label.push(s.owns.join(", "));
                }
                nodes.push(Node {
                    key: db.clone(),
                    kind: NodeKind::Datastore,
                    label,
                });
                edges.push(Edge {
                    from: key.clone(),
                    to: db,
                    kind: EdgeKind::Owns,
                    label: Vec::new(),
                });
            }
            s.publishes.iter().for_each(&mut note_topic);
            s.consumes.iter().for_each(&mut note_topic);
        }
        external_topics.iter().for_each(&mut note_topic);
        for s in services {
            for callee in &s.calls {
                edges.push(Edge {
                    from: service_key(&s.name),
                    to: service_key(callee),
                    kind: EdgeKind::Call,
                    label: Vec::new(),
                });
            }
        }
        for t in &topics {
            let external =
                external_topics.contains(t) && !services.iter().any(|s| s.publishes.contains(t));
            // Each topic is a JetStream stream of the broker (drawn as one group).
            let mut label = vec![
                t.clone(),
                format!("stream {}", super::events::stream_name(t)),
            ];
            if external {
                label.push("(external)".into());
            }
            nodes.push(Node {
                key: topic_key(t),
                kind: NodeKind::Topic,
                label,
            });
            for s in services.iter().filter(|s| s.publishes.contains(t)) {
                edges.push(Edge {
                    from: service_key(&s.name),
                    to: topic_key(t),
                    kind: EdgeKind::Publishes,
                    label: Vec::new(),
                });
            }
            for s in services.iter().filter(|s| s.consumes.contains(t)) {
                edges.push(Edge {
                    from: topic_key(t),
                    to: service_key(&s.name),
                    kind: EdgeKind::Consumes,
                    label: Vec::new(),
                });
            }
        }
        let mut hosts: Vec<&String> = Vec::new();
        for s in services {
            for host in &s.egress.hosts {
                if !hosts.contains(&host) {
                    hosts.push(host);
                    nodes.push(Node {
                        key: external_key(host),
                        kind: NodeKind::External,
                        label: vec![host.clone()],
                    });
                }
                let ports: Vec<String> = s
                    .egress
                    .destinations
                    .iter()
                    .filter(|d| &d.host == host)
                    .map(|d| d.port.to_string())
                    .collect();
                edges.push(Edge {
                    from: service_key(&s.name),
                    to: external_key(host),
                    kind: EdgeKind::Egress,
                    label: vec![ports.join(", ")],
                });
            }
        }
        Self {
            name: name.to_string(),
            nodes,
            edges,
        }
    }

    pub fn drawings(&self) -> Drawings {
        Drawings {
            mermaid: self.mermaid(),
            dot: self.dot(),
        }
    }

    /// Mermaid ids: `gateway`, `svc_<name>`, `db_<service>` (service names are DNS
    /// labels, so `-` → `_` is one-to-one), `topic_<n>` and `ext_<n>` (topic names and host
    /// names may hold `.`, `_` and `-`, so they are numbered instead).
    fn mermaid_ids(&self) -> Vec<String> {
        let mut topic = 0;
        let mut external = 0;
        self.nodes
            .iter()
            .map(|n| match n.kind {
                NodeKind::Gateway => "gateway".to_string(),
                NodeKind::Service | NodeKind::Datastore => {
                    n.key.replacen(':', "_", 1).replace('-', "_")
                }
                NodeKind::Topic => {
                    topic += 1;
                    format!("topic_{topic}")
                }
                NodeKind::External => {
                    external += 1;
                    format!("ext_{external}")
                }
            })
            .collect()
    }

    /// A Mermaid flowchart: calls are solid arrows, events dashed arrows through topic
    /// nodes, public routes thick arrows from the gateway, owned data a plain line to a
    /// cylinder, connections outside the cluster solid arrows labelled with their ports to
    /// a parallelogram.
    pub fn mermaid(&self) -> String {
        let ids = self.mermaid_ids();
        let id_of = |key: &str| -> &str {
            let i = self
                .nodes
                .iter()
                .position(|n| n.key == key)
                .expect("edges join known nodes");
            &ids[i]
        };
        let mut out = String::from("flowchart LR\n");
        // Topics are the broker's streams: drawn inside one group.
        let mut broker = String::new();
        for (node, id) in self.nodes.iter().zip(&ids) {
            let label = mermaid_label(&node.label);
            let shape = match node.kind {
                NodeKind::Gateway => format!("{id}([{label}])"),
                NodeKind::Service => format!("{id}[{label}]"),
                NodeKind::Datastore => format!("{id}[({label})]"),
                NodeKind::Topic => format!("{id}{{{{{label}}}}}"),
                NodeKind::External => format!("{id}[/{label}/]"),
            };
            let class = match node.kind {
                NodeKind::Gateway => "gateway",
                NodeKind::Service => "service",
                NodeKind::Datastore => "datastore",
                NodeKind::Topic => "topic",
                NodeKind::External => "external",
            };
            if node.kind == NodeKind::Topic {
                broker.push_str(&format!("    {shape}:::{class}\n"));
            } else {
                out.push_str(&format!("  {shape}:::{class}\n"));
            }
        }
        if !broker.is_empty() {
            out.push_str(&format!(
                "  subgraph broker[{}]\n{broker}  end\n",
                mermaid_label(&[BROKER_LABEL.to_string()])
            ));
        }
        for e in &self.edges {
            let (from, to) = (id_of(&e.from), id_of(&e.to));
            let arrow = match e.kind {
                EdgeKind::Route => "==>",
                EdgeKind::Call | EdgeKind::Egress => "-->",
                EdgeKind::Owns => "---",
                EdgeKind::Publishes | EdgeKind::Consumes => "-.->",
            };
            if e.label.is_empty() {
                out.push_str(&format!("  {from} {arrow} {to}\n"));
            } else {
                out.push_str(&format!(
                    "  {from} {arrow}|{}| {to}\n",
                    mermaid_label(&e.label)
                ));
            }
        }
        out.push_str(concat!(
            "  classDef gateway fill:#eef,stroke:#446\n",
            "  classDef service fill:#fff,stroke:#333,stroke-width:2px\n",
            "  classDef datastore fill:#efe,stroke:#464\n",
            "  classDef topic fill:#ffe,stroke:#864,stroke-dasharray:4 3\n",
            "  classDef external fill:#fef,stroke:#646,stroke-dasharray:2 2\n",
        ));
        out
    }

    /// A Graphviz digraph with the same nodes and edges: calls solid, events dashed,
    /// routes bold, owned data dotted and undirected, connections outside the cluster solid
    /// and labelled with their ports.
    pub fn dot(&self) -> String {
        let mut out = format!(
            "digraph {} {{\n  graph [rankdir=LR, fontname=\"Helvetica\", label={}, labelloc=t];\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
            dot_string(&self.name),
            dot_label(&[format!("{} — domain graph", self.name)]),
        );
        let mut broker = String::new();
        for n in &self.nodes {
            let attrs = match n.kind {
                NodeKind::Gateway => "shape=oval, style=filled, fillcolor=\"#eeeeff\"",
                NodeKind::Service => "shape=box, style=\"rounded,bold\"",
                NodeKind::Datastore => "shape=cylinder, style=filled, fillcolor=\"#eeffee\"",
                NodeKind::Topic => "shape=hexagon, style=\"filled,dashed\", fillcolor=\"#ffffee\"",
                NodeKind::External => {
                    "shape=parallelogram, style=\"filled,dashed\", fillcolor=\"#ffeeff\""
                }
            };
            let line = format!(
                "  {} [{attrs}, label={}];\n",
                dot_string(&n.key),
                dot_label(&n.label)
            );
            if n.kind == NodeKind::Topic {
                broker.push_str(&format!("  {line}"));
            } else {
                out.push_str(&line);
            }
        }
        if !broker.is_empty() {
            out.push_str(&format!(
                "  subgraph \"cluster_broker\" {{\n    label={};\n    style=dashed;\n{broker}  }}\n",
                dot_label(&[BROKER_LABEL.to_string()])
            ));
        }
        for e in &self.edges {
            let attrs = match e.kind {
                EdgeKind::Route => "style=bold",
                EdgeKind::Call | EdgeKind::Egress => "style=solid",
                EdgeKind::Owns => "style=dotted, dir=none",
                EdgeKind::Publishes | EdgeKind::Consumes => "style=dashed",
            };
            let label = if e.label.is_empty() {
                String::new()
            } else {
                format!(", label={}", dot_label(&e.label))
            };
            out.push_str(&format!(
                "  {} -> {} [{attrs}{label}];\n",
                dot_string(&e.from),
                dot_string(&e.to)
            ));
        }
        out.push_str("}\n");
        out
    }
}

/// The group the topics are drawn in.
const BROKER_LABEL: &str = "event broker: NATS JetStream";

/// The services that reach `name` through calls, directly or transitively, in file order
/// (`name` itself excluded, even in a cycle). Uses the derived `callers`.
pub fn dependents(services: &[Service], name: &str) -> Vec<String> {
    let index: std::collections::HashMap<&str, usize> = services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut seen = vec![false; services.len()];
    let mut queue = vec![name];
    while let Some(current) = queue.pop() {
        let Some(&i) = index.get(current) else {
            continue;
        };
        for caller in &services[i].callers {
            if let Some(&j) = index.get(caller.as_str())
                && !seen[j]
            {
                seen[j] = true;
                queue.push(caller);
            }
        }
    }
    services
        .iter()
        .zip(seen)
        .filter(|(s, seen)| *seen && s.name != name)
        .map(|(s, _)| s.name.clone())
        .collect()
}

/// A quoted Mermaid label: lines joined by `<br/>`, and every character that is not
/// plainly inert written as a Mermaid entity code (`#35;`), so no label can close its
/// quotes, its shape or the Markdown fence around the diagram.
pub fn mermaid_label(lines: &[String]) -> String {
    let mut out = String::from("\"");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("<br/>");
        }
        for c in line.chars() {
            if c.is_ascii_alphanumeric() || " .,:/_-".contains(c) {
                out.push(c);
            } else {
                out.push_str(&format!("#{};", c as u32));
            }
        }
    }
    out.push('"');
    out
}

/// A DOT quoted string (ids and plain attribute values).
pub fn dot_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A DOT label: lines joined with `\n`. In labels a backslash starts an escape
/// (`\N`, `\G`, `\l`), so a literal one is doubled.
pub fn dot_label(lines: &[String]) -> String {
    let joined: Vec<String> = lines
        .iter()
        .map(|l| {
            let q = dot_string(l);
            q[1..q.len() - 1].to_string()
        })
        .collect();
    format!("\"{}\"", joined.join("\\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_labels_cannot_break_out() {
        let l = mermaid_label(&["a\"]) --> x".into(), "```".into()]);
        assert_eq!(l, "\"a#34;#93;#41; --#62; x<br/>#96;#96;#96;\"");
    }

    #[test]
    fn dot_strings_are_escaped() {
        assert_eq!(dot_string("a\"b\\c\nd"), "\"a\\\"b\\\\c d\"");
        assert_eq!(dot_label(&["x".into(), "y\"".into()]), "\"x\\ny\\\"\"");
    }
}
