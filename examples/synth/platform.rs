//! The generator behind `cargo run --example synth`: a valid service.toml of N services
//! and E environments, the same text for the same seed. Shared with the criterion
//! benchmark (benches/pipeline.rs) and the tests, which include this file as a module.
//! Two shapes: the benchmark's typical mix (the default, whose output must not change:
//! scripts/bench and benches/results.md depend on it), and an every-key platform that
//! writes every key service.toml knows with varied values, for equivalence tests.

use std::fmt::Write as _;

/// What to generate.
pub struct Options {
    pub services: usize,
    pub environments: usize,
    pub seed: u64,
    pub name: String,
    /// Write every key service.toml knows, with varied values, instead of the typical mix
    /// (at least `EVERY_KEY_MIN_SERVICES` services and `EVERY_KEY_MIN_ENVIRONMENTS`
    /// environments). `platform.blueprints` then names `blueprints`, a folder next to
    /// service.toml that the caller creates (empty is fine).
    pub every_key: bool,
    /// Every-key platforms only. A file holds one value of each platform-wide key, so two
    /// files cover both: `mesh = "istio"`, `deploy = "helm"`, `ci = "github-actions"` and a
    /// domain (every key); or `mesh = "none"`, `deploy = "kustomize"`, `ci = "none"` and no
    /// domain, public hosts only where an environment names one (every key but
    /// `platform.domain`).
    pub mesh: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            services: 10,
            environments: 3,
            seed: 1,
            name: "synth".into(),
            every_key: false,
            mesh: true,
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
    if opts.every_key {
        return every_key(opts);
    }
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
    // Every service has a role, as `bulkhead validate` asks: one nothing calls and that
    // owns, serves and hears nothing serves its own route instead.
    let called: Vec<usize> = services.iter().flat_map(|s| s.calls.clone()).collect();
    for (i, s) in services.iter_mut().enumerate() {
        let idle = s.owns.is_empty()
            && s.apis.is_empty()
            && s.calls.is_empty()
            && s.publishes.is_empty()
            && s.consumes.is_empty()
            && !called.contains(&i);
        if idle {
            s.apis.push(format!("/{}", s.name));
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

/// The smallest every-key platform: no list of choices below is longer than this, so
/// each choice lands on at least one service.
pub const EVERY_KEY_MIN_SERVICES: usize = 8;
/// A first, a middle and a last (production) environment for the overrides.
pub const EVERY_KEY_MIN_ENVIRONMENTS: usize = 3;

/// Every datastore kind, `"none"` written out, and no `datastore` key at all.
const EVERY_DATASTORE: &[Option<&str>] = &[
    Some("postgres"),
    Some("mysql"),
    Some("mongodb"),
    Some("redis"),
    Some("none"),
    None,
];

/// One service's `[services.<name>.environments.<env>]` lines for the first, a middle and
/// the last (production) environment.
#[derive(Default)]
struct Overrides {
    first: Vec<String>,
    middle: Vec<String>,
    prod: Vec<String>,
}

/// A small platform that writes every key service.toml knows (`Options::every_key`).
/// Service `i` takes choice `(i + shift) % choices` of each feature, with a shift per
/// feature from the seed: every seed gives every choice to some service, in a different
/// combination. The numbers within a choice come from the seed too.
fn every_key(opts: &Options) -> String {
    assert!(
        opts.services >= EVERY_KEY_MIN_SERVICES && opts.environments >= EVERY_KEY_MIN_ENVIRONMENTS,
        "an every-key platform needs at least {EVERY_KEY_MIN_SERVICES} services and \
         {EVERY_KEY_MIN_ENVIRONMENTS} environments"
    );
    let mut rng = Rng(opts.seed ^ 0x00E7_E4EE_C0DE_5EED);
    let n = opts.services;
    let width = n.to_string().len().max(3);
    let platform = &opts.name;
    let envs = environment_names(opts.environments);
    let (first, middle, prod) = (&envs[0], &envs[1], &envs[envs.len() - 1]);
    let shifts: [usize; 17] = std::array::from_fn(|_| rng.below(97));
    let choice = |feature: usize, i: usize, choices: usize| (i + shifts[feature]) % choices;
    // `egress` came later: its shift is not drawn from `rng`, so that adding it left every
    // other value of a seed as it was.
    let egress_shift = usize::try_from(opts.seed % 97).unwrap_or(0);

    let names: Vec<String> = (0..n)
        .map(|i| format!("{}-{:0width$}", rng.pick(DOMAINS), i + 1))
        .collect();
    let external = [
        format!("partner.{}.v1", rng.pick(THINGS)),
        "legacy.billing-events".to_string(),
    ];
    let publishes: Vec<Vec<String>> = (0..n)
        .map(|i| {
            if choice(0, i, 2) == 0 {
                let start = rng.below(VERBS.len());
                (0..rng.range(1, 2))
                    .map(|k| format!("{}.{}", names[i], VERBS[(start + k) % VERBS.len()]))
                    .collect()
            } else {
                Vec::new()
            }
        })
        .collect();
    let topics: Vec<(usize, &String)> = publishes
        .iter()
        .enumerate()
        .flat_map(|(i, ts)| ts.iter().map(move |t| (i, t)))
        .collect();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# A synthetic platform that writes every key of service.toml: {n} services, {} \
         environments, seed {}, {}.\n\
         # Generated by `cargo run --example synth -- --every-key`; do not edit. The folder \
         blueprints/\n# must exist next to this file (it may be empty).\n",
        envs.len(),
        opts.seed,
        if opts.mesh { "Istio" } else { "no mesh" }
    );
    let _ = writeln!(out, "[platform]");
    let _ = writeln!(out, "name = {}", q(platform));
    let _ = writeln!(out, "registry = \"registry.example.com/{platform}\"");
    if opts.mesh {
        let _ = writeln!(
            out,
            "repository = \"https://git.example.com/{platform}/platform.git\""
        );
        let _ = writeln!(out, "revision = \"release-{}\"", rng.range(1, 9));
        let _ = writeln!(out, "domain = \"{platform}.example.com\"");
        let _ = writeln!(out, "mesh = \"istio\"");
        let _ = writeln!(out, "deploy = \"helm\"");
        let _ = writeln!(out, "ci = \"github-actions\"");
        // A gateway installed with Istio's `istio/gateway` chart, release `edge`.
        let _ = writeln!(
            out,
            "gateway = {{ namespace = \"edge\", labels = {{ istio = \"edge\", \"app.kubernetes.io/name\" = \"edge\" }}, service_account = \"edge\" }}"
        );
        // cert-manager issues every environment's certificate into `edge`.
        let _ = writeln!(
            out,
            "tls = {{ mode = \"cert-manager\", issuer = \"letsencrypt\", issuer_kind = \"ClusterIssuer\" }}"
        );
    } else {
        let _ = writeln!(
            out,
            "repository = \"git@git.example.com:{platform}/platform.git\""
        );
        let _ = writeln!(out, "revision = \"v1.{}.0\"", rng.range(0, 9));
        let _ = writeln!(out, "mesh = \"none\"");
        let _ = writeln!(out, "deploy = \"kustomize\"");
        let _ = writeln!(out, "ci = \"none\"");
        let _ = writeln!(
            out,
            "gateway = {{ namespace = \"nginx\", labels = {{ \"app.kubernetes.io/instance\" = \"public\" }} }}"
        );
        // An Issuer of its own in each environment's namespace, where the Ingresses read.
        let _ = writeln!(
            out,
            "tls = {{ mode = \"cert-manager\", issuer = \"{platform}-ca\", issuer_kind = \"Issuer\" }}"
        );
    }
    let _ = writeln!(out, "blueprints = \"blueprints\"");
    let _ = writeln!(out, "external_topics = {}", list(&external));
    out.push('\n');
    // Free-form: one value of every TOML type, and a nested table.
    let _ = writeln!(out, "[platform.vars]");
    let _ = writeln!(out, "team = \"{platform}-team\"");
    let _ = writeln!(out, "chat = \"#{platform}-oncall\"");
    let _ = writeln!(out, "pages = {}", rng.range(1, 5));
    let _ = writeln!(out, "ratio = 0.{}", rng.range(1, 9));
    let _ = writeln!(out, "paging = {}", rng.chance(50));
    let _ = writeln!(out, "regions = [\"eu-west-1\", \"us-east-1\"]");
    let _ = writeln!(out, "since = 2024-0{}-01", rng.range(1, 9));
    out.push('\n');
    let _ = writeln!(out, "[platform.vars.oncall]");
    let _ = writeln!(out, "rotation = \"primary\"");
    let _ = writeln!(out, "page_after = \"{}m\"", rng.range(1, 30));
    out.push('\n');

    for (k, env) in envs.iter().enumerate() {
        let _ = writeln!(out, "[environments.{env}]");
        if k == 0 {
            let _ = writeln!(out, "namespace = \"{platform}-development\"");
            let _ = writeln!(out, "host = \"{env}.{platform}.example.net\"");
            let _ = writeln!(out, "replicas = 1");
            let _ = writeln!(out, "auto_sync = true");
        } else if env == prod {
            let _ = writeln!(out, "cluster = \"https://{env}.k8s.example.com:6443\"");
            // With the mesh, the domain itself is production's host.
            if !opts.mesh {
                let _ = writeln!(out, "host = \"www.{platform}.example.org\"");
            }
            let _ = writeln!(out, "replicas = {}", rng.range(2, 3));
            let _ = writeln!(out, "auto_sync = false");
            let _ = writeln!(out, "tls_secret = \"{platform}-{env}-tls\"");
        } else if k == 1 {
            // No host: `{env}.{domain}` with the mesh's domain, none without.
            let _ = writeln!(out, "cluster = \"https://{env}.k8s.example.com\"");
            let _ = writeln!(out, "tls_secret = \"{platform}-{env}-cert\"");
        }
        out.push('\n');
    }

    let mut external_next = 0;
    for (i, svc) in names.iter().enumerate() {
        let (runtime, default_port) = RUNTIMES[choice(1, i, RUNTIMES.len())];
        let datastore = EVERY_DATASTORE[choice(2, i, EVERY_DATASTORE.len())];
        let mut over = Overrides::default();
        let _ = writeln!(out, "[services.{svc}]");
        match choice(3, i, 3) {
            0 => {}
            1 => {
                let _ = writeln!(out, "description = \"The {runtime} service {svc}\"");
            }
            _ => {
                let text = format!(
                    "{runtime} #{}: \"{}\" & friends: 100% — naïve {{ok}}",
                    i + 1,
                    rng.pick(THINGS)
                );
                let _ = writeln!(out, "description = {}", q(&text));
            }
        }
        let _ = writeln!(out, "runtime = {}", q(runtime));
        match choice(4, i, 4) {
            0 => {}
            1 => {
                let port = if default_port == 8080 {
                    9090
                } else {
                    default_port
                };
                let _ = writeln!(out, "port = {port}");
            }
            2 => {
                let _ = writeln!(out, "port = {}", 8000 + rng.below(1000));
            }
            _ => {
                let _ = writeln!(out, "port = 8080");
            }
        }
        if let Some(store) = datastore {
            if store != "none" {
                let snake = svc.replace('-', "_");
                let start = rng.below(THINGS.len());
                let owns: Vec<String> = (0..rng.range(1, 2))
                    .map(|k| format!("{snake}_{}", THINGS[(start + k) % THINGS.len()]))
                    .collect();
                let _ = writeln!(out, "owns = {}", list(&owns));
            }
            let _ = writeln!(out, "datastore = {}", q(store));
        }
        let apis = match choice(5, i, 4) {
            0 => Vec::new(),
            1 => vec![format!("/{svc}")],
            2 => vec![format!("/{svc}"), format!("/v2/{svc}/")],
            _ => vec![format!("/{svc}/"), format!("/public/{svc}")],
        };
        if !apis.is_empty() {
            let _ = writeln!(out, "apis = {}", list(&apis));
        }
        // Only lower-numbered services: calls never form a cycle.
        let mut calls: Vec<&String> = Vec::new();
        if i > 0 {
            for _ in 0..choice(6, i, 3).min(i) {
                let callee = &names[rng.below(i)];
                if !calls.contains(&callee) {
                    calls.push(callee);
                }
            }
        }
        if !calls.is_empty() {
            let calls: Vec<String> = calls.into_iter().cloned().collect();
            let _ = writeln!(out, "calls = {}", list(&calls));
        }
        match (i + egress_shift) % 3 {
            0 => {}
            1 => {
                let _ = writeln!(out, "egress = [\"smtp.{platform}.example.net:587\"]");
            }
            _ => {
                // TLS and plain TCP, two hosts on one port.
                let _ = writeln!(
                    out,
                    "egress = [\"api.{svc}.example.com:443\", \"smtp.{platform}.example.net:587\", \"mx2.{platform}.example.net:587\"]"
                );
            }
        }
        if !publishes[i].is_empty() {
            let _ = writeln!(out, "publishes = {}", list(&publishes[i]));
        }
        let mut consumes: Vec<String> = Vec::new();
        let others: Vec<&String> = topics
            .iter()
            .filter(|(publisher, _)| *publisher != i)
            .map(|(_, t)| *t)
            .collect();
        let wanted = choice(7, i, 3);
        if wanted > 0 && !others.is_empty() {
            for _ in 0..rng.range(1, 2) {
                let topic = (*rng.pick(&others)).clone();
                if !consumes.contains(&topic) {
                    consumes.push(topic);
                }
            }
        }
        if wanted == 2 {
            consumes.push(external[external_next % external.len()].clone());
            external_next += 1;
        }
        if !consumes.is_empty() {
            let _ = writeln!(out, "consumes = {}", list(&consumes));
        }
        match choice(8, i, 4) {
            0 => {}
            1 => {
                let _ = writeln!(
                    out,
                    "health = {{ liveness = \"/health/live\", readiness = \"/health/ready\" }}"
                );
            }
            2 => {
                let _ = writeln!(out, "health = {{ liveness = \"/live\" }}");
            }
            _ => {
                let _ = writeln!(out, "health = {{ readiness = \"/ready\" }}");
            }
        }
        // Every limit stays at least its request once merged over the service's values
        // and the defaults (cpu 100m, memory 128Mi, memory limit 256Mi).
        match choice(9, i, 5) {
            0 => over.prod.push(format!(
                "resources = {{ cpu = \"{}m\", memory = \"{}Mi\", cpu_limit = \"1\", memory_limit = \"1Gi\" }}",
                rng.range(2, 8) * 50,
                rng.range(2, 6) * 128
            )),
            1 => {
                let _ = writeln!(
                    out,
                    "resources = {{ cpu = \"{}m\", memory = \"{}Mi\" }}",
                    rng.range(1, 3) * 25,
                    rng.range(1, 3) * 32
                );
                over.first
                    .push("resources = { cpu = \"10m\", memory = \"16Mi\" }".to_string());
            }
            2 => {
                let _ = writeln!(
                    out,
                    "resources = {{ cpu = \"{}m\", memory = \"{}Mi\", cpu_limit = \"500m\", memory_limit = \"512Mi\" }}",
                    rng.range(2, 4) * 50,
                    rng.range(1, 2) * 128
                );
                over.first.push(
                    "resources = { cpu_limit = \"250m\", memory_limit = \"384Mi\" }".to_string(),
                );
            }
            3 => {
                let _ = writeln!(
                    out,
                    "resources = {{ cpu = \"0.5\", memory_limit = \"1Gi\" }}"
                );
            }
            _ => {
                let _ = writeln!(out, "resources = {{ cpu_limit = \"2\" }}");
                over.middle
                    .push(format!("resources = {{ memory = \"{}Mi\" }}", rng.range(3, 8) * 25));
            }
        }
        // A consumer may also scale on its backlog (pending messages per replica).
        let backlog = if consumes.is_empty() {
            String::new()
        } else {
            format!(", backlog = {}", rng.range(1, 20) * 10)
        };
        // Production keeps at least 2 replicas: `autoscale.min` there is 2 or more.
        match choice(10, i, 5) {
            0 => {}
            1 => {
                let _ = writeln!(
                    out,
                    "autoscale = {{ min = 2, max = {}, cpu = {}{backlog} }}",
                    rng.range(4, 10),
                    rng.range(50, 80)
                );
                // A consumer here reacts to a smaller backlog.
                let backlog = if backlog.is_empty() {
                    ""
                } else {
                    ", backlog = 5"
                };
                over.first
                    .push(format!("autoscale = {{ min = 1, max = 2{backlog} }}"));
            }
            2 => {
                let _ = writeln!(
                    out,
                    "autoscale = {{ min = 2, max = {}, memory = {} }}",
                    rng.range(4, 10),
                    rng.range(60, 85)
                );
                over.prod.push("autoscale = { min = 3 }".to_string());
            }
            3 => {
                let _ = writeln!(
                    out,
                    "autoscale = {{ min = 3, max = {}, cpu = {}, memory = {}{backlog} }}",
                    rng.range(6, 12),
                    rng.range(50, 80),
                    rng.range(60, 90)
                );
                let backlog = if backlog.is_empty() {
                    ""
                } else {
                    ", backlog = 40"
                };
                over.middle.push(format!(
                    "autoscale = {{ cpu = {}{backlog} }}",
                    rng.range(40, 60)
                ));
            }
            _ => over.prod.push(format!(
                "autoscale = {{ min = 2, max = {}, cpu = {}, memory = {} }}",
                rng.range(3, 8),
                rng.range(50, 80),
                rng.range(60, 90)
            )),
        }
        let canary = |rng: &mut Rng| {
            format!(
                "release = {{ strategy = \"canary\", weight = {} }}",
                rng.range(5, 50)
            )
        };
        let rolling = "release = { strategy = \"rolling\" }".to_string();
        let blue_green = "release = { strategy = \"blue-green\" }".to_string();
        match choice(11, i, 6) {
            // Each release plan starts, changes or keeps its strategy per environment.
            0 => over.middle.push(format!(
                "release = {{ strategy = \"canary\", steps = [{{ weight = {} }}, {{ pause = \"90s\" }}, {{ analysis = true }}, {{ weight = 100 }}] }}",
                rng.range(1, 50)
            )),
            1 => {
                let _ = writeln!(out, "{rolling}");
                over.prod.push(blue_green);
            }
            2 => {
                let _ = writeln!(out, "{}", canary(&mut rng));
                over.first.push(rolling);
                over.prod
                    .push(format!("release = {{ weight = {} }}", rng.range(1, 99)));
            }
            3 => {
                let _ = writeln!(out, "{blue_green}");
                over.first.push(rolling);
                over.middle.push(canary(&mut rng));
            }
            4 => {
                // Declared steps: weights that only grow, a last weight below 100.
                let first = rng.range(5, 30);
                let _ = writeln!(
                    out,
                    "release = {{ strategy = \"canary\", weight = {first}, steps = [{{ weight = {first} }}, {{ pause = \"{}s\" }}, {{ analysis = true }}, {{ weight = {} }}, {{ pause = \"{}m\" }}, {{ analysis = true }}] }}",
                    rng.range(10, 90),
                    rng.range(first, 90),
                    rng.range(1, 20)
                );
            }
            _ => {
                let _ = writeln!(out, "{blue_green}");
            }
        }
        match choice(12, i, 5) {
            0 => {}
            1 => {
                let _ = writeln!(
                    out,
                    "resilience = {{ timeout = \"{}ms\", retries = 0, consecutive_errors = {}, ejection = \"{}s\", max_connections = {} }}",
                    rng.range(1, 18) * 50,
                    rng.range(2, 6),
                    rng.range(10, 90),
                    rng.range(1, 64) * 16
                );
            }
            2 => {
                let _ = writeln!(
                    out,
                    "resilience = {{ timeout = \"{}s\", retries = {}, idempotent = true }}",
                    rng.range(1, 5),
                    rng.range(1, 4)
                );
            }
            3 => {
                let _ = writeln!(
                    out,
                    "resilience = {{ timeout = \"1500ms\", consecutive_errors = {}, ejection = \"2m\" }}",
                    rng.range(3, 9)
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "resilience = {{ retries = 0, max_connections = {} }}",
                    rng.range(1, 8) * 100
                );
            }
        }
        match choice(13, i, 5) {
            0 => {}
            1 => {
                let _ = writeln!(
                    out,
                    "slo = {{ availability = 99.{}, latency_p95_ms = {} }}",
                    rng.pick(&["5", "9", "95", "99"]),
                    rng.range(1, 10) * 50
                );
            }
            2 => {
                let _ = writeln!(
                    out,
                    "slo = {{ availability = 99, latency_p95_ms = {} }}",
                    rng.range(1, 4) * 1000
                );
            }
            3 => {
                let _ = writeln!(out, "slo = {{ availability = 99.5 }}");
            }
            _ => {
                let _ = writeln!(out, "slo = {{ latency_p95_ms = {} }}", rng.range(1, 9) * 25);
            }
        }
        match choice(14, i, 4) {
            0 => {}
            1 => {
                let _ = writeln!(
                    out,
                    "env = {{ LOG_LEVEL = \"info\", PAGE_SIZE = \"{}\" }}",
                    rng.range(1, 10) * 10
                );
                over.first
                    .push("env = { LOG_LEVEL = \"debug\" }".to_string());
            }
            2 => {
                // Values YAML would read as other types unless quoted.
                let _ = writeln!(
                    out,
                    "env = {{ ENABLED = \"true\", RATIO = \"0.{}\", EMPTY = \"\", LIST = \"a, b\" }}",
                    rng.range(1, 9)
                );
                over.prod
                    .push("env = { RATIO = \"1.0\", REGION = \"eu-west-1\" }".to_string());
            }
            _ => over.middle.push("env = { FEATURE = \"beta\" }".to_string()),
        }
        match choice(15, i, 3) {
            0 => {}
            1 => {
                let _ = writeln!(out, "secrets = [\"DATABASE_URL\"]");
            }
            _ => {
                let _ = writeln!(out, "secrets = [\"API_TOKEN\", \"SIGNING_KEY\"]");
            }
        }
        match choice(16, i, 3) {
            0 => {}
            1 => {
                over.first.push("replicas = 2".to_string());
                over.prod.push(format!("replicas = {}", rng.range(3, 5)));
            }
            _ => over.middle.push("replicas = 1".to_string()),
        }
        out.push('\n');
        for (env, lines) in [
            (first, &over.first),
            (middle, &over.middle),
            (prod, &over.prod),
        ] {
            if !lines.is_empty() {
                let _ = writeln!(out, "[services.{svc}.environments.{env}]");
                for line in lines {
                    let _ = writeln!(out, "{line}");
                }
                out.push('\n');
            }
        }
    }
    out
}
