//! Every rule of service-toml.md ("Rules bulkhead enforces"), held against the real binary:
//! `bulkhead validate` in a temporary folder, checking the exit code, the message, the
//! exact `--> service.toml:LINE:COL` location (computed from the input text, never
//! hard-coded), the label under the caret and the `help:` line.
//!
//! Errors 1–10 and warnings 1–6 each have their own tests (`rule1_…` to `rule10_…`,
//! `warning1_…` to `warning6_…`); then come the cross-cutting guarantees: all problems in
//! one run sorted by position, nothing written on invalid input, one diagnostic pinned
//! character for character, and the examples staying clean.

use std::path::Path;

use crate::common::{bulkhead, example, minimal, platform, read_tree};

const DNS_HELP: &str =
    "use lowercase letters, digits and `-`, starting with a letter, e.g. `trip-management`";

/// One diagnostic as printed: `error: …` / `warning: …`, its `-->` line, the label after
/// the caret and the `help:` line.
#[derive(Debug)]
struct Diag {
    warning: bool,
    message: String,
    line: usize,
    col: usize,
    label: Option<String>,
    help: Option<String>,
}

/// The result of one `bulkhead validate` run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    diags: Vec<Diag>,
}

fn validate(text: &str) -> Run {
    validate_with(text, &[])
}

fn validate_with(text: &str, args: &[&str]) -> Run {
    let dir = platform(text);
    run_in(dir.path(), &["validate"], args)
}

/// Runs `bulkhead <command> <args>` in `dir`.
fn run_in(dir: &Path, command: &[&str], args: &[&str]) -> Run {
    let out = bulkhead(dir).args(command).args(args).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        diags: parse_diags(&stderr),
        stderr,
    }
}

/// Reads the rendered diagnostics back; the closing summary line has no `-->` and is skipped.
fn parse_diags(stderr: &str) -> Vec<Diag> {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut diags: Vec<Diag> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let head = line
            .strip_prefix("error: ")
            .map(|m| (false, m))
            .or_else(|| line.strip_prefix("warning: ").map(|m| (true, m)));
        let location = lines
            .get(i + 1)
            .and_then(|l| l.trim_start().strip_prefix("--> service.toml:"));
        match (head, location) {
            (Some((warning, message)), Some(loc)) => {
                let mut parts = loc.split(':');
                let line_no = parts.next().unwrap().parse().unwrap();
                let col = parts.next().unwrap().parse().unwrap();
                diags.push(Diag {
                    warning,
                    message: message.to_string(),
                    line: line_no,
                    col,
                    label: None,
                    help: None,
                });
                i += 2;
            }
            _ => {
                if let Some(d) = diags.last_mut() {
                    if let Some(help) = line.strip_prefix("help: ") {
                        d.help = Some(help.to_string());
                    } else if d.label.is_none()
                        && let Some(bar) = line.find('|')
                    {
                        let after = line[bar + 1..].trim_start_matches([' ', '_', '|']);
                        if let Some(rest) = after.strip_prefix('^') {
                            let label = rest.trim_start_matches('^').trim();
                            if !label.is_empty() {
                                d.label = Some(label.to_string());
                            }
                        }
                    }
                }
                i += 1;
            }
        }
    }
    diags
}

/// A diagnostic that was found, for checking its label and help.
struct Found<'a> {
    diag: &'a Diag,
    stderr: &'a str,
}

impl Found<'_> {
    fn label(self, label: &str) -> Self {
        assert_eq!(
            self.diag.label.as_deref(),
            Some(label),
            "label of `{}`:\n{}",
            self.diag.message,
            self.stderr
        );
        self
    }

    fn help(self, help: &str) -> Self {
        assert_eq!(
            self.diag.help.as_deref(),
            Some(help),
            "help of `{}`:\n{}",
            self.diag.message,
            self.stderr
        );
        self
    }

    fn no_help(self) -> Self {
        assert_eq!(
            self.diag.help, None,
            "help of `{}`:\n{}",
            self.diag.message, self.stderr
        );
        self
    }
}

impl Run {
    fn find(&self, warning: bool, message: &str, at: (usize, usize)) -> Found<'_> {
        let diag = self
            .diags
            .iter()
            .find(|d| d.warning == warning && d.message == message && (d.line, d.col) == at)
            .unwrap_or_else(|| {
                let kind = if warning { "warning" } else { "error" };
                panic!(
                    "no {kind} `{message}` at {}:{} in:\n{}{}",
                    at.0, at.1, self.stdout, self.stderr
                )
            });
        Found {
            diag,
            stderr: &self.stderr,
        }
    }

    fn error(&self, message: &str, at: (usize, usize)) -> Found<'_> {
        self.find(false, message, at)
    }

    fn warning(&self, message: &str, at: (usize, usize)) -> Found<'_> {
        self.find(true, message, at)
    }

    fn errors(&self) -> Vec<&Diag> {
        self.diags.iter().filter(|d| !d.warning).collect()
    }

    fn warnings(&self) -> Vec<&Diag> {
        self.diags.iter().filter(|d| d.warning).collect()
    }

    /// Exit 1 with exactly `errors` errors.
    fn assert_invalid(&self, errors: usize) {
        assert_eq!(self.code, 1, "{}{}", self.stdout, self.stderr);
        assert_eq!(self.errors().len(), errors, "{}", self.stderr);
    }

    /// Exit 0, no errors, exactly `warnings` warnings.
    fn assert_valid_with_warnings(&self, warnings: usize) {
        assert_eq!(self.code, 0, "{}{}", self.stdout, self.stderr);
        assert!(self.errors().is_empty(), "{}", self.stderr);
        assert_eq!(self.warnings().len(), warnings, "{}", self.stderr);
    }
}

/// 1-based line and column (in characters) of the only occurrence of `needle`.
fn pos(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in:\n{text}"));
    assert!(
        text[at + 1..].find(needle).is_none(),
        "`{needle}` is ambiguous in:\n{text}"
    );
    line_col(text, at)
}

