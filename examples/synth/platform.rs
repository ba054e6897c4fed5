//! The generator behind `cargo run --example synth`: a valid service.toml of N services
//! and E environments, the same text for the same seed. Shared with the criterion
//! benchmark (benches/pipeline.rs), which includes this file as a module.

use std::fmt::Write as _;

/// What to generate.
pub struct Options {
    pub services: usize,
    pub environments: usize,
    pub seed: u64,
    pub name: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            services: 10,
            environments: 3,
            seed: 1,
            name: "synth".into(),
        }
    }
}

/// splitmix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent` %.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const DOMAINS: &[&str] = &[
    "orders",
    "billing",
    "payments",
    "inventory",
    "catalog",
    "shipping",
    "accounts",
    "search",
    "pricing",
    "reviews",
    "fleet",
    "trips",
    "ledger",
    "notify",
    "media",
    "reports",
    "identity",
    "routing",
    "telemetry",
    "support",
];
const THINGS: &[&str] = &[
    "items",
    "events",
    "records",
    "profiles",
    "snapshots",
    "audits",
    "quotas",
    "links",
];
const VERBS: &[&str] = &["created", "updated", "deleted", "completed", "failed"];
const RUNTIMES: &[(&str, u16)] = &[
    ("rust", 8080),
    ("go", 8080),
    ("node", 3000),
    ("python", 8000),
    ("java", 8080),
];
const DATASTORES: &[&str] = &["postgres", "postgres", "mysql", "mongodb", "redis"];
const ENV_NAMES: &[&str] = &["dev", "staging", "qa", "perf", "uat", "preprod"];

/// A TOML basic string.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", quoted.join(", "))
}

struct Service {
    name: String,
    runtime: &'static str,
    default_port: u16,
    datastore: Option<&'static str>,
    owns: Vec<String>,
    apis: Vec<String>,
    calls: Vec<usize>,
    publishes: Vec<String>,
    consumes: Vec<String>,
    autoscale: Option<(usize, usize)>,
}

fn environment_names(count: usize) -> Vec<String> {
    let mut names: Vec<String> = (0..count - 1)
        .map(|i| match ENV_NAMES.get(i) {
            Some(n) => (*n).to_string(),
            None => format!("env{i}"),
        })
        .collect();
    names.push("prod".into());
    names
}

