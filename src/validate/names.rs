//! Rule 3: names that become Kubernetes names, paths or URLs are well-formed, and none can
//! escape the output folder.

use crate::diagnostic::Diagnostic;
use crate::model::{default_namespace, default_tls_secret, store_name};
use crate::spec::defaults::{
    self, HOST_MAX, LABEL_MAX, PLATFORM_NAME_MAX, SERVICE_NAME_MAX, STATEFULSET_NAME_MAX, TOPIC_MAX,
};
use crate::spec::{Datastore, Spanned, Spec};

/// Why `name` is not a DNS-1123 label, if it is not.
pub fn dns_label_problem(name: &str, max: usize) -> Option<String> {
    if name.is_empty() {
        return Some("a name cannot be empty".into());
    }
    if name.contains('/') || name.contains('\\') || name.contains("..") {
        return Some("a name cannot contain path separators or `..`".into());
    }
    if name.len() > max {
        return Some(format!(
            "is {} characters long; at most {max} are allowed",
            name.len()
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some("only lowercase letters, digits and `-` are allowed".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("must start with a lowercase letter".into());
    }
    if name.ends_with('-') {
        return Some("must not end with `-`".into());
    }
    None
}

fn check_label(out: &mut Vec<Diagnostic>, what: &str, name: &Spanned<String>, max: usize) {
    if let Some(problem) = dns_label_problem(&name.value, max) {
        out.push(
            Diagnostic::error(
                name.span.clone(),
                format!("{what} `{}` is not a valid DNS-1123 label", name.value),
            )
            .label(problem)
            .help("use lowercase letters, digits and `-`, starting with a letter, e.g. `trip-management`"),
        );
    }
}

/// A Kubernetes label name or value part: alphanumerics at both ends, `-`, `_` and `.`
/// between, at most 63 characters.
fn label_part(s: &str) -> bool {
    s.len() <= LABEL_MAX
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A label key: `name` or `prefix/name`, the prefix a lowercase DNS subdomain.
fn label_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => dns_name(prefix) && label_part(name),
        None => label_part(s),
    }
}

/// `[platform] gateway`: a namespace and a ServiceAccount that Kubernetes accepts, and
/// labels that can select pods (at least one: an empty selector picks every pod).
fn gateway(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let Some(g) = &spec.platform.gateway else {
        return;
    };
    if let Some(ns) = &g.namespace {
        check_label(out, "gateway namespace", ns, LABEL_MAX);
    }
    if let Some(sa) = &g.service_account {
        check_label(out, "gateway service account", sa, LABEL_MAX);
    }
    let labels = g.labels.as_deref().unwrap_or_default();
    for (key, value) in labels {
        if !label_key(&key.value) {
            out.push(
                Diagnostic::error(key.span.clone(), format!("`{}` is not a Kubernetes label key", key.value))
                    .label("not a label key")
                    .help("a name of at most 63 letters, digits, `-`, `_` and `.`, optionally after a DNS prefix and `/`, e.g. `app.kubernetes.io/name`"),
            );
        }
        if !value.value.is_empty() && !label_part(&value.value) {
            out.push(
                Diagnostic::error(value.span.clone(), format!("`{}` is not a Kubernetes label value", value.value))
                    .label("not a label value")
                    .help("at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"),
            );
        }
    }
    if g.labels.as_ref().is_some_and(Vec::is_empty) {
        out.push(
            Diagnostic::error(g.span.clone(), "`gateway.labels` is empty: it would select every pod")
                .help("name the labels of the gateway's pods, e.g. `labels = { istio = \"ingressgateway\" }`"),
        );
    }
}

pub fn names_are_dns_labels(spec: &Spec, out: &mut Vec<Diagnostic>) {
    gateway(spec, out);
    let platform = spec.platform.name.as_ref();
    if let Some(name) = platform {
        check_label(out, "platform name", name, PLATFORM_NAME_MAX);
    }
    let platform_name = platform.map_or("", |p| p.value.as_str());
    for env in &spec.environments {
        check_label(out, "environment name", &env.name, LABEL_MAX);
        match &env.namespace {
            Some(ns) => check_label(out, "namespace", ns, LABEL_MAX),
            None => {
                let len = default_namespace(platform_name, &env.name.value).len();
                if len > LABEL_MAX && dns_label_problem(&env.name.value, LABEL_MAX).is_none() {
                    out.push(
                        Diagnostic::error(
                            env.name.span.clone(),
                            format!("the default namespace of environment `{}` would be {len} characters long", env.name.value),
                        )
                        .label(format!("`{}` must fit in {LABEL_MAX} characters", default_namespace("{platform}", "{env}")))
                        .help("shorten the name or set `namespace` explicitly"),
                    );
                }
            }
        }
        match &env.tls_secret {
            Some(tls) => check_label(out, "TLS secret name", tls, LABEL_MAX),
            None => {
                let len = default_tls_secret(platform_name, &env.name.value).len();
                if len > LABEL_MAX && dns_label_problem(&env.name.value, LABEL_MAX).is_none() {
                    out.push(
                        Diagnostic::error(
                            env.name.span.clone(),
                            format!("the default TLS secret of environment `{}` would be {len} characters long", env.name.value),
                        )
                        .label(format!("`{}` must fit in {LABEL_MAX} characters", default_tls_secret("{platform}", "{env}")))
                        .help("shorten the name or set `tls_secret` explicitly"),
                    );
                }
            }
        }
        if let Some(host) = &env.host {
            check_hostname(out, host);
        }
        if let Some(cluster) = &env.cluster {
            check_url(out, "cluster", cluster, &["https://", "http://"]);
        }
    }
    let mut namespaces: Vec<(String, &str)> = Vec::new();
    for env in &spec.environments {
        let (ns, span) = match &env.namespace {
            Some(ns) => (ns.value.clone(), ns.span.clone()),
            None => (
                default_namespace(platform_name, &env.name.value),
                env.name.span.clone(),
            ),
        };
        if let Some((_, first)) = namespaces.iter().find(|(n, _)| *n == ns) {
            out.push(
                Diagnostic::error(
                    span,
                    format!(
                        "environments {first} and {} share the namespace `{ns}`",
                        env.name.value
                    ),
                )
                .label("namespace already used")
                .help("each environment needs its own namespace"),
            );
        } else {
            namespaces.push((ns, &env.name.value));
        }
    }
    if let Some(domain) = &spec.platform.domain {
        check_hostname(out, domain);
    }
    let stores: Vec<(String, &str)> = spec
        .services
        .iter()
        .filter_map(|s| {
            let ds = s
                .datastore
                .as_ref()
                .filter(|d| d.value != Datastore::None)?;
            Some((store_name(&s.name.value, ds.value), s.name.value.as_str()))
        })
        .collect();
    for svc in &spec.services {
        if let Some((store, owner)) = stores.iter().find(|(store, _)| *store == svc.name.value) {
            out.push(
                Diagnostic::error(
                    svc.name.span.clone(),
                    format!(
                        "service `{}` has the name of {owner}'s datastore",
                        svc.name.value
                    ),
                )
                .label(format!(
                    "`{store}` already names {owner}'s database objects"
                ))
                .help("rename the service"),
            );
        }
        if platform.is_some_and(|p| p.value == svc.name.value) {
            out.push(
                Diagnostic::error(
                    svc.name.span.clone(),
                    format!("service `{}` has the platform's name", svc.name.value),
                )
                .label("the platform's Argo CD applications already use this name")
                .help("rename the service"),
            );
        }
        check_label(out, "service name", &svc.name, SERVICE_NAME_MAX);
        if let Some(ds) = &svc.datastore
            && ds.value != Datastore::None
        {
            let store = store_name(&svc.name.value, ds.value);
            if store.len() > STATEFULSET_NAME_MAX && svc.name.value.len() <= SERVICE_NAME_MAX {
                out.push(
                    Diagnostic::error(
                        svc.name.span.clone(),
                        format!("the datastore name `{store}` is too long for a StatefulSet"),
                    )
                    .label(format!(
                        "`{}` must fit in {STATEFULSET_NAME_MAX} characters",
                        store_name("{service}", ds.value)
                    ))
                    .help("shorten the service name"),
                );
            }
        }
    }
}

/// Lowercase DNS labels separated by dots, at most `HOST_MAX` characters in all.
pub(super) fn dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= HOST_MAX
        && s.split('.')
            .all(|l| dns_label_problem(l, LABEL_MAX).is_none() || is_digit_label(l))
}

fn check_hostname(out: &mut Vec<Diagnostic>, host: &Spanned<String>) {
    if !dns_name(&host.value) {
        out.push(
            Diagnostic::error(
                host.span.clone(),
                format!("`{}` is not a valid host name", host.value),
            )
            .label("expected lowercase DNS labels separated by dots")
            .help("e.g. `fleet.example.com`, without scheme, port or path"),
        );
    }
}

fn is_digit_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= LABEL_MAX
        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l == l.to_ascii_lowercase()
}