/// Position of the first `needle` after the only occurrence of `anchor`.
fn pos_after(text: &str, anchor: &str, needle: &str) -> (usize, usize) {
    let (line, col) = pos(text, anchor);
    let start = text
        .lines()
        .take(line - 1)
        .map(|l| l.len() + 1)
        .sum::<usize>()
        + text
            .lines()
            .nth(line - 1)
            .unwrap()
            .chars()
            .take(col - 1)
            .map(char::len_utf8)
            .sum::<usize>();
    let at = start
        + text[start..]
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` not after `{anchor}`"));
    line_col(text, at)
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// A valid platform with two environments (dev, prod) and the given service tables.
fn with_services(services: &str) -> String {
    format!(
        r#"[platform]
name = "demo"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/demo.git"

[environments.dev]

[environments.prod]

{services}"#
    )
}

// ---------------------------------------------------------------------------------------
// Rule 1: syntax and type errors
// ---------------------------------------------------------------------------------------

#[test]
fn rule1_syntax_error_reports_its_line() {
    let text = minimal("port = \nowns = []\n");
    let run = validate(&text);
    assert_eq!(run.code, 1);
    assert_eq!(run.errors().len(), 1, "{}", run.stderr);
    let d = &run.errors()[0];
    assert!(d.message.starts_with("invalid TOML: "), "{}", run.stderr);
    assert_eq!(d.line, pos(&text, "port").0, "{}", run.stderr);
}

#[test]
fn rule1_unclosed_string_and_duplicates() {
    for (extra, line_of) in [
        ("description = \"unterminated\nport = 1\n", "description"),
        ("port = 1\nport = 2\n", "port = 2"),
        (
            "\n[services.api.health]\n\n[services.api.health]\n",
            "[services.api.health]\n\n[",
        ),
    ] {
        let text = minimal(extra);
        let run = validate(&text);
        assert_eq!(run.code, 1, "{extra}: {}", run.stderr);
        let errors = run.errors();
        assert_eq!(errors.len(), 1, "{}", run.stderr);
        assert!(
            errors[0].message.starts_with("invalid TOML"),
            "{}",
            run.stderr
        );
        let expected = if line_of.starts_with("[services.api.health]\n") {
            pos(&text, line_of).0 + 2
        } else {
            pos(&text, line_of).0
        };
        assert!(
            (expected..=expected + 1).contains(&errors[0].line),
            "{extra}: {}",
            run.stderr
        );
    }
}

#[test]
fn rule1_type_errors_are_all_reported() {
    let text = with_services(
        r#"[services.api]
runtime = "golang"
port = "8080"
owns = "orders"
apis = ["/a", 1]
health = "/healthz"
slo = { availability = "high" }
env = { A = 1 }
"#,
    );
    let run = validate(&text);
    run.error("unknown runtime `golang`", pos(&text, "\"golang\""))
        .label("expected one of \"rust\", \"go\", \"node\", \"python\", \"java\"");
    run.error(
        "`services.api.port` must be an integer",
        pos(&text, "\"8080\""),
    )
    .label("found a string");
    run.error(
        "`services.api.owns` must be an array of strings",
        pos(&text, "\"orders\""),
    )
    .label("found a string");
    run.error(
        "every entry of `services.api.apis` must be a string",
        pos(&text, "1]"),
    )
    .label("found an integer");
    run.error(
        "`services.api.health` must be a table",
        pos(&text, "\"/healthz\""),
    )
    .label("found a string");
    run.error(
        "`services.api.slo.availability` must be a number",
        pos(&text, "\"high\""),
    )
    .label("found a string");
    run.error("`services.api.env.A` must be a string", pos(&text, "1 }"))
        .label("found an integer");
    run.assert_invalid(7);
}

#[test]
fn rule1_unknown_choices_suggest_the_closest() {
    let text = minimal("datastore = \"postgresql\"\nrelease = { strategy = \"canery\" }\n")
        .replace("[platform]\n", "[platform]\nmesh = \"istoi\"\n");
    let run = validate(&text);
    run.error("unknown mesh `istoi`", pos(&text, "\"istoi\""))
        .help("did you mean `istio`?");
    run.error(
        "unknown datastore `postgresql`",
        pos(&text, "\"postgresql\""),
    )
    .help("did you mean `postgres`?");
    run.error(
        "unknown release strategy `canery`",
        pos(&text, "\"canery\""),
    )
    .help("did you mean `canary`?");
    run.assert_invalid(3);
}

#[test]
fn rule1_sections_of_the_wrong_shape() {
    let text = r#"platform = "demo"
environments = ["dev"]

[services.api]
runtime = "go"

[services]
web = 1
"#;
    // `[services]` after `[services.api]` is legal TOML (the table is defined implicitly).
    let run = validate(text);
    run.error("`platform` must be a table", pos(text, "\"demo\""))
        .label("found a string");
    run.error("`environments` must be a table", pos(text, "[\"dev\"]"))
        .label("found an array");
    run.error(
        "`services.web` must be a table (a service)",
        pos(text, "1\n"),
    )
    .label("found an integer");
    assert_eq!(run.code, 1);
}

#[test]
fn rule1_missing_required_keys() {
    let text = r#"[platform]
name = "demo"

[environments.dev]

[services.api]
port = 8080
"#;
    let run = validate(text);
    run.error(
        "`[platform]` is missing the required key `registry`",
        pos(text, "platform"),
    )
    .help("add `registry = ...` (a string)");
    run.error(
        "`[platform]` is missing the required key `repository`",
        pos(text, "platform"),
    )
    .help("add `repository = ...` (a string)");
    run.error(
        "`[services.api]` is missing the required key `runtime`",
        pos(text, "api"),
    )
    .help("add `runtime = ...` (one of \"rust\", \"go\", \"node\", \"python\", \"java\")");
    run.assert_invalid(3);

    let text = "[environments.dev]\n\n[services.api]\nruntime = \"go\"\n";
    let run = validate(text);
    run.error("service.toml has no `[platform]` table", (1, 1))
        .help("add `[platform]` with `name`, `registry` and `repository`");
    run.assert_invalid(1);
}

// ---------------------------------------------------------------------------------------
// Error 2: unknown keys, with "did you mean"
// ---------------------------------------------------------------------------------------

#[test]
fn rule2_unknown_keys_get_suggestions_at_every_level() {
    let text = r#"platfrom = 1

[platform]
name = "demo"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/demo.git"
meshh = "istio"

[environments.dev]
replica = 1

[environments.prod]

[services.api]
runtime = "go"
prot = 8080
resources = { cpus = "1" }
autoscale = { min = 2, max = 3, cpu = 50, mem = 80 }
health = { livenes = "/livez" }
release = { stratgy = "canary" }
resilience = { timeuot = "3s" }
slo = { availabilty = 99.9 }

[services.api.environments.dev]
replicaz = 1
envv = {}
autoscale = { minn = 1 }

[services.api.environments.dev.resources]
memroy = "256Mi"
"#;
    let run = validate(text);
    let cases = [
        ("platfrom", "at the top level", "platform"),
        ("meshh", "in `[platform]`", "mesh"),
        ("replica", "in `[environments.dev]`", "replicas"),
        ("prot", "in `[services.api]`", "port"),
        ("cpus", "in `[services.api.resources]`", "cpu"),
        ("mem", "in `[services.api.autoscale]`", "memory"),
        ("livenes", "in `[services.api.health]`", "liveness"),
        ("stratgy", "in `[services.api.release]`", "strategy"),
        ("timeuot", "in `[services.api.resilience]`", "timeout"),
        ("availabilty", "in `[services.api.slo]`", "availability"),
        (
            "replicaz",
            "in `[services.api.environments.dev]`",
            "replicas",
        ),
        ("envv", "in `[services.api.environments.dev]`", "env"),
        (
            "minn",
            "in `[services.api.environments.dev.autoscale]`",
            "min",
        ),
        (
            "memroy",
            "in `[services.api.environments.dev.resources]`",
            "memory",
        ),
    ];
    for (key, within, suggestion) in cases {
        run.error(
            &format!("unknown key `{key}` {within}"),
            pos(text, &format!("{key} =")),
        )
        .label("not a known key")
        .help(&format!("did you mean `{suggestion}`?"));
    }
    run.assert_invalid(cases.len());
}

#[test]
fn rule2_unknown_key_without_a_close_match_lists_the_known_keys() {
    let text = minimal("zzz = 1\n");
    let run = validate(&text);
    run.error("unknown key `zzz` in `[services.api]`", pos(&text, "zzz"))
        .label("not a known key")
        .help(
            "known keys here: description, runtime, port, owns, datastore, apis, calls, egress, \
             publishes, consumes, health, resources, autoscale, release, resilience, slo, env, secrets, environments",
        );
    run.assert_invalid(1);
}

#[test]
fn rule2_env_tables_and_vars_are_free_form() {
    let text = r#"[platform]
name = "demo"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/demo.git"
vars = { team = "payments", anything = { nested = [1, 2] } }

[environments.dev]

[environments.prod]

[services.api]
runtime = "go"
apis = ["/api"]
env = { ANY_NAME = "x", OTHER = "y" }
"#;
    validate(text).assert_valid_with_warnings(0);
}

// ---------------------------------------------------------------------------------------
// Error 3: names are DNS-1123 labels, short enough, and cannot escape the output folder
// ---------------------------------------------------------------------------------------

#[test]
fn rule3_service_names_cannot_escape_the_output_folder() {
    let text = with_services(
        r#"[services."../x"]
runtime = "go"

[services."/x"]
runtime = "go"

[services."a/b"]
runtime = "go"

[services."..\\y"]
runtime = "go"

[services.".."]
runtime = "go"
"#,
    );
    let run = validate(&text);
    for (name, written) in [
        ("../x", "\"../x\"]"),
        ("/x", "\"/x\"]"),
        ("a/b", "\"a/b\"]"),
        ("..\\y", "\"..\\\\y\"]"),
        ("..", "\"..\"]"),
    ] {
        run.error(
            &format!("service name `{name}` is not a valid DNS-1123 label"),
            pos(&text, written),
        )
        .label("a name cannot contain path separators or `..`")
        .help(DNS_HELP);
    }
    run.assert_invalid(5);
}

#[test]
fn rule3_names_must_be_lowercase_labels() {
    let text = with_services(
        r#"[services.Api]
runtime = "go"

[services.9lives]
runtime = "go"

[services.trailing-]
runtime = "go"

[services.under_score]
runtime = "go"

[services.""]
runtime = "go"
"#,
    );
    let run = validate(&text);
    run.error(
        "service name `Api` is not a valid DNS-1123 label",
        pos(&text, "Api"),
    )
    .label("only lowercase letters, digits and `-` are allowed")
    .help(DNS_HELP);
    run.error(
        "service name `9lives` is not a valid DNS-1123 label",
        pos(&text, "9lives"),
    )
    .label("must start with a lowercase letter");
    run.error(
        "service name `trailing-` is not a valid DNS-1123 label",
        pos(&text, "trailing-"),
    )
    .label("must not end with `-`");
    run.error(
        "service name `under_score` is not a valid DNS-1123 label",
        pos(&text, "under_score"),
    )
    .label("only lowercase letters, digits and `-` are allowed");
    run.error(
        "service name `` is not a valid DNS-1123 label",
        pos(&text, "\"\"]"),
    )
    .label("a name cannot be empty");
    run.assert_invalid(5);
}

#[test]
fn rule3_names_have_length_limits() {
    let service_50 = format!("s{}", "x".repeat(49));
    let service_51 = format!("t{}", "x".repeat(50));
    let platform_40 = "p".repeat(40);
    let platform_41 = "q".repeat(41);

    // At the limit: valid.
    let ok = minimal("").replace("name = \"demo\"", &format!("name = \"{platform_40}\""))
        + &format!("\n[services.{service_50}]\nruntime = \"go\"\napis = [\"/s\"]\n");
    let ok = ok
        .replace(
            "[environments.dev]",
            "[environments.dev]\nnamespace = \"dev\"",
        )
        .replace(
            "[environments.prod]",
            "[environments.prod]\nnamespace = \"prod\"",
        );
    validate(&ok).assert_valid_with_warnings(0);

    // One over: rejected, with the length in the label.
    let text = minimal("").replace("name = \"demo\"", &format!("name = \"{platform_41}\""))
        + &format!("\n[services.{service_51}]\nruntime = \"go\"\n");
    let run = validate(&text);
    run.error(
        &format!("platform name `{platform_41}` is not a valid DNS-1123 label"),
        pos(&text, &format!("\"{platform_41}\"")),
    )
    .label("is 41 characters long; at most 40 are allowed")
    .help(DNS_HELP);
    run.error(
        &format!("service name `{service_51}` is not a valid DNS-1123 label"),
        pos(&text, &service_51),
    )
    .label("is 51 characters long; at most 50 are allowed");
    run.assert_invalid(2);
}

#[test]
fn rule3_default_namespace_and_datastore_names_must_fit() {
    let env = "e".repeat(25); // "demo-" + 25 = 30: fine; a 40-char platform makes it 66
    let platform = "p".repeat(40);
    let service = "s".repeat(45); // "-postgres" makes 54 > 52
    let text = format!(
        r#"[platform]
name = "{platform}"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/demo.git"

[environments.{env}]

[services.{service}]
runtime = "go"
owns = ["rows"]
datastore = "postgres"
"#
    );
    let run = validate(&text);
    run.error(
        &format!("the default TLS secret of environment `{env}` would be 70 characters long"),
        pos(&text, &env),
    )
    .label("`{platform}-{env}-tls` must fit in 63 characters")
    .help("shorten the name or set `tls_secret` explicitly");
    run.error(
        &format!("the default namespace of environment `{env}` would be 66 characters long"),
        pos(&text, &env),
    )
    .label("`{platform}-{env}` must fit in 63 characters")
    .help("shorten the name or set `namespace` explicitly");
    run.error(
        &format!("the datastore name `{service}-postgres` is too long for a StatefulSet"),
        pos(&text, &service),
    )
    .label("`{service}-postgres` must fit in 52 characters")
    .help("shorten the service name");
    run.assert_invalid(3);
}

#[test]
fn rule3_a_service_name_cannot_clash_with_a_datastore_name() {
    let text = with_services(
        r#"[services.api]
runtime = "go"
owns = ["orders"]
datastore = "postgres"

[services.api-postgres]
runtime = "go"
"#,
    );
    let run = validate(&text);
    assert_eq!(
        run.code, 1,
        "two objects named `api-postgres` would be generated:\n{}{}",
        run.stdout, run.stderr
    );
    let (line, _) = pos(&text, "[services.api-postgres]");
    assert!(
        run.errors().iter().any(|d| d.line == line),
        "{}",
        run.stderr
    );
}

#[test]
fn rule3_environment_namespace_host_and_url_names() {
    let text = r#"[platform]
name = "demo"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/demo.git"
domain = "Demo.Example.com"

[environments."../dev"]

[environments.Staging]
namespace = "../kube-system"
tls_secret = "TLS"
host = "https://demo.example.com/"
cluster = "kubernetes.default.svc"

[environments.prod]

[services.api]
runtime = "go"
"#;
    let run = validate(text);
    run.error(
        "environment name `../dev` is not a valid DNS-1123 label",
        pos(text, "\"../dev\""),
    )
    .label("a name cannot contain path separators or `..`")
    .help(DNS_HELP);
    run.error(
        "environment name `Staging` is not a valid DNS-1123 label",
        pos(text, "Staging"),
    )
    .label("only lowercase letters, digits and `-` are allowed");
    run.error(
        "namespace `../kube-system` is not a valid DNS-1123 label",
        pos(text, "\"../kube-system\""),
    )
    .label("a name cannot contain path separators or `..`");
    run.error(
        "TLS secret name `TLS` is not a valid DNS-1123 label",
        pos(text, "\"TLS\""),
    );
    run.error(
        "`https://demo.example.com/` is not a valid host name",
        pos(text, "\"https://demo"),
    )
    .label("expected lowercase DNS labels separated by dots")
    .help("e.g. `fleet.example.com`, without scheme, port or path");
    run.error(
        "`Demo.Example.com` is not a valid host name",
        pos(text, "\"Demo.Example.com\""),
    );
    run.error(
        "`cluster` is not a valid URL",
        pos(text, "\"kubernetes.default.svc\""),
    )
    .label("expected a URL starting with https:// or http://")
    .help("e.g. `https://kubernetes.default.svc`");
    run.assert_invalid(7);
}