/// The service.toml text (`services` and `environments` at least 1).
pub fn generate(opts: &Options) -> String {
    let mut rng = Rng(opts.seed ^ 0x005E_ED0F_B01C_4EAD);
    let n = opts.services;
    let width = n.to_string().len().max(3);
    let envs = environment_names(opts.environments);
    let prod = envs.last().expect("at least one environment").clone();

    // The shape of every service first, so consumers can pick among all topics.
    let mut services: Vec<Service> = (0..n)
        .map(|i| {
            let name = format!("{}-{:0width$}", rng.pick(DOMAINS), i + 1);
            let (runtime, default_port) = *rng.pick(RUNTIMES);
            let datastore = rng.chance(60).then(|| *rng.pick(DATASTORES));
            let snake = name.replace('-', "_");
            let owns = if datastore.is_some() {
                let count = rng.range(1, 3);
                let start = rng.below(THINGS.len());
                (0..count)
                    .map(|k| format!("{snake}_{}", THINGS[(start + k) % THINGS.len()]))
                    .collect()
            } else {
                Vec::new()
            };
            let apis = if rng.chance(70) {
                let mut apis = vec![format!("/{name}")];
                if rng.chance(30) {
                    apis.push(format!("/v2/{name}"));
                }
                apis
            } else {
                Vec::new()
            };
            let mut calls = Vec::new();
            if i > 0 {
                for _ in 0..rng.range(0, 3.min(i)) {
                    let callee = rng.below(i);
                    if !calls.contains(&callee) {
                        calls.push(callee);
                    }
                }
                calls.sort_unstable();
            }
            let publishes = if rng.chance(40) {
                let count = rng.range(1, 2);
                let start = rng.below(VERBS.len());
                (0..count)
                    .map(|k| format!("{name}.{}", VERBS[(start + k) % VERBS.len()]))
                    .collect()
            } else {
                Vec::new()
            };
            let autoscale = rng.chance(30).then(|| {
                let min = rng.range(2, 3);
                (min, min + rng.range(2, 17))
            });
            Service {
                name,
                runtime,
                default_port,
                datastore,
                owns,
                apis,
                calls,
                publishes,
                consumes: Vec::new(),
                autoscale,
            }
        })
        .collect();
    let topics: Vec<(usize, String)> = services
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.publishes.iter().map(move |t| (i, t.clone())))
        .collect();
    if !topics.is_empty() {
        for (i, service) in services.iter_mut().enumerate() {
            if rng.chance(40) {
                for _ in 0..rng.range(1, 3) {
                    let (publisher, topic) = rng.pick(&topics);
                    if *publisher != i && !service.consumes.contains(topic) {
                        service.consumes.push(topic.clone());
                    }
                }
            }
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# A synthetic platform: {n} services, {} environments, seed {}.\n\
         # Generated by `cargo run --example synth`; do not edit.\n",
        envs.len(),
        opts.seed
    );
    let _ = writeln!(out, "[platform]");
    let _ = writeln!(out, "name = {}", q(&opts.name));
    let _ = writeln!(out, "registry = \"registry.example.com/{}\"", opts.name);
    let _ = writeln!(
        out,
        "repository = \"https://git.example.com/{}/platform.git\"",
        opts.name
    );
    let _ = writeln!(out, "domain = \"{}.example.com\"", opts.name);
    out.push('\n');

    for (k, env) in envs.iter().enumerate() {
        let _ = writeln!(out, "[environments.{env}]");
        if *env == prod {
            let _ = writeln!(out, "replicas = {}", rng.range(2, 3));
            let _ = writeln!(out, "auto_sync = false");
        } else if k == 0 {
            let _ = writeln!(out, "replicas = 1");
        }
        out.push('\n');
    }

    for (i, s) in services.iter().enumerate() {
        let _ = writeln!(out, "[services.{}]", s.name);
        if rng.chance(50) {
            let _ = writeln!(
                out,
                "description = {}",
                q(&format!(
                    "The {} service #{}: handles \"{}\" & friends",
                    s.runtime,
                    i + 1,
                    rng.pick(THINGS)
                ))
            );
        }
        let _ = writeln!(out, "runtime = {}", q(s.runtime));
        if rng.chance(20) {
            let _ = writeln!(out, "port = {}", 8000 + rng.below(1000));
        } else if s.default_port != 8080 {
            let _ = writeln!(out, "port = {}", s.default_port);
        }
        if let Some(store) = s.datastore {
            let _ = writeln!(out, "owns = {}", list(&s.owns));
            let _ = writeln!(out, "datastore = {}", q(store));
        }
        if !s.apis.is_empty() {
            let _ = writeln!(out, "apis = {}", list(&s.apis));
        }
        if !s.calls.is_empty() {
            let calls: Vec<String> = s.calls.iter().map(|&c| services[c].name.clone()).collect();
            let _ = writeln!(out, "calls = {}", list(&calls));
        }
        if !s.publishes.is_empty() {
            let _ = writeln!(out, "publishes = {}", list(&s.publishes));
        }
        if !s.consumes.is_empty() {
            let _ = writeln!(out, "consumes = {}", list(&s.consumes));
        }
        if rng.chance(10) {
            let _ = writeln!(
                out,
                "health = {{ liveness = \"/health/live\", readiness = \"/health/ready\" }}"
            );
        }
        if rng.chance(25) {
            let _ = writeln!(
                out,
                "resources = {{ cpu = \"{}m\", memory = \"{}Mi\", memory_limit = \"{}Mi\" }}",
                rng.range(1, 5) * 50,
                rng.range(1, 4) * 128,
                rng.range(5, 8) * 128
            );
        }
        if let Some((min, max)) = s.autoscale {
            let memory = if rng.chance(50) { ", memory = 80" } else { "" };
            let _ = writeln!(
                out,
                "autoscale = {{ min = {min}, max = {max}, cpu = {}{memory} }}",
                rng.range(60, 80)
            );
        }
        let release = rng.below(100);
        if release < 10 {
            let _ = writeln!(
                out,
                "release = {{ strategy = \"canary\", weight = {} }}",
                rng.range(5, 30)
            );
        } else if release < 15 {
            let _ = writeln!(out, "release = {{ strategy = \"blue-green\" }}");
        }
        if !s.calls.is_empty() && rng.chance(30) {
            let _ = writeln!(
                out,
                "resilience = {{ timeout = \"{}s\", retries = {}, consecutive_errors = {}, ejection = \"{}s\" }}",
                rng.range(1, 5),
                rng.range(0, 3),
                rng.range(3, 7),
                rng.range(10, 60)
            );
        }
        if rng.chance(20) {
            let _ = writeln!(
                out,
                "slo = {{ availability = 99.{}, latency_p95_ms = {} }}",
                rng.pick(&["5", "9", "95", "99"]),
                rng.range(1, 10) * 100
            );
        }
        if rng.chance(50) {
            let _ = writeln!(
                out,
                "env = {{ LOG_LEVEL = \"info\", PAGE_SIZE = \"{}\" }}",
                rng.range(1, 10) * 10
            );
        }
        if s.datastore.is_some() && rng.chance(50) {
            let _ = writeln!(out, "secrets = [\"DATABASE_URL\"]");
        }
        out.push('\n');

        // Per-environment overrides for about a quarter of the services.
        if envs.len() > 1 && rng.chance(25) {
            let first = &envs[0];
            let _ = writeln!(out, "[services.{}.environments.{first}]", s.name);
            if s.autoscale.is_some() {
                let _ = writeln!(out, "autoscale = {{ min = 1, max = 2 }}");
            }
            if release < 15 {
                let _ = writeln!(out, "release = {{ strategy = \"rolling\" }}");
            }
            let _ = writeln!(out, "env = {{ LOG_LEVEL = \"debug\" }}");
            out.push('\n');
            let _ = writeln!(out, "[services.{}.environments.{prod}]", s.name);
            if s.autoscale.is_none() {
                let _ = writeln!(out, "replicas = {}", rng.range(3, 5));
            }
            let _ = writeln!(
                out,
                "resources = {{ cpu = \"{}m\", memory = \"{}Mi\", cpu_limit = \"1\", memory_limit = \"1Gi\" }}",
                rng.range(2, 8) * 50,
                rng.range(2, 6) * 128
            );
            out.push('\n');
        }
    }
    out
}