fn check_url(out: &mut Vec<Diagnostic>, what: &str, url: &Spanned<String>, schemes: &[&str]) {
    let ok = schemes.iter().any(|s| url.value.starts_with(s))
        && url.value.len() > 8
        && !url.value.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '"' | '\'' | '`' | '\\' | '<' | '>' | '{' | '}')
        });
    if !ok {
        out.push(
            Diagnostic::error(url.span.clone(), format!("`{what}` is not a valid URL"))
                .label(format!(
                    "expected a URL starting with {}",
                    schemes.join(" or ")
                ))
                .help(format!(
                    "e.g. `{}`",
                    if what == "cluster" {
                        defaults::CLUSTER
                    } else {
                        "https://github.com/acme/fleet.git"
                    }
                )),
        );
    }
}

fn check_pattern(
    out: &mut Vec<Diagnostic>,
    what: &str,
    value: &Spanned<String>,
    ok: bool,
    expected: &str,
) {
    if !ok {
        out.push(
            Diagnostic::error(
                value.span.clone(),
                format!("{what} `{}` is not valid", value.value),
            )
            .label(expected.to_string()),
        );
    }
}

fn identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn env_var_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn topic(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.len() <= TOPIC_MAX
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// An HTTP path prefix or probe path: `/`, then URL-safe characters, no `..`.
pub fn http_path(s: &str) -> bool {
    s.starts_with('/')
        && !s.contains("//")
        && !s.split('/').any(|seg| seg == "..")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-._~%".contains(c))
}

/// `ghcr.io/acme` or `registry.example.com:5000/team`: an image name prefix.
fn registry(s: &str) -> bool {
    !s.is_empty()
        && !s.ends_with('/')
        && !s.contains("://")
        && s.split('/').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || matches!(c, '.' | '_' | '-' | ':')
                })
        })
}