#[test]
fn rule3_identifiers_topics_paths_and_variable_names() {
    let text = r#"[platform]
name = "demo"
registry = "GHCR.io/acme"
repository = "github.com/acme/demo"
revision = "-rf"
external_topics = ["Orders/placed"]

[environments.dev]

[environments.prod]

[services.api]
runtime = "go"
owns = ["Orders", "order-lines"]
datastore = "postgres"
apis = ["orders", "/a/../b", "/x y"]
publishes = ["order placed"]
consumes = ["Orders/placed"]
health = { liveness = "livez", readiness = "/ready//z" }
secrets = ["db-password", "DB_PASSWORD", "DB_PASSWORD"]
env = { "1ST" = "x", "API KEY" = "y" }

[services.api.environments.dev]
env = { "bad-name" = "z" }
"#;
    let run = validate(text);
    let err = |message: &str, at: &str, label: &str| {
        run.error(message, pos(text, at)).label(label);
    };
    err(
        "registry `GHCR.io/acme` is not valid",
        "\"GHCR.io/acme\"",
        "expected an image prefix like `ghcr.io/acme`, lowercase, without scheme or tag",
    );
    err(
        "repository `github.com/acme/demo` is not valid",
        "\"github.com/acme/demo\"",
        "expected a Git URL like `https://github.com/acme/fleet.git`",
    );
    err(
        "revision `-rf` is not valid",
        "\"-rf\"",
        "expected a branch, tag or commit",
    );
    run.error(
        "topic `Orders/placed` is not valid",
        pos_after(text, "external_topics", "\"Orders/placed\""),
    )
    .label("expected lowercase letters, digits, `.`, `_` or `-`");
    run.error(
        "topic `Orders/placed` is not valid",
        pos_after(text, "consumes", "\"Orders/placed\""),
    )
    .label("expected lowercase letters, digits, `.`, `_` or `-`");
    err(
        "datum `Orders` is not valid",
        "\"Orders\"",
        "expected an identifier: `[a-z][a-z0-9_]*`",
    );
    err(
        "datum `order-lines` is not valid",
        "\"order-lines\"",
        "expected an identifier: `[a-z][a-z0-9_]*`",
    );
    err(
        "API prefix `orders` is not valid",
        "\"orders\"",
        "expected a path starting with `/`, e.g. `/trips`",
    );
    err(
        "API prefix `/a/../b` is not valid",
        "\"/a/../b\"",
        "expected a path starting with `/`, e.g. `/trips`",
    );
    err(
        "API prefix `/x y` is not valid",
        "\"/x y\"",
        "expected a path starting with `/`, e.g. `/trips`",
    );
    err(
        "topic `order placed` is not valid",
        "\"order placed\"",
        "expected lowercase letters, digits, `.`, `_` or `-`",
    );
    err(
        "probe path `livez` is not valid",
        "\"livez\"",
        "expected a path starting with `/`, e.g. `/livez`",
    );
    err(
        "probe path `/ready//z` is not valid",
        "\"/ready//z\"",
        "expected a path starting with `/`, e.g. `/livez`",
    );
    err(
        "secret name `db-password` is not valid",
        "\"db-password\"",
        "expected an environment variable name, e.g. `PAYMENT_API_KEY`",
    );
    run.error(
        "secret `DB_PASSWORD` is listed twice",
        pos(text, "\"DB_PASSWORD\"]"),
    )
    .label("duplicate entry")
    .help("remove one of them");
    err(
        "environment variable name `1ST` is not valid",
        "\"1ST\"",
        "expected letters, digits and `_`, not starting with a digit",
    );
    err(
        "environment variable name `API KEY` is not valid",
        "\"API KEY\"",
        "expected letters, digits and `_`, not starting with a digit",
    );
    err(
        "environment variable name `bad-name` is not valid",
        "\"bad-name\"",
        "expected letters, digits and `_`, not starting with a digit",
    );
    run.assert_invalid(18);
}

#[test]
fn rule3_a_setting_cannot_be_both_plain_and_secret() {
    let text = minimal("secrets = [\"DB_PASSWORD\"]\nenv = { DB_PASSWORD = \"hunter2\" }\n");
    let run = validate(&text);
    run.error(
        "`DB_PASSWORD` is both a plain setting and a secret",
        pos(&text, "DB_PASSWORD ="),
    )
    .label("declared in `env` and in `secrets`")
    .help("keep secret values out of service.toml: list the name in `secrets` only");
    run.assert_invalid(1);
}

#[test]
fn rule3_an_environment_override_cannot_turn_a_secret_into_a_plain_setting() {
    let text = minimal(
        "secrets = [\"DB_PASSWORD\"]\n\n[services.api.environments.prod]\nenv = { DB_PASSWORD = \"hunter2\" }\n",
    );
    let run = validate(&text);
    run.error(
        "`DB_PASSWORD` is both a plain setting and a secret",
        pos(&text, "DB_PASSWORD ="),
    );
    run.assert_invalid(1);
}

// ---------------------------------------------------------------------------------------
// Error 4: every datum has exactly one owner
// ---------------------------------------------------------------------------------------

#[test]
fn rule4_data_owned_by_two_services() {
    let text = with_services(
        r#"[services.trip-management]
runtime = "go"
owns = ["trips", "routes"]
datastore = "postgres"

[services.trip-analytics]
runtime = "python"
owns = ["reports", "trips"]
datastore = "postgres"

[services.archive]
runtime = "go"
owns = ["routes"]
datastore = "mongodb"
"#,
    );
    let run = validate(&text);
    // The exact wording of service-toml.md.
    run.error(
        "\"trips\" is owned by both trip-management and trip-analytics",
        pos_after(&text, "trip-analytics", "\"trips\""),
    )
    .label("second owner")
    .help("database per service: exactly one service owns a datum; the other calls it or consumes its events");
    run.error(
        "\"routes\" is owned by both trip-management and archive",
        pos_after(&text, "archive", "\"routes\""),
    );
    run.assert_invalid(2);
}

#[test]
fn rule4_a_datum_listed_twice_by_one_service() {
    let text = minimal("owns = [\"orders\", \"orders\"]\ndatastore = \"postgres\"\n");
    let run = validate(&text);
    run.error("datum `orders` is listed twice", pos(&text, "\"orders\"]"))
        .label("duplicate entry");
    run.assert_invalid(1);
}

// ---------------------------------------------------------------------------------------
// Error 5: calls name known services, never the caller itself
// ---------------------------------------------------------------------------------------

#[test]
fn rule5_calls_to_an_unknown_service_suggest_the_closest_name() {
    let text = with_services(
        r#"[services.trip-management]
runtime = "go"
calls = ["vehicle-managment", "billing"]

[services.vehicle-management]
runtime = "rust"
"#,
    );
    let run = validate(&text);
    run.error(
        "`trip-management` calls unknown service `vehicle-managment`",
        pos(&text, "\"vehicle-managment\""),
    )
    .label("no such service")
    .help("did you mean `vehicle-management`?");
    run.error(
        "`trip-management` calls unknown service `billing`",
        pos(&text, "\"billing\""),
    )
    .label("no such service")
    .help("other services: vehicle-management");
    run.assert_invalid(2);
}

#[test]
fn rule5_a_service_cannot_call_itself() {
    let text = minimal("calls = [\"api\"]\n");
    let run = validate(&text);
    run.error("service `api` calls itself", pos(&text, "\"api\""))
        .label("a service cannot declare a call to itself")
        .help("remove it from `calls`");
    // Reported once, as an error: not also as a one-service call cycle.
    run.assert_invalid(1);
    assert!(run.warnings().is_empty(), "{}", run.stderr);
}

#[test]
fn rule5_a_call_listed_twice() {
    let text = with_services(
        "[services.api]\nruntime = \"go\"\ncalls = [\"db\", \"db\"]\n\n[services.db]\nruntime = \"go\"\n",
    );
    let run = validate(&text);
    run.error("call `db` is listed twice", pos(&text, "\"db\"]"))
        .label("duplicate entry");
    run.assert_invalid(1);
}

// ---------------------------------------------------------------------------------------
// Error 6: one publisher per topic; every consumed topic has a publisher
// ---------------------------------------------------------------------------------------

#[test]
fn rule6_a_topic_published_by_two_services() {
    let text = with_services(
        r#"[services.trips]
runtime = "go"
publishes = ["trip.completed"]

[services.billing]
runtime = "go"
publishes = ["invoice.sent", "trip.completed"]
"#,
    );
    let run = validate(&text);
    run.error(
        "topic \"trip.completed\" is published by both trips and billing",
        pos_after(&text, "invoice.sent", "\"trip.completed\""),
    )
    .label("second publisher")
    .help("a topic belongs to the one service that owns its events");
    run.assert_invalid(1);
}

#[test]
fn rule6_a_consumed_topic_nobody_publishes() {
    let text = with_services(
        r#"[services.trips]
runtime = "go"
publishes = ["trip.completed"]

[services.mailer]
runtime = "python"
consumes = ["trip.complete", "user.deleted"]
"#,
    );
    let run = validate(&text);
    run.error(
        "`mailer` consumes topic \"trip.complete\" that nobody publishes",
        pos(&text, "\"trip.complete\""),
    )
    .label("no publisher")
    .help("did you mean `trip.completed`?");
    run.error(
        "`mailer` consumes topic \"user.deleted\" that nobody publishes",
        pos(&text, "\"user.deleted\""),
    )
    .label("no publisher")
    .help("publish it from a service, or list it in `platform.external_topics`");
    run.assert_invalid(2);
}

#[test]
fn rule6_external_topics_need_no_publisher() {
    let text = minimal("consumes = [\"inventory.updated\"]\n").replace(
        "repository = \"https://github.com/acme/demo.git\"",
        "repository = \"https://github.com/acme/demo.git\"\nexternal_topics = [\"inventory.updated\"]",
    );
    validate(&text).assert_valid_with_warnings(0);
}

#[test]
fn rule6_a_service_may_consume_its_own_topic() {
    let text = minimal("publishes = [\"job.queued\"]\nconsumes = [\"job.queued\"]\n");
    validate(&text).assert_valid_with_warnings(0);
}