fn git_url(s: &str) -> bool {
    let scheme = ["https://", "http://", "ssh://", "git@", "git://", "file://"]
        .iter()
        .any(|p| s.starts_with(p));
    scheme
        && !s.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '"' | '\'' | '`' | '\\' | '<' | '>' | '{' | '}' | '$')
        })
}

fn revision(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}

/// Control characters other than tab and line breaks: escaped correctly by bulkhead, but
/// Kubernetes tooling (kustomize) refuses them, so they are stopped here.
fn control_character(s: &str) -> Option<char> {
    s.chars()
        .find(|&c| (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{feff}')
}

fn check_text(out: &mut Vec<Diagnostic>, what: &str, value: &Spanned<String>) {
    if let Some(c) = control_character(&value.value) {
        out.push(
            Diagnostic::error(
                value.span.clone(),
                format!("{what} contains the control character U+{:04X}", c as u32),
            )
            .label("not allowed in Kubernetes manifests")
            .help("remove it (tabs and line breaks are fine)"),
        );
    }
}

pub fn paths_and_identifiers(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let p = &spec.platform;
    if let Some(r) = &p.registry {
        check_pattern(
            out,
            "registry",
            r,
            registry(&r.value),
            "expected an image prefix like `ghcr.io/acme`, lowercase, without scheme or tag",
        );
    }
    if let Some(r) = &p.repository {
        check_pattern(
            out,
            "repository",
            r,
            git_url(&r.value),
            "expected a Git URL like `https://github.com/acme/fleet.git`",
        );
    }
    if let Some(r) = &p.revision {
        check_pattern(
            out,
            "revision",
            r,
            revision(&r.value),
            "expected a branch, tag or commit",
        );
    }
    if let Some(b) = p
        .blueprints
        .as_ref()
        .and_then(crate::spec::BlueprintsSpec::folder)
    {
        check_pattern(
            out,
            "blueprints folder",
            b,
            !b.value.is_empty() && !b.value.chars().any(char::is_control),
            "expected a folder path",
        );
    }
    for t in &p.external_topics {
        check_pattern(
            out,
            "topic",
            t,
            topic(&t.value),
            "expected lowercase letters, digits, `.`, `_` or `-`",
        );
    }
    for s in &spec.services {
        if let Some(d) = &s.description {
            check_text(out, "the description", d);
        }
        for (_, v) in s
            .env
            .iter()
            .chain(s.environments.iter().flat_map(|e| e.env.iter()))
        {
            check_text(out, "the value", v);
        }
        for d in &s.owns {
            check_pattern(
                out,
                "datum",
                d,
                identifier(&d.value),
                "expected an identifier: `[a-z][a-z0-9_]*`",
            );
        }
        for t in s.publishes.iter().chain(&s.consumes) {
            check_pattern(
                out,
                "topic",
                t,
                topic(&t.value),
                "expected lowercase letters, digits, `.`, `_` or `-`",
            );
        }
        for a in &s.apis {
            check_pattern(
                out,
                "API prefix",
                a,
                http_path(&a.value),
                "expected a path starting with `/`, e.g. `/trips`",
            );
        }
        for probe in [&s.health.liveness, &s.health.readiness]
            .into_iter()
            .flatten()
        {
            check_pattern(
                out,
                "probe path",
                probe,
                http_path(&probe.value),
                "expected a path starting with `/`, e.g. `/livez`",
            );
        }
        for secret in &s.secrets {
            check_pattern(
                out,
                "secret name",
                secret,
                env_var_name(&secret.value),
                "expected an environment variable name, e.g. `PAYMENT_API_KEY`",
            );
        }
        let env_keys = s.env.iter().map(|(k, _)| k).chain(
            s.environments
                .iter()
                .flat_map(|e| e.env.iter().map(|(k, _)| k)),
        );
        for key in env_keys {
            check_pattern(
                out,
                "environment variable name",
                key,
                env_var_name(&key.value),
                "expected letters, digits and `_`, not starting with a digit",
            );
        }
        duplicates(out, "datum", &s.owns);
        duplicates(out, "API prefix", &s.apis);
        duplicates(out, "call", &s.calls);
        duplicates(out, "topic", &s.publishes);
        duplicates(out, "topic", &s.consumes);
        duplicates(out, "secret", &s.secrets);
        let callee_vars: Vec<String> = s
            .calls
            .iter()
            .map(|c| crate::model::callee_url_var(&c.value))
            .collect();
        let declared = s
            .env
            .iter()
            .map(|(k, _)| k)
            .chain(
                s.environments
                    .iter()
                    .flat_map(|e| e.env.iter().map(|(k, _)| k)),
            )
            .chain(&s.secrets);
        for key in declared {
            let reserved = crate::model::RESERVED_ENV.contains(&key.value.as_str())
                || callee_vars.contains(&key.value);
            if reserved {
                out.push(
                    Diagnostic::error(
                        key.span.clone(),
                        format!("`{}` is set by bulkhead itself", key.value),
                    )
                    .label("reserved environment variable")
                    .help(format!(
                        "bulkhead sets {} and `<CALLEE>_URL` for each call; choose another name",
                        crate::model::RESERVED_ENV.join(", ")
                    )),
                );
            }
        }
        let all_env_keys = s.env.iter().map(|(k, _)| k).chain(
            s.environments
                .iter()
                .flat_map(|e| e.env.iter().map(|(k, _)| k)),
        );
        for key in all_env_keys {
            if s.secrets.iter().any(|x| x.value == key.value) {
                out.push(
                    Diagnostic::error(
                        key.span.clone(),
                        format!("`{}` is both a plain setting and a secret", key.value),
                    )
                    .label("declared in `env` and in `secrets`")
                    .help(
                        "keep secret values out of service.toml: list the name in `secrets` only",
                    ),
                );
            }
        }
    }
}

fn duplicates(out: &mut Vec<Diagnostic>, what: &str, list: &[Spanned<String>]) {
    for (i, item) in list.iter().enumerate() {
        if list[..i].iter().any(|x| x.value == item.value) {
            out.push(
                Diagnostic::error(
                    item.span.clone(),
                    format!("{what} `{}` is listed twice", item.value),
                )
                .label("duplicate entry")
                .help("remove one of them"),
            );
        }
    }
}