#[test]
fn rule6_the_suggestion_is_deterministic() {
    let text = with_services(
        r#"[services.trips]
runtime = "go"
publishes = ["trip.ab", "trip.ba"]

[services.mailer]
runtime = "go"
consumes = ["trip.aa"]
"#,
    );
    let first = validate(&text);
    first.error(
        "`mailer` consumes topic \"trip.aa\" that nobody publishes",
        pos(&text, "\"trip.aa\""),
    );
    for _ in 0..12 {
        assert_eq!(
            validate(&text).stderr,
            first.stderr,
            "the output changed between runs"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Error 7: API prefixes route unambiguously
// ---------------------------------------------------------------------------------------

const GATEWAY_HELP: &str =
    "the gateway routes each prefix to one service: give each service its own prefixes";

#[test]
fn rule7_equal_api_prefixes_collide() {
    let text = with_services(
        r#"[services.trips]
runtime = "go"
apis = ["/trips", "/routes/"]

[services.reports]
runtime = "go"
apis = ["/trips", "/routes"]
"#,
    );
    let run = validate(&text);
    run.error(
        "API prefix `/trips` of reports collides with trips",
        pos_after(&text, "[services.reports]", "\"/trips\""),
    )
    .label("`/trips` is also an API of trips")
    .help(GATEWAY_HELP);
    // A trailing slash does not make a prefix different.
    run.error(
        "API prefix `/routes` of reports collides with trips",
        pos_after(&text, "[services.reports]", "\"/routes\""),
    )
    .label("`/routes` is also an API of trips");
    run.assert_invalid(2);
}

#[test]
fn rule7_nested_prefixes_of_other_services_are_routed_most_specific_first() {
    // A front end at `/` beside APIs under their own prefixes, and prefixes nested in
    // another service's: the gateway routes the longest first.
    let text = with_services(
        r#"[services.trips]
runtime = "go"
apis = ["/trips", "/fleet/status/live"]

[services.history]
runtime = "go"
apis = ["/trips/history", "/fleet"]

[services.web]
runtime = "node"
apis = ["/"]
"#,
    );
    validate(&text).assert_valid_with_warnings(0);
}

#[test]
fn rule7_prefixes_that_only_share_characters_or_a_service_do_not_collide() {
    let text = with_services(
        r#"[services.trips]
runtime = "go"
apis = ["/trip", "/users", "/users/settings"]

[services.trips-v2]
runtime = "go"
apis = ["/trips", "/user-admin"]
"#,
    );
    validate(&text).assert_valid_with_warnings(0);
}

// ---------------------------------------------------------------------------------------
// Error 8: overrides name existing environments
// ---------------------------------------------------------------------------------------

#[test]
fn rule8_overrides_for_an_unknown_environment() {
    let text = minimal(
        "\n[services.api.environments.prd]\nreplicas = 3\n\n[services.api.environments.qa]\nreplicas = 2\n",
    );
    let run = validate(&text);
    run.error(
        "`api` overrides unknown environment `prd`",
        pos(&text, "prd"),
    )
    .label("no such environment")
    .help("did you mean `prod`?");
    run.error(
        "`api` overrides unknown environment `qa`",
        pos(&text, "qa]"),
    )
    .label("no such environment")
    .help("environments: dev, prod");
    run.assert_invalid(2);
}

#[test]
fn rule8_overrides_with_a_path_for_a_name_are_unknown_environments() {
    let text = minimal("\n[services.api.environments.\"../prod\"]\nreplicas = 3\n");
    let run = validate(&text);
    run.error(
        "`api` overrides unknown environment `../prod`",
        pos(&text, "\"../prod\""),
    );
    run.assert_invalid(1);
}

// ---------------------------------------------------------------------------------------
// Error 9: quantities, durations, percentages, ports, bounds
// ---------------------------------------------------------------------------------------

#[test]
fn rule9_invalid_quantities() {
    let text = minimal(
        r#"resources = { cpu = "1.5 cores", memory = "128MB", cpu_limit = "1Gi", memory_limit = "-1" }

[services.api.environments.prod]
resources = { cpu = ".5", memory = "0" }
"#,
    );
    let run = validate(&text);
    run.error(
        "`1.5 cores` is not a valid CPU request",
        pos(&text, "\"1.5 cores\""),
    )
    .label("not a Kubernetes quantity")
    .help("write it like `250m` or `1`");
    run.error(
        "`128MB` is not a valid memory request",
        pos(&text, "\"128MB\""),
    )
    .label("not a Kubernetes quantity")
    .help("write it like `128Mi` or `1Gi`");
    // A binary suffix is a memory unit, never a CPU one.
    run.error("`1Gi` is not a valid CPU limit", pos(&text, "\"1Gi\""));
    run.error("`-1` is not a valid memory limit", pos(&text, "\"-1\""));
    // The same checks apply to per-environment overrides.
    run.error("`.5` is not a valid CPU request", pos(&text, "\".5\""));
    run.error("`0` is not a valid memory request", pos(&text, "\"0\""));
    run.assert_invalid(6);
}

#[test]
fn rule9_a_limit_below_its_request() {
    let text = minimal(
        r#"resources = { cpu = "500m", cpu_limit = "250m", memory = "1Gi", memory_limit = "512Mi" }

[services.api.environments.prod]
resources = { cpu = "2", cpu_limit = "1" }
"#,
    );
    let run = validate(&text);
    run.error(
        "the CPU request 500m is above the CPU limit 250m",
        pos(&text, "\"250m\""),
    )
    .label("a limit must be at least the request")
    .help("raise `cpu_limit` or lower the request");
    run.error(
        "the CPU request 2 is above the CPU limit 1",
        pos(&text, "\"1\" }"),
    );
    run.error(
        "the memory request 1Gi is above the memory limit 512Mi",
        pos(&text, "\"512Mi\""),
    )
    .label("a limit must be at least the request");
    run.assert_invalid(3);
}

#[test]
fn rule9_a_request_above_the_default_or_inherited_limit() {
    let text = minimal(
        r#"resources = { memory = "512Mi", cpu = "500m", cpu_limit = "1" }

[services.api.environments.prod]
resources = { cpu = "2" }
"#,
    );
    let run = validate(&text);
    assert_eq!(
        run.code, 1,
        "expected errors:\n{}{}",
        run.stdout, run.stderr
    );
    let lines: Vec<usize> = run.errors().iter().map(|d| d.line).collect();
    // memory 512Mi > default limit 256Mi; prod's cpu 2 > inherited cpu_limit 1.
    assert!(lines.contains(&pos(&text, "\"512Mi\"").0), "{}", run.stderr);
    assert!(lines.contains(&pos(&text, "\"2\"").0), "{}", run.stderr);
}

#[test]
fn rule9_memory_in_millibytes_is_rejected() {
    let text = minimal("resources = { memory = \"100m\" }\n");
    let run = validate(&text);
    run.error(
        "`100m` is not a valid memory request",
        pos(&text, "\"100m\""),
    );
    run.assert_invalid(1);
}

#[test]
fn rule9_invalid_durations() {
    let text = minimal("resilience = { timeout = \"3 seconds\", ejection = \"0s\" }\n");
    let run = validate(&text);
    run.error(
        "`3 seconds` is not a valid timeout",
        pos(&text, "\"3 seconds\""),
    )
    .label("not a duration")
    .help("write it like `500ms`, `3s`, `1m30s`");
    run.error("`0s` is not a valid ejection time", pos(&text, "\"0s\""))
        .label("not a duration");
    run.assert_invalid(2);
}

#[test]
fn rule9_percentages_out_of_range() {
    let text = minimal(
        "autoscale = { min = 2, max = 4, cpu = 150, memory = 0 }\nslo = { availability = 100, latency_p95_ms = 0 }\n",
    );
    let run = validate(&text);
    run.error(
        "`autoscale.cpu` (percent) must be between 1 and 100",
        pos(&text, "150"),
    )
    .label("150 is out of range")
    .no_help();
    run.error(
        "`autoscale.memory` (percent) must be between 1 and 100",
        pos_after(&text, "memory =", "0"),
    )
    .label("0 is out of range");
    run.error(
        "`slo.availability` is a percentage between 0 and 99.9999",
        pos(&text, "100,"),
    )
    .label("100 is out of range")
    .help("e.g. `99.9` for three nines");
    run.error(
        "`slo.latency_p95_ms` must be between 1 and 600000",
        pos_after(&text, "latency_p95_ms", "0"),
    )
    .label("0 is out of range");
    run.assert_invalid(4);
}

#[test]
fn rule9_ports_out_of_range() {
    for (port, label) in [
        ("0", "0 is out of range"),
        ("70000", "70000 is out of range"),
        ("-1", "-1 is out of range"),
    ] {
        let text = minimal(&format!("port = {port}\n"));
        let run = validate(&text);
        run.error(
            "`port` must be between 1 and 65535",
            pos_after(&text, &format!("port = {port}\n"), port),
        )
        .label(label);
        run.assert_invalid(1);
    }
    for port in ["1", "65535"] {
        validate(&minimal(&format!("port = {port}\n"))).assert_valid_with_warnings(0);
    }
}

const EGRESS_EXAMPLE: &str = "`smtp.example.com:587`";

#[test]
fn egress_without_a_port_or_with_a_port_out_of_range() {
    let text = minimal(
        "egress = [\"smtp.example.com\", \"mail.example.com:70000\", \"mx.example.com:0\", \"relay.example.com:smtp\", \"api.example.com:\"]\n",
    );
    let run = validate(&text);
    run.error(
        "egress `smtp.example.com` has no port",
        pos(&text, "\"smtp.example.com\""),
    )
    .label("expected `host:port`")
    .help(&format!("add the port after a `:`, e.g. {EGRESS_EXAMPLE}"));
    let port_help = format!("write the port as a number from 1 to 65535, e.g. {EGRESS_EXAMPLE}");
    for (entry, label) in [
        (
            "mail.example.com:70000",
            "`70000` is not a port number 1–65535",
        ),
        ("mx.example.com:0", "`0` is not a port number 1–65535"),
        (
            "relay.example.com:smtp",
            "`smtp` is not a port number 1–65535",
        ),
        ("api.example.com:", "nothing after `:`"),
    ] {
        run.error(
            &format!("egress `{entry}` has no valid port"),
            pos(&text, &format!("\"{entry}\"")),
        )
        .label(label)
        .help(&port_help);
    }
    run.assert_invalid(5);
    // The edges of the range, and a TLS and a plain TCP port side by side, are fine.
    validate(&minimal(
        "egress = [\"a.example.com:1\", \"b.example.com:65535\", \"c.example.com:443\"]\n",
    ))
    .assert_valid_with_warnings(0);
}

#[test]
fn egress_names_a_host_outside_the_cluster_once() {
    let text = minimal(concat!(
        "egress = [\"Smtp.Example.com:587\", \"https://api.example.com:443\", \"203.0.113.7:443\",\n",
        "  \"*.example.com:443\", \"orders.demo.svc.cluster.local:8080\", \"api.example.com:443/v1\",\n",
        "  \"smtp:587\", \"pay.example.com:443\", \"pay.example.com:443\"]\n",
    ));
    let run = validate(&text);
    let dns_help = format!("write a lowercase DNS name and a port, e.g. {EGRESS_EXAMPLE}");
    run.error(
        "egress `Smtp.Example.com:587` has an invalid host name",
        pos(&text, "\"Smtp.Example.com:587\""),
    )
    .label("host names are written in lowercase")
    .help(&dns_help);
    run.error(
        "egress `smtp:587` has an invalid host name",
        pos(&text, "\"smtp:587\""),
    )
    .label("a single label resolves inside the cluster; write the full name")
    .help(&dns_help);
    run.error(
        "egress `https://api.example.com:443` is a URL, not `host:port`",
        pos(&text, "\"https://api"),
    )
    .label("a scheme (`…://`)")
    .help(&format!(
        "write the host and the port only, e.g. {EGRESS_EXAMPLE}"
    ));
    run.error(
        "egress `203.0.113.7:443` names an IP address",
        pos(&text, "\"203.0.113.7:443\""),
    )
    .label("not a host name")
    .help("declare a host name: the mesh knows external hosts by name, and addresses change");
    run.error(
        "egress `*.example.com:443` has a wildcard",
        pos(&text, "\"*.example.com:443\""),
    )
    .label("wildcard hosts are not supported")
    .help(&format!("list each host name, e.g. {EGRESS_EXAMPLE}"));
    run.error(
        "egress `orders.demo.svc.cluster.local:8080` is a name inside the cluster",
        pos(&text, "\"orders.demo"),
    )
    .label("egress is for hosts outside the cluster")
    .help("a service of this platform is reached through `calls`");
    run.error(
        "egress `api.example.com:443/v1` has a path",
        pos(&text, "\"api.example.com:443/v1\""),
    )
    .label("`/` after the host");
    run.error(
        "egress `pay.example.com:443` is listed twice",
        pos(&text, "\"pay.example.com:443\"]"),
    )
    .label("duplicate entry")
    .help("remove one of them");
    run.assert_invalid(8);
}

#[test]
fn an_invalid_egress_stops_apply_and_writes_nothing() {
    let text = minimal("egress = [\"smtp.example.com\"]\n");
    let dir = platform(&text);
    let before = read_tree(dir.path());
    let run = run_in(
        dir.path(),
        &["apply", "--yes"],
        &["-f", "service.toml", "-o", "out"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("--> service.toml:"), "{}", run.stderr);
    run.error(
        "egress `smtp.example.com` has no port",
        pos(&text, "\"smtp.example.com\""),
    );
    assert!(
        !dir.path().join("out").exists(),
        "created the output folder"
    );
    assert_eq!(read_tree(dir.path()), before, "wrote something");
}

#[test]
fn rule9_replicas_retries_and_connections_out_of_range() {
    let text = minimal("resilience = { retries = 11, consecutive_errors = 0, max_connections = 0 }\n\n[services.api.environments.dev]\nreplicas = 0\n")
        .replace("[environments.prod]", "[environments.prod]\nreplicas = -3");
    let run = validate(&text);
    run.error("`retries` must be between 0 and 10", pos(&text, "11"))
        .label("11 is out of range");
    run.error(
        "`consecutive_errors` must be between 1 and 1000",
        pos_after(&text, "consecutive_errors", "0"),
    );
    run.error(
        "`max_connections` must be between 1 and 1000000",
        pos_after(&text, "max_connections", "0"),
    );
    let replicas: Vec<(usize, usize)> = run
        .diags
        .iter()
        .filter(|d| d.message == "`replicas` must be between 1 and 1000")
        .map(|d| (d.line, d.col))
        .collect();
    assert_eq!(
        replicas,
        vec![pos(&text, "-3"), pos_after(&text, "replicas = 0", "0")],
        "{}",
        run.stderr
    );
    run.assert_invalid(5);
}

#[test]
fn rule9_autoscale_min_above_max() {
    let text = minimal("autoscale = { min = 5, max = 2, cpu = 70 }\n");
    let run = validate(&text);
    run.error(
        "`autoscale.min` (5) is greater than `autoscale.max` (2)",
        pos(&text, "5,"),
    )
    .label("min > max");
    run.assert_invalid(1);
}

#[test]
fn rule9_autoscale_min_above_max_after_merging_an_override() {
    let text = minimal(
        "autoscale = { min = 2, max = 4, cpu = 70 }\n\n[services.api.environments.prod]\nautoscale = { min = 6 }\n",
    );
    let run = validate(&text);
    run.error(
        "in `prod`, `autoscale.min` (6) would exceed `autoscale.max` (4)",
        pos(&text, "6 }"),
    )
    .label("min > max after merging with the service's autoscale");
    run.assert_invalid(1);
}

#[test]
fn rule9_autoscale_needs_bounds_and_a_target() {
    let text = minimal("autoscale = { min = 2 }\n");
    let run = validate(&text);
    let at = pos(&text, "{ min = 2 }");
    run.error("`autoscale` needs `max`", at)
        .help("e.g. `autoscale = { min = 2, max = 10, cpu = 70 }`");
    run.error("`autoscale` needs a `cpu` or `memory` target", at);
    run.assert_invalid(2);
}

#[test]
fn rule9_canary_weight_outside_1_to_99() {
    for (weight, ok) in [
        ("0", false),
        ("100", false),
        ("-5", false),
        ("1", true),
        ("99", true),
    ] {
        let text = minimal(&format!(
            "release = {{ strategy = \"canary\", weight = {weight} }}\n"
        ));
        let run = validate(&text);
        if ok {
            run.assert_valid_with_warnings(0);
        } else {
            run.error(
                "the canary weight must be between 1 and 99",
                pos(&text, &format!("{weight} }}")),
            )
            .label(&format!("{weight} is out of range"));
            run.assert_invalid(1);
        }
    }
}

#[test]
fn rule9_weight_only_with_a_canary() {
    let text = minimal(
        "release = { strategy = \"blue-green\", weight = 20 }\n\n[services.api.environments.prod]\nrelease = { weight = 30 }\n",
    );
    let run = validate(&text);
    run.error(
        "`weight` only applies to `strategy = \"canary\"`",
        pos(&text, "20"),
    )
    .label("no canary here");
    // The override inherits blue-green: still no canary.
    run.error(
        "`weight` only applies to `strategy = \"canary\"`",
        pos(&text, "30"),
    );
    // …unless it is inherited from a canary.
    let ok = minimal(
        "release = { strategy = \"canary\" }\n\n[services.api.environments.prod]\nrelease = { weight = 30 }\n",
    );
    validate(&ok).assert_valid_with_warnings(0);
}

// Canary steps (`release.steps`).

const STEP_HELP: &str =
    "a step is `{ weight = 20 }`, `{ pause = \"5m\" }` or `{ analysis = true }`";

/// A canary service with `steps = [<steps>]`.
fn canary_steps(steps: &str) -> String {
    minimal(&format!(
        "release = {{ strategy = \"canary\", steps = [{steps}] }}\n"
    ))
}

#[test]
fn rule1_steps_of_the_wrong_shape() {
    let text = canary_steps(
        "{ weight = \"10\" }, { pause = 5 }, { analysis = \"yes\" }, \"wait\", { wieght = 10 }",
    );
    let run = validate(&text);
    run.error(
        "`services.api.release.steps.weight` must be an integer",
        pos(&text, "\"10\""),
    )
    .label("found a string");
    run.error(
        "`services.api.release.steps.pause` must be a string",
        pos(&text, "5 }"),
    )
    .label("found an integer");
    run.error(
        "`services.api.release.steps.analysis` must be true or false",
        pos(&text, "\"yes\""),
    )
    .label("found a string");
    run.error(
        "every entry of `services.api.release.steps` must be an inline table",
        pos(&text, "\"wait\""),
    )
    .label("found a string")
    .help(STEP_HELP);
    run.error(
        "unknown key `wieght` in `[services.api.release.steps]`",
        pos(&text, "wieght"),
    )
    .label("not a known key")
    .help("did you mean `weight`?");
    run.assert_invalid(5);

    let text = minimal("release = { strategy = \"canary\", steps = 5 }\n");
    let run = validate(&text);
    run.error(
        "`services.api.release.steps` must be an array of steps",
        pos(&text, "5 }"),
    )
    .label("found an integer");
    run.assert_invalid(1);
}

#[test]
fn rule1_steps_may_be_written_as_an_array_of_tables() {
    let text = minimal(
        "\n[services.api.release]\nstrategy = \"canary\"\n\n[[services.api.release.steps]]\nweight = 30\n\n[[services.api.release.steps]]\nanalysis = true\n\n[[services.api.release.steps]]\nweight = 20\n",
    );
    let run = validate(&text);
    run.error(
        "the canary weight cannot go down: 20 after 30",
        pos(&text, "20"),
    )
    .label("below 30");
    run.assert_invalid(1);
    validate(&text.replace("weight = 20", "weight = 100")).assert_valid_with_warnings(0);
}

#[test]
fn rule9_step_weights_are_bounded_and_never_go_down() {
    let text = canary_steps(
        "{ weight = 30 }, { analysis = true }, { weight = 0 }, { weight = 101 }, { weight = 25 }, { weight = 30 }, { weight = 100 }",
    );
    let run = validate(&text);
    run.error(
        "a step's `weight` must be between 1 and 100",
        pos_after(&text, "weight = 0 ", "0"),
    )
    .label("0 is out of range")
    .no_help();
    run.error(
        "a step's `weight` must be between 1 and 100",
        pos(&text, "101"),
    )
    .label("101 is out of range");
    // Out-of-range weights do not count as the highest so far; equal weights are fine.
    run.error(
        "the canary weight cannot go down: 25 after 30",
        pos(&text, "25"),
    )
    .label("below 30")
    .help("a canary only gains traffic; a failing analysis is what sends it back");
    run.assert_invalid(3);

    // A last weight below 100 is fine: the controller promotes fully after the last step.
    validate(&canary_steps(
        "{ weight = 1 }, { pause = \"30s\" }, { analysis = true }, { weight = 40 }",
    ))
    .assert_valid_with_warnings(0);
}

#[test]
fn rule9_pauses_are_durations_above_zero() {
    let text = canary_steps(
        "{ pause = \"0s\" }, { pause = \"5 minutes\" }, { pause = \"1h\" }, { analysis = true }",
    );
    let run = validate(&text);
    run.error("`0s` is not a valid pause", pos(&text, "\"0s\""))
        .label("not a duration above zero")
        .help("write it like `30s`, `5m`, `1h`");
    run.error(
        "`5 minutes` is not a valid pause",
        pos(&text, "\"5 minutes\""),
    )
    .label("not a duration above zero");
    run.assert_invalid(2);
}

#[test]
fn steps_only_with_a_canary() {
    let text = minimal(
        "release = { strategy = \"blue-green\", steps = [{ weight = 20 }, { analysis = true }] }\n\n[services.api.environments.prod]\nrelease = { steps = [{ weight = 30 }, { analysis = true }] }\n",
    );
    let run = validate(&text);
    run.error(
        "`steps` only apply to `strategy = \"canary\"`",
        pos(&text, "[{ weight = 20"),
    )
    .label("no canary here")
    .no_help();
    // The override inherits blue-green: still no canary.
    run.error(
        "`steps` only apply to `strategy = \"canary\"`",
        pos(&text, "[{ weight = 30"),
    );
    run.assert_invalid(2);

    // Without a strategy anywhere, the default (rolling) is in effect.
    let rolling = minimal(
        "\n[services.api.environments.prod]\nrelease = { steps = [{ analysis = true }] }\n",
    );
    validate(&rolling).error(
        "`steps` only apply to `strategy = \"canary\"`",
        pos(&rolling, "[{ analysis"),
    );

    // A canary inherited or set in the override, and an override leaving the canary.
    let ok = minimal(
        "release = { strategy = \"canary\", steps = [{ weight = 20 }, { analysis = true }] }\n\n[services.api.environments.dev]\nrelease = { strategy = \"rolling\" }\n\n[services.api.environments.prod]\nrelease = { steps = [{ weight = 30 }, { analysis = true }] }\n\n[services.web]\nruntime = \"go\"\napis = [\"/web\"]\n\n[services.web.environments.prod]\nrelease = { strategy = \"canary\", steps = [{ analysis = true }] }\n",
    );
    validate(&ok).assert_valid_with_warnings(0);
}

#[test]
fn each_step_does_exactly_one_thing() {
    let text = canary_steps(
        "{}, { weight = 10, pause = \"1m\" }, { weight = 20, pause = \"2m\", analysis = true }, { analysis = true }",
    );
    let run = validate(&text);
    run.error(
        "a step needs one of `weight`, `pause` or `analysis`",
        pos(&text, "{}"),
    )
    .label("empty step")
    .help(STEP_HELP);
    run.error(
        "a step has exactly one of `weight`, `pause` or `analysis`",
        pos(&text, "{ weight = 10"),
    )
    .label("`weight` and `pause` in one step")
    .help("split it into one step per key, in the order they should happen");
    run.error(
        "a step has exactly one of `weight`, `pause` or `analysis`",
        pos(&text, "{ weight = 20"),
    )
    .label("`weight`, `pause` and `analysis` in one step");
    run.assert_invalid(3);
}

#[test]
fn analysis_false_is_not_a_step() {
    let text = canary_steps("{ weight = 10 }, { analysis = false }");
    let run = validate(&text);
    run.error("`analysis = false` is not a step", pos(&text, "false"))
        .label("only `true` runs the analysis")
        .help("leave this step out to skip the analysis here");
    // An error already: no warning about the missing analysis on top.
    assert!(run.warnings().is_empty(), "{}", run.stderr);
    run.assert_invalid(1);
}

#[test]
fn steps_are_not_empty_and_at_most_twenty() {
    let text = canary_steps("");
    let run = validate(&text);
    run.error("`steps` is empty", pos(&text, "[]"))
        .label("no step")
        .help("leave `steps` out for the default steps, or list at least one");
    run.assert_invalid(1);

    let mut steps = vec!["{ analysis = true }"; 1];
    steps.extend(["{ pause = \"1m\" }"; 19]);
    steps.push("{ pause = \"2m\" }");
    let text = minimal(&format!(
        "\n[services.api.environments.prod]\nrelease = {{ strategy = \"canary\", steps = [{}] }}\n",
        steps.join(", ")
    ));
    let run = validate(&text);
    run.error(
        "a canary has at most 20 steps, `api` in `prod` has 21",
        pos(&text, "{ pause = \"2m\" }"),
    )
    .label("step 21")
    .help("take fewer, larger steps");
    run.assert_invalid(1);
    validate(&text.replace(", { pause = \"2m\" }", "")).assert_valid_with_warnings(0);
}

// ---------------------------------------------------------------------------------------
// Error 10: at least one environment and one service
// ---------------------------------------------------------------------------------------

#[test]
fn rule10_no_environments_and_no_services() {
    let head = "[platform]\nname = \"demo\"\nregistry = \"ghcr.io/acme\"\nrepository = \"https://github.com/acme/demo.git\"\n";
    // Absent: reported at the start of the file.
    let run = validate(head);
    run.error("no environments declared", (1, 1))
        .help("add at least one, e.g. `[environments.dev]`");
    run.error("no services declared", (1, 1))
        .help("add at least one, e.g. `[services.api]` with `runtime = \"go\"`");
    run.assert_invalid(2);

    // Present but empty: reported at the table.
    let text = format!("{head}\n[environments]\n\n[services]\n");
    let run = validate(&text);
    run.error(
        "no environments declared",
        pos_after(&text, "[environments]", "environments"),
    );
    run.error(
        "no services declared",
        pos_after(&text, "[services]", "services"),
    );
    run.assert_invalid(2);
}

// ---------------------------------------------------------------------------------------
// Warnings: printed, exit 0; `--deny-warnings` makes them errors
// ---------------------------------------------------------------------------------------

/// A warning alone exits 0 (and says so), and exits 1 under `--deny-warnings`.
fn assert_denied(text: &str, warnings: usize) {
    let run = validate_with(text, &["--deny-warnings"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.warnings().len(), warnings, "{}", run.stderr);
    let noun = if warnings == 1 { "error" } else { "errors" };
    assert!(
        run.stderr.trim_end().ends_with(&format!(
            "error: service.toml is invalid: {warnings} {noun} (warnings denied)"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn warning1_a_cycle_of_synchronous_calls() {
    let text = with_services(
        r#"[services.orders]
runtime = "go"
calls = ["billing"]

[services.billing]
runtime = "go"
calls = ["orders"]
"#,
    );
    let run = validate(&text);
    run.warning("synchronous call cycle: orders → billing → orders", pos(&text, "\"orders\"]"))
        .label("this call closes the cycle")
        .help("a cycle of synchronous calls is a distributed monolith in the making: break it with an event");
    run.assert_valid_with_warnings(1);
    assert_denied(&text, 1);
}

#[test]
fn warning1_a_longer_cycle_is_reported_once() {
    let text = with_services(
        r#"[services.a]
runtime = "go"
calls = ["b"]

[services.b]
runtime = "go"
calls = ["c"]

[services.c]
runtime = "go"
calls = ["a"]

[services.d]
runtime = "go"
calls = ["a", "b"]
"#,
    );
    let run = validate(&text);
    run.warning(
        "synchronous call cycle: a → b → c → a",
        pos_after(&text, "calls = [\"a\"]", "\"a\""),
    );
    run.assert_valid_with_warnings(1);
}

#[test]
fn warning2_datastore_and_owns_go_together() {
    let text = with_services(
        r#"[services.cache]
runtime = "go"
datastore = "redis"

[services.orders]
runtime = "go"
owns = ["orders"]

[services.ledger]
runtime = "go"
owns = ["entries"]
datastore = "none"
"#,
    );
    let run = validate(&text);
    run.warning(
        "`cache` has a redis datastore but owns no data",
        pos(&text, "\"redis\""),
    )
    .label("nothing in `owns`")
    .help("list the data it keeps in `owns`, or drop the datastore");
    run.warning(
        "`orders` owns data but has no datastore",
        pos(&text, "\"orders\"]"),
    )
    .label("owned here")
    .help("set `datastore`, e.g. `datastore = \"postgres\"`");
    run.warning(
        "`ledger` owns data but has no datastore",
        pos(&text, "\"entries\""),
    );
    run.assert_valid_with_warnings(3);
    assert_denied(&text, 3);
}

#[test]
fn warning3_liveness_and_readiness_on_the_same_path() {
    let text = with_services(
        r#"[services.api]
runtime = "go"
apis = ["/api"]
health = { liveness = "/healthz", readiness = "/healthz" }

[services.web]
runtime = "node"
calls = ["api"]
health = { liveness = "/readyz" }
"#,
    );
    let run = validate(&text);
    run.warning(
        "`api` uses `/healthz` for both liveness and readiness",
        pos(&text, "\"/healthz\" }"),
    )
    .label("same path")
    .help(
        "liveness says \"restart me\", readiness \"send me traffic\": give them separate endpoints",
    );
    // The default readiness path is `/readyz`.
    run.warning(
        "`web` uses `/readyz` for both liveness and readiness",
        pos(&text, "\"/readyz\""),
    );
    run.assert_valid_with_warnings(2);
    assert_denied(&text, 2);
}

#[test]
fn warning4_production_runs_fewer_than_two_replicas() {
    let text = r#"[platform]
name = "demo"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/demo.git"

[environments.dev]
replicas = 1

[environments.prod]
replicas = 1

[services.api]
runtime = "go"
apis = ["/api"]

[services.web]
runtime = "node"
calls = ["api"]

[services.web.environments.prod]
replicas = 3

[services.worker]
runtime = "python"
calls = ["api"]
autoscale = { min = 1, max = 5, cpu = 70 }

[services.batch]
runtime = "go"
calls = ["api"]
autoscale = { min = 2, max = 5, cpu = 70 }

[services.batch.environments.prod]
autoscale = { min = 1 }
"#;
    let run = validate(text);
    // The environment's replicas apply to `api`; `web` overrides them; one warning per
    // service, pointing at the value that decides.
    run.warning(
        "`api` runs 1 replica in production (`prod`)",
        pos_after(text, "[environments.prod]", "1"),
    )
    .label("fewer than 2 replicas")
    .help("one replica cannot survive a node failure or a rolling update: use at least 2");
    run.warning(
        "`worker` may scale down to 1 replica in production (`prod`)",
        pos_after(text, "min = 1, max = 5", "1"),
    )
    .label("autoscale.min < 2");
    run.warning(
        "`batch` may scale down to 1 replica in production (`prod`)",
        pos_after(text, "min = 1 }", "1"),
    );
    run.assert_valid_with_warnings(3);
    assert_denied(text, 3);
}

#[test]
fn warning4_only_the_last_environment_counts() {
    let text = minimal("autoscale = { min = 2, max = 4, cpu = 70 }\n\n[services.api.environments.dev]\nautoscale = { min = 1 }\nreplicas = 1\n")
        .replace("[environments.dev]", "[environments.dev]\nreplicas = 1");
    validate(&text).assert_valid_with_warnings(0);

    let text = minimal("\n[services.api.environments.prod]\nreplicas = 1\n");
    let run = validate(&text);
    run.warning(
        "`api` runs 1 replica in production (`prod`)",
        pos(&text, "1\n"),
    );
    run.assert_valid_with_warnings(1);
}

#[test]
fn warning6_a_service_without_a_role_is_no_domain_boundary() {
    let text = with_services(
        "[services.api]\nruntime = \"go\"\napis = [\"/api\"]\n\n[services.idle]\nruntime = \"go\"\n",
    );
    let run = validate(&text);
    run.warning(
        "`idle` owns no data and has no role (no apis, calls, callers or events): it is no domain boundary",
        pos(&text, "idle]"),
    )
    .label("a service with nothing to do");
    run.assert_valid_with_warnings(1);
    assert_denied(&text, 1);
    // Being called is a role: `api` calls it.
    let called = text.replace("apis = [\"/api\"]", "apis = [\"/api\"]\ncalls = [\"idle\"]");
    validate(&called).assert_valid_with_warnings(0);
    // Audit fails item 1 for the same service, and passes it once validation is quiet.
    let dir = platform(&text);
    bulkhead(dir.path())
        .args(["apply", "--yes", "-q"])
        .assert()
        .success();
    let audit = run_in(dir.path(), &["audit"], &["-q"]);
    assert!(
        audit.stdout.contains("idle owns no data and has no role"),
        "{}",
        audit.stdout
    );
    let dir = platform(&called);
    bulkhead(dir.path())
        .args(["apply", "--yes", "-q"])
        .assert()
        .success();
    let audit = run_in(dir.path(), &["audit"], &[]);
    let item1 = audit
        .stdout
        .lines()
        .find(|l| l.contains("services split by domain"))
        .unwrap();
    assert!(item1.contains(" pass "), "{item1}");
}

// ---------------------------------------------------------------------------------------
// One mistake, one diagnostic: nothing derived from a value already reported
// ---------------------------------------------------------------------------------------

#[test]
fn a_misspelt_required_key_is_reported_once_as_unknown() {
    let text = with_services("[services.api]\nruntim = \"go\"\napis = [\"/api\"]\n");
    let run = validate(&text);
    run.error(
        "unknown key `runtim` in `[services.api]`",
        pos(&text, "runtim"),
    )
    .help("did you mean `runtime`?");
    run.assert_invalid(1);
    // A key that resembles nothing required still leaves `runtime` missing.
    let text = with_services("[services.api]\nflavour = \"go\"\napis = [\"/api\"]\n");
    let run = validate(&text);
    run.error(
        "`[services.api]` is missing the required key `runtime`",
        pos(&text, "api]"),
    );
    run.assert_invalid(2);
}

#[test]
fn an_unknown_datastore_adds_no_warning_about_the_datastore() {
    for service in [
        "[services.api]\nruntime = \"go\"\nowns = [\"orders\"]\ndatastore = \"postgress\"\n",
        "[services.api]\nruntime = \"go\"\ndatastore = \"postgress\"\n",
    ] {
        let text = with_services(service);
        let run = validate(&text);
        run.error("unknown datastore `postgress`", pos(&text, "\"postgress\""))
            .help("did you mean `postgres`?");
        run.assert_invalid(1);
        assert!(run.warnings().is_empty(), "{}", run.stderr);
    }
}

#[test]
fn a_misspelt_call_never_suggests_the_caller_and_leaves_its_target_alone() {
    let text = with_services(
        "[services.orders]\nruntime = \"go\"\napis = [\"/orders\"]\ncalls = [\"order\"]\n\n[services.ordering]\nruntime = \"go\"\n",
    );
    let run = validate(&text);
    // `order` is closest to `orders` itself, which cannot be meant.
    run.error(
        "`orders` calls unknown service `order`",
        pos(&text, "\"order\""),
    )
    .help("did you mean `ordering`?");
    // `ordering` is not reported as idle: the misspelt call means it.
    run.assert_invalid(1);
    assert!(run.warnings().is_empty(), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------
// Cross-cutting guarantees
// ---------------------------------------------------------------------------------------

#[test]
fn warning5_canary_steps_without_an_analysis() {
    let text = minimal(
        "release = { strategy = \"canary\", steps = [{ weight = 10 }, { pause = \"5m\" }, { weight = 100 }] }\n\n[services.api.environments.prod]\nrelease = { steps = [{ weight = 50 }] }\n",
    );
    let run = validate(&text);
    run.warning(
        "the canary steps of `api` never run the analysis",
        pos(&text, "[{ weight = 10"),
    )
    .label("no `{ analysis = true }` step")
    .help("add `{ analysis = true }` after a pause: without it nothing checks the SLO before full promotion");
    run.warning(
        "the canary steps of `api` in `prod` never run the analysis",
        pos(&text, "[{ weight = 50"),
    );
    run.assert_valid_with_warnings(2);
    assert_denied(&text, 2);
    // The default steps run it.
    validate(&minimal("release = { strategy = \"canary\" }\n")).assert_valid_with_warnings(0);
}

#[test]
fn all_problems_are_reported_in_one_run_sorted_by_position() {
    // Written so that the rules' own order (names, owners, calls, …, values) differs from
    // the file order.
    let text = r#"[platform]
name = "demo"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/demo.git"

[environments.dev]

[environments.prod]

[services.api]
runtime = "go"
port = 70000
calls = ["billing"]
owns = ["orders"]
datastore = "postgres"
typo = 1

[services.Shop]
runtime = "go"
owns = ["orders"]
datastore = "postgres"
calls = ["shop"]
"#;
    let run = validate(text);
    run.assert_invalid(6);
    let expected = [
        ("`port` must be between 1 and 65535", pos(text, "70000")),
        (
            "`api` calls unknown service `billing`",
            pos(text, "\"billing\""),
        ),
        ("unknown key `typo` in `[services.api]`", pos(text, "typo")),
        (
            "service name `Shop` is not a valid DNS-1123 label",
            pos(text, "Shop]"),
        ),
        (
            "\"orders\" is owned by both api and Shop",
            pos_after(text, "Shop]", "\"orders\""),
        ),
        ("`Shop` calls unknown service `shop`", pos(text, "\"shop\"")),
    ];
    let got: Vec<(&str, (usize, usize))> = run
        .diags
        .iter()
        .map(|d| (d.message.as_str(), (d.line, d.col)))
        .collect();
    assert_eq!(got, expected, "\n{}", run.stderr);
}

#[test]
fn errors_and_warnings_together_exit_1_and_count_both() {
    let text = minimal("port = 0\nhealth = { liveness = \"/z\", readiness = \"/z\" }\n");
    let run = validate(&text);
    run.error("`port` must be between 1 and 65535", pos(&text, "0\n"));
    run.warning(
        "`api` uses `/z` for both liveness and readiness",
        pos_after(&text, "readiness", "\"/z\""),
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .trim_end()
            .ends_with("error: service.toml is invalid: 1 error, 1 warning"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_diagnostic_is_rendered_exactly() {
    let text = minimal("calls = []\nprot = 8080\n");
    let run = validate(&text);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "\
error: unknown key `prot` in `[services.api]`
  --> service.toml:14:1
   |
14 | prot = 8080
   | ^^^^ not a known key
   |
help: did you mean `port`?

error: service.toml is invalid: 1 error
"
    );
}

#[test]
fn a_value_error_is_rendered_exactly() {
    let text = minimal("autoscale = { min = 5, max = 2, cpu = 70 }\n");
    let run = validate(&text);
    assert_eq!(
        run.stderr,
        "\
error: `autoscale.min` (5) is greater than `autoscale.max` (2)
  --> service.toml:13:21
   |
13 | autoscale = { min = 5, max = 2, cpu = 70 }
   |                     ^ min > max

error: service.toml is invalid: 1 error
"
    );
}

#[test]
fn warnings_are_rendered_exactly_and_the_run_succeeds() {
    let text = minimal("datastore = \"postgres\"\n");
    let run = validate(&text);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stderr,
        "\
warning: `api` has a postgres datastore but owns no data
  --> service.toml:13:13
   |
13 | datastore = \"postgres\"
   |             ^^^^^^^^^^ nothing in `owns`
   |
help: list the data it keeps in `owns`, or drop the datastore

"
    );
    assert_eq!(
        run.stdout,
        "service.toml is valid: 1 service, 2 environments, 1 warning\n"
    );
}

#[test]
fn an_error_at_the_end_of_a_line_gets_a_single_caret() {
    let text = minimal("port = \nowns = []\n");
    let run = validate(&text);
    assert!(!run.stderr.contains("|_"), "{}", run.stderr);
    assert!(!run.stderr.contains("__^"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("owns = []"),
        "the next line is not part of the error:\n{}",
        run.stderr
    );
}

#[test]
fn validate_finds_service_toml_in_the_current_folder() {
    let text = minimal("prot = 8080\n");
    let dir = platform(&text);
    let output = bulkhead(dir.path())
        .arg("validate")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let location = stderr
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .unwrap_or_else(|| panic!("no location in:\n{stderr}"));
    let (line, col) = pos(&text, "prot");
    assert!(
        location.ends_with(&format!("service.toml:{line}:{col}")),
        "{location}"
    );
}

#[test]
fn plan_and_apply_refuse_invalid_input_and_write_nothing() {
    let text = minimal("calls = [\"nobody\"]\n");
    for args in [
        &["plan"][..],
        &["plan", "--check"][..],
        &["apply", "--yes"][..],
    ] {
        let dir = platform(&text);
        let before = read_tree(dir.path());
        let run = run_in(dir.path(), args, &["-f", "service.toml", "-o", "out"]);
        assert_eq!(run.code, 1, "{args:?}:\n{}", run.stderr);
        run.error(
            "`api` calls unknown service `nobody`",
            pos(&text, "\"nobody\""),
        );
        assert!(
            !dir.path().join("out").exists(),
            "{args:?} created the output folder"
        );
        assert_eq!(read_tree(dir.path()), before, "{args:?} wrote something");
    }
}

#[test]
fn plan_and_apply_refuse_denied_warnings_and_write_nothing() {
    let text = minimal("owns = [\"orders\"]\n");
    for args in [
        &["plan", "--deny-warnings"][..],
        &["apply", "--yes", "--deny-warnings"][..],
    ] {
        let dir = platform(&text);
        let run = run_in(dir.path(), args, &["-f", "service.toml", "-o", "out"]);
        assert_eq!(run.code, 1, "{args:?}:\n{}", run.stderr);
        run.warning(
            "`api` owns data but has no datastore",
            pos(&text, "\"orders\""),
        );
        assert!(
            !dir.path().join("out").exists(),
            "{args:?} created the output folder"
        );
        assert_eq!(read_tree(dir.path()).len(), 1, "{args:?} wrote something");
    }
}

#[test]
fn a_syntax_error_stops_plan_and_apply_too() {
    let text = minimal("port = = 1\n");
    for args in [&["plan"][..], &["apply", "--yes"][..]] {
        let dir = platform(&text);
        let run = run_in(dir.path(), args, &["-f", "service.toml", "-o", "out"]);
        assert_eq!(run.code, 1, "{args:?}:\n{}", run.stderr);
        assert_eq!(
            run.errors()[0].line,
            pos(&text, "port = =").0,
            "{}",
            run.stderr
        );
        assert!(!dir.path().join("out").exists());
    }
}

#[test]
fn the_examples_are_valid_without_warnings() {
    for name in crate::common::EXAMPLES {
        let path = example(name);
        let output = bulkhead(&crate::common::root())
            .args(["validate", "--deny-warnings", "-f"])
            .arg(&path)
            .output()
            .expect("bulkhead runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{name}:\n{stderr}");
        assert_eq!(stderr, "", "{name} printed diagnostics");
    }
}

#[test]
fn warning_a_plain_setting_that_looks_like_a_secret() {
    let text = minimal(
        "env = { LOG_LEVEL = \"info\", API_TOKEN = \"abc\" }\n\n[services.api.environments.prod]\nenv = { DB_PASSWORD_FILE = \"/x\" }\n",
    );
    let run = validate(&text);
    run.warning("`API_TOKEN` looks like a secret but is a plain setting", pos(&text, "API_TOKEN"))
        .label("contains `TOKEN`")
        .help("list its name in `secrets` (the value then comes from the Secret `<service>-secrets`), or rename it");
    run.warning(
        "`DB_PASSWORD_FILE` looks like a secret but is a plain setting",
        pos(&text, "DB_PASSWORD_FILE"),
    )
    .label("contains `PASSWORD`");
    run.assert_valid_with_warnings(2);
}

#[test]
fn rule3_a_service_cannot_take_the_platform_name() {
    let text = minimal("\n[services.demo]\nruntime = \"go\"\n");
    let run = validate(&text);
    run.error(
        "service `demo` has the platform's name",
        pos(&text, "demo]"),
    )
    .label("the platform's Argo CD applications already use this name");
    run.assert_invalid(1);
}

#[test]
fn rule9_availability_keeps_an_error_budget() {
    let seven_nines = minimal("slo = { availability = 99.99999 }\n");
    let run = validate(&seven_nines);
    run.error(
        "`slo.availability` is a percentage between 0 and 99.9999",
        pos(&seven_nines, "99.99999"),
    );
    run.assert_invalid(1);
    validate(&minimal("slo = { availability = 99.9999 }\n")).assert_valid_with_warnings(0);
}

#[test]
fn rule1_control_characters_are_refused_in_free_text() {
    let text = minimal(
        "description = \"bell\\u0007\"\nenv = { A = \"del\\u007f\", B = \"tab\\tand\\nnewline\" }\n",
    );
    let run = validate(&text);
    run.error(
        "the description contains the control character U+0007",
        pos(&text, "\"bell"),
    )
    .label("not allowed in Kubernetes manifests");
    run.error(
        "the value contains the control character U+007F",
        pos(&text, "\"del"),
    );
    run.assert_invalid(2);
}

#[test]
fn rule9_a_backlog_needs_topics_to_be_behind_on() {
    let text = with_services(
        r#"[services.api]
runtime = "go"
apis = ["/api"]
autoscale = { min = 2, max = 4, backlog = 100 }

[services.worker]
runtime = "go"
publishes = ["job.queued"]
consumes = ["job.queued"]

[services.worker.environments.prod]
autoscale = { min = 2, max = 8, backlog = 0 }
"#,
    );
    let run = validate(&text);
    run.error(
        "`autoscale.backlog` scales on pending messages, but this service consumes no topic",
        pos(&text, "100"),
    )
    .label("nothing to be behind on")
    .help("add the topics it reads to `consumes`, or scale on `cpu`/`memory` instead");
    run.error(
        "`autoscale.backlog` (pending messages per replica) must be between 1 and 1000000",
        pos_after(&text, "max = 8, backlog = ", "0 }"),
    );
    run.assert_invalid(2);
    // A backlog alone is a target: no `cpu` or `memory` is needed.
    let fine = text
        .replace("autoscale = { min = 2, max = 4, backlog = 100 }\n", "")
        .replace("backlog = 0", "backlog = 10");
    validate(&fine).assert_valid_with_warnings(0);
}

#[test]
fn rule6_the_broker_names_are_taken() {
    let text = with_services(
        r#"[services.nats]
runtime = "go"
publishes = ["a.b"]

[services.worker]
runtime = "go"
publishes = ["a_b"]
consumes = ["a.b", "a_b"]
"#,
    );
    let run = validate(&text);
    run.error(
        "a service named `nats` would collide with the event broker's objects",
        pos(&text, "nats]"),
    )
    .label("taken by the broker");
    run.error(
        "topics \"a.b\" and \"a_b\" would share the broker's stream `a-b`",
        pos(&text, "\"a_b\"]\nconsumes"),
    )
    .label("same stream name");
    run.assert_invalid(2);
}

#[test]
fn rule2_the_gateway_settings_are_kubernetes_names() {
    let text = minimal("").replace(
        "repository = \"https://github.com/acme/demo.git\"",
        "repository = \"https://github.com/acme/demo.git\"\ngateway = { namespace = \"Edge\", labels = { \"bad key!\" = \"edge\", istio = \"-x\" }, service_account = \"gw_1\" }",
    );
    let run = validate(&text);
    run.error(
        "gateway namespace `Edge` is not a valid DNS-1123 label",
        pos(&text, "\"Edge\""),
    );
    run.error(
        "gateway service account `gw_1` is not a valid DNS-1123 label",
        pos(&text, "\"gw_1\""),
    );
    run.error(
        "`bad key!` is not a Kubernetes label key",
        pos(&text, "\"bad key!\""),
    )
    .label("not a label key");
    run.error("`-x` is not a Kubernetes label value", pos(&text, "\"-x\""))
        .label("not a label value");
    run.assert_invalid(4);
    let empty = minimal("").replace(
        "repository = \"https://github.com/acme/demo.git\"",
        "repository = \"https://github.com/acme/demo.git\"\ngateway = { labels = {} }",
    );
    let run = validate(&empty);
    run.error(
        "`gateway.labels` is empty: it would select every pod",
        pos(&empty, "{ labels"),
    );
    run.assert_invalid(1);
}

fn with_platform_line(line: &str, envs: &str) -> String {
    minimal("")
        .replace(
            "repository = \"https://github.com/acme/demo.git\"",
            &format!("repository = \"https://github.com/acme/demo.git\"\n{line}"),
        )
        .replace("[environments.dev]\n\n[environments.prod]\n", envs)
}

#[test]
fn rule1_the_tls_mode_is_one_of_its_choices() {
    let text = with_platform_line(
        "tls = { mode = \"cert-manger\", issuer = \"letsencrypt\" }",
        "[environments.dev]\n\n[environments.prod]\n",
    );
    let run = validate(&text);
    run.error(
        "unknown TLS mode `cert-manger`",
        pos(&text, "\"cert-manger\""),
    )
    .label("expected one of \"secret\", \"cert-manager\"")
    .help("did you mean `cert-manager`?");
    run.assert_invalid(1);
    // The mode alone, where a table is expected: the table to write instead.
    let text = with_platform_line(
        "tls = \"cert-manager\"",
        "[environments.dev]\n\n[environments.prod]\n",
    );
    let run = validate(&text);
    run.error("`platform.tls` must be a table", pos(&text, "\"cert-manager\""))
        .label("found a string")
        .help("write `tls = { mode = \"cert-manager\", issuer = \"...\" }` (modes: \"secret\", \"cert-manager\")");
    run.assert_invalid(1);
}

#[test]
fn rule3_cert_manager_needs_an_issuer_and_a_secret_per_environment() {
    let text = with_platform_line(
        "tls = { mode = \"cert-manager\" }",
        "[environments.dev]\n\n[environments.prod]\n",
    );
    let run = validate(&text);
    run.error(
        "`tls.mode = \"cert-manager\"` needs an issuer",
        pos(&text, "{ mode"),
    )
    .label("no `issuer` here");
    run.assert_invalid(1);

    // Both environments' gateways read istio-system: one Secret would be two Certificates'.
    let text = with_platform_line(
        "tls = { mode = \"cert-manager\", issuer = \"letsencrypt\" }",
        "[environments.dev]\ntls_secret = \"demo-tls\"\n\n[environments.prod]\ntls_secret = \"demo-tls\"\n",
    );
    let run = validate(&text);
    run.error(
        "environments dev and prod share the TLS secret `demo-tls` in the gateway's namespace `istio-system`",
        pos_after(&text, "[environments.prod]", "\"demo-tls\""),
    )
    .label("secret already used");
    run.assert_invalid(1);
    // Without a mesh each environment's Ingresses read their own namespace: no clash.
    let run = validate(&text.replace("tls = {", "mesh = \"none\"\ntls = {"));
    assert!(run.errors().is_empty(), "{:?}", run.errors());
    // By default every environment has its own Secret.
    let text = with_platform_line(
        "tls = { mode = \"cert-manager\", issuer = \"letsencrypt\", issuer_kind = \"Issuer\" }",
        "[environments.dev]\n\n[environments.prod]\n",
    );
    assert!(validate(&text).errors().is_empty());
}

#[test]
fn rule3_issuer_keys_need_cert_manager() {
    let text = with_platform_line(
        "tls = { issuer = \"letsencrypt\", issuer_kind = \"Issuer\" }",
        "[environments.dev]\n\n[environments.prod]\n",
    );
    let run = validate(&text);
    run.error(
        "`tls.issuer` has no effect without cert-manager",
        pos(&text, "\"letsencrypt\""),
    )
    .label("the TLS mode is \"secret\": the Secrets are made by hand");
    run.error(
        "`tls.issuer_kind` has no effect without cert-manager",
        pos(&text, "\"Issuer\""),
    );
    run.assert_invalid(2);
}

#[test]
fn rule3_a_default_tls_secret_must_fit_a_label() {
    // 40 + 1 + 20 + 4 = 65 characters: the namespace (61) fits, the Secret does not.
    let platform = "p".repeat(40);
    let env = "e".repeat(20);
    let text = minimal("")
        .replace("name = \"demo\"", &format!("name = \"{platform}\""))
        .replace("[environments.dev]", &format!("[environments.{env}]"));
    let run = validate(&text);
    run.error(
        &format!("the default TLS secret of environment `{env}` would be 65 characters long"),
        pos(&text, &format!("{env}]")),
    )
    .label("`{platform}-{env}-tls` must fit in 63 characters")
    .help("shorten the name or set `tls_secret` explicitly");
    run.assert_invalid(1);
    let run = validate(&text.replace(
        &format!("[environments.{env}]\n"),
        &format!("[environments.{env}]\ntls_secret = \"dev-tls\"\n"),
    ));
    assert!(run.errors().is_empty());
}
