//! `bulkhead init` and `bulkhead add service`: the files they write validate and generate,
//! existing files are never clobbered, edits keep every byte of the original, and the
//! questions work in a real pseudo-terminal, answered as a person would.

use std::path::Path;
use std::time::Duration;

use expectrl::session::OsSession as Session;
use expectrl::{Eof, Expect};

use crate::common::{bulkhead, generate, platform};

const DOWN: &str = "\x1b[B";

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("readable")
}

pub(crate) fn validates(dir: &Path) {
    bulkhead(dir).arg("validate").assert().success();
}

#[test]
fn init_without_input_writes_a_commented_file_that_validates_and_generates() {
    let dir = tempfile::tempdir().unwrap();
    let out = bulkhead(dir.path())
        .args([
            "init",
            "--no-input",
            "--name",
            "demo",
            "--registry",
            "ghcr.io/acme",
            "--domain",
            "demo.example.com",
            "--env",
            "dev,staging",
            "--env",
            "prod",
            "--service",
            "trips:go",
            "--service",
            "users:node",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("Wrote service.toml: 2 services in 3 environments."));
    let path = dir.path().join("service.toml");
    let text = read(&path);
    assert!(text.starts_with("# service.toml: "), "{text}");
    assert!(text.contains("docs/service-toml.md#platform-required\n[platform]\n"));
    for needle in [
        "name = \"demo\"",
        "registry = \"ghcr.io/acme\"",
        "repository = \"https://github.com/acme/demo.git\"",
        "domain = \"demo.example.com\"",
        "mesh = \"istio\"",
        "[environments.dev]\n\n[environments.staging]\n\n[environments.prod]\n",
        "[services.trips]\nruntime = \"go\"\napis = [\"/trips\"]\n\n[services.users]\nruntime = \"node\"\napis = [\"/users\"]\n",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
    validates(dir.path());
    let tree = generate(&path);
    assert!(tree.path().join("services/trips/Dockerfile").is_file());
}

/// What the scaffold writes passes the strictest checks bulkhead has: validation with
/// warnings denied, and the audit of the tree it generates.
#[test]
fn the_scaffold_passes_its_own_audit() {
    for services in [
        &[][..],
        &["--service", "trips:go", "--service", "users:python"][..],
    ] {
        let dir = tempfile::tempdir().unwrap();
        bulkhead(dir.path())
            .args(["init", "--no-input", "--name", "demo"])
            .args(services)
            .assert()
            .success();
        bulkhead(dir.path())
            .args(["validate", "--deny-warnings"])
            .assert()
            .success();
        bulkhead(dir.path())
            .args(["apply", "--yes", "-q"])
            .assert()
            .success();
        let audit = bulkhead(dir.path()).arg("audit").assert().success();
        let stdout = String::from_utf8_lossy(&audit.get_output().stdout).into_owned();
        assert!(stdout.contains(" 0 fail"), "{stdout}");
    }
}

#[test]
fn init_without_input_defaults_from_the_folder_and_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    bulkhead(dir.path())
        .args(["init", "--no-input", "My Shop_2"])
        .assert()
        .success();
    let path = dir.path().join("My Shop_2/service.toml");
    let text = read(&path);
    assert!(text.contains("name = \"my-shop-2\""), "{text}");
    assert!(text.contains("registry = \"ghcr.io/my-shop-2\""), "{text}");
    assert!(text.contains("[environments.dev]\n\n[environments.staging]\n\n[environments.prod]"));
    assert!(
        text.contains("[services.api]\nruntime = \"rust\""),
        "{text}"
    );
    bulkhead(dir.path())
        .args(["validate", "-f"])
        .arg(&path)
        .assert()
        .success();
}

#[test]
fn init_escapes_what_it_writes() {
    // A value with quotes and backslashes cannot break out of its TOML string: the rules
    // reject it as a host name, with a caret, and nothing is written.
    let dir = tempfile::tempdir().unwrap();
    let out = bulkhead(dir.path())
        .args(["init", "--no-input", "--domain", "x\"\n[evil]\\"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("is not a valid host name"), "{stderr}");
    assert!(!stderr.contains("invalid TOML"), "{stderr}");
    assert!(stderr.contains("nothing written"), "{stderr}");
    assert!(!dir.path().join("service.toml").exists());
}

#[test]
fn init_refuses_invalid_flags_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = bulkhead(dir.path())
        .args(["init", "--no-input", "--name", "Fleet", "--service", "a:go"])
        .assert()
        .code(1);
    let err = stderr(&out);
    assert!(
        err.contains("platform name `Fleet` is not a valid DNS-1123 label"),
        "{err}"
    );
    assert!(!dir.path().join("service.toml").exists());

    let out = bulkhead(dir.path())
        .args(["init", "--no-input", "--service", "a:cobol"])
        .assert()
        .code(2);
    assert!(stderr(&out).contains("unknown runtime `cobol`"));
    let out = bulkhead(dir.path())
        .args(["init", "--no-input", "--env", "dev,dev"])
        .assert()
        .code(1);
    assert!(stderr(&out).contains("environment `dev` is given twice"));
}

fn stderr(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

#[test]
fn init_refuses_to_overwrite_unless_forced() {
    let dir = platform("# mine\n");
    let out = bulkhead(dir.path())
        .args(["init", "--no-input"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("service.toml already exists; pass --force"),
        "{stderr}"
    );
    assert_eq!(read(&dir.path().join("service.toml")), "# mine\n");

    bulkhead(dir.path())
        .args(["init", "--no-input", "--force", "--name", "demo"])
        .assert()
        .success();
    assert!(read(&dir.path().join("service.toml")).contains("name = \"demo\""));
    validates(dir.path());
}

#[test]
fn init_without_a_terminal_refuses_to_ask() {
    let dir = tempfile::tempdir().unwrap();
    let out = bulkhead(dir.path()).arg("init").assert().code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("no terminal to ask questions on: pass --no-input"),
        "{stderr}"
    );
    assert!(!dir.path().join("service.toml").exists());
}

/// The binary in a pseudo-terminal of its own, as a person at a terminal runs it.
pub(crate) fn spawn(dir: &Path, args: &[&str]) -> Session {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("bulkhead"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm-256color")
        .env_remove("CLICOLOR_FORCE");
    let mut session = Session::spawn(cmd).expect("spawn in a pty");
    let _ = session.get_process_mut().set_window_size(120, 40);
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session
}

/// Waits for `prompt`, then types `keys`.
pub(crate) fn answer(p: &mut Session, prompt: &str, keys: &str) {
    p.expect(prompt)
        .unwrap_or_else(|e| panic!("waiting for {prompt:?}: {e}"));
    p.send(keys).expect("type");
}

pub(crate) fn finish(mut p: Session) -> String {
    let out = p.expect(Eof).expect("the command ends");
    let status = p.get_process().wait().expect("exit status");
    assert!(
        format!("{status:?}").ends_with(", 0)"),
        "exit status {status:?}"
    );
    let mut all = out.before().to_vec();
    all.extend(out.get(0).unwrap_or_default());
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn init_asks_checks_each_answer_and_writes_what_was_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(dir.path(), &["init"]);
    // An invalid name is refused with the reason, and asked again.
    answer(&mut p, "Platform name", "Fleet\r");
    p.expect("not a valid DNS-1123 label").expect("the reason");
    answer(&mut p, "Platform name", "fleet\r");
    answer(&mut p, "Container registry", "ghcr.io/acme\r");
    // The suggested repository follows from the registry: accept it.
    answer(&mut p, "https://github.com/acme/fleet.git", "\r");
    answer(&mut p, "Public domain", "fleet.example.com\r");
    answer(&mut p, "Service mesh", &format!("{DOWN}\r"));
    answer(&mut p, "Environments", "dev, prod\r");

    answer(&mut p, "Service name", "trips\r");
    answer(&mut p, "Runtime of trips", &format!("{DOWN}\r"));
    answer(&mut p, "Data it owns", "trips, routes\r");
    answer(&mut p, "datastore", "\r");
    answer(&mut p, "Public API prefixes", "trips\r");
    p.expect("API prefix `trips` is not valid")
        .expect("the reason");
    answer(&mut p, "Public API prefixes", "/trips\r");
    answer(&mut p, "Add another service?", "y");

    answer(&mut p, "Service name", "trips\r");
    p.expect("a service named `trips` already exists")
        .expect("the reason");
    answer(&mut p, "Service name", "users\r");
    answer(&mut p, "Runtime of users", &format!("{DOWN}{DOWN}\r"));
    answer(&mut p, "Data it owns", "trips\r");
    p.expect("\"trips\" is owned by both trips and users")
        .expect("the reason");
    answer(&mut p, "Data it owns", "users\r");
    answer(&mut p, "datastore", &format!("{DOWN}\r"));
    answer(&mut p, "Public API prefixes", "/users\r");
    answer(&mut p, "Services it calls", " \r");
    answer(&mut p, "Add another service?", "n");

    p.expect("Summary").expect("a summary");
    answer(&mut p, "Write service.toml?", "y");
    let rest = finish(p);
    assert!(
        rest.contains("Wrote service.toml: 2 services in 2 environments."),
        "{rest}"
    );

    let text = read(&dir.path().join("service.toml"));
    for needle in [
        "name = \"fleet\"",
        "registry = \"ghcr.io/acme\"",
        "repository = \"https://github.com/acme/fleet.git\"",
        "domain = \"fleet.example.com\"",
        "mesh = \"none\"",
        "[environments.dev]\n\n[environments.prod]\n",
        "[services.trips]\nruntime = \"go\"\nowns = [\"trips\", \"routes\"]\ndatastore = \"postgres\"\napis = [\"/trips\"]\n",
        "[services.users]\nruntime = \"node\"\nowns = [\"users\"]\ndatastore = \"mysql\"\napis = [\"/users\"]\ncalls = [\"trips\"]\n",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
    validates(dir.path());
}

#[test]
fn init_writes_nothing_when_the_summary_is_declined() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(
        dir.path(),
        &["init", "--name", "demo", "--service", "api:go"],
    );
    answer(&mut p, "Platform name", "\r");
    answer(&mut p, "Container registry", "\r");
    answer(&mut p, "Git repository", "\r");
    answer(&mut p, "Public domain", "\r");
    answer(&mut p, "Service mesh", "\r");
    answer(&mut p, "Environments", "\r");
    answer(&mut p, "Add another service?", "n");
    answer(&mut p, "Write service.toml?", "n");
    let rest = finish(p);
    assert!(rest.contains("Nothing written."), "{rest}");
    assert!(!dir.path().join("service.toml").exists());
}

/// A hand-written file: comments everywhere, odd spacing, per-environment sub-tables, a
/// table order that is not the usual one, and tables after the services.
const COMMENTED: &str = r#"# Our platform.   Hand-edited; keep these comments!

[platform]   # the platform
name = "demo"
registry  =  "ghcr.io/acme"   # aligned by hand
repository = 'https://github.com/acme/demo.git'


# --- services ---------------------------------------------------------

[services.api]
runtime = "go"
owns = [
  "accounts",   # the users' accounts
]
datastore = "postgres"
apis = ["/api"]

[services.worker]
# a worker with no public API
runtime = "python"

# prod needs more api replicas
[services.api.environments.prod]
replicas = 4
# end of services

# --- environments -----------------------------------------------------
[environments.dev]
replicas = 1

[environments.prod]     # production

# trailing comment
"#;

#[test]
fn add_service_keeps_every_byte_of_the_file() {
    let dir = platform(COMMENTED);
    validates(dir.path());
    let out = bulkhead(dir.path())
        .args([
            "add",
            "service",
            "billing",
            "--runtime",
            "rust",
            "--owns",
            "invoices,payments",
            "--apis",
            "/invoices",
            "--calls",
            "api",
            "--description",
            "Bills \"customers\" \\ monthly",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("Added service `billing`"), "{stdout}");
    assert!(stdout.contains("bulkhead plan"), "{stdout}");
    let new = read(&dir.path().join("service.toml"));
    // After the last table under [services] (api's prod overrides, with the comment right
    // under it), before the blank line and the comment that open the environments.
    let at = COMMENTED.find("# end of services\n").unwrap() + "# end of services\n".len();
    let table = "\n[services.billing]\ndescription = 'Bills \"customers\" \\ monthly'\nruntime = \"rust\"\nowns = [\"invoices\", \"payments\"]\ndatastore = \"postgres\"\napis = [\"/invoices\"]\ncalls = [\"api\"]\n";
    let expected = format!("{}{table}{}", &COMMENTED[..at], &COMMENTED[at..]);
    assert_eq!(new, expected);
    // Every original line is still there, in order.
    let mut lines = new.lines();
    for line in COMMENTED.lines() {
        assert!(lines.any(|l| l == line), "lost or moved: {line:?}");
    }
    validates(dir.path());
    generate(&dir.path().join("service.toml"));
}

#[test]
fn add_service_appends_at_the_end_when_services_come_last() {
    let base = crate::common::minimal("owns = [\"a\"]\ndatastore = \"postgres\"\n");
    let dir = platform(&base);
    bulkhead(dir.path())
        .args(["add", "service", "b", "--runtime", "java", "--port", "9000"])
        .assert()
        .success();
    let new = read(&dir.path().join("service.toml"));
    assert_eq!(
        new,
        format!("{base}\n[services.b]\nruntime = \"java\"\nport = 9000\n")
    );
    // And again: the second goes after the first.
    bulkhead(dir.path())
        .args(["add", "service", "c", "--runtime", "go", "--calls", "b"])
        .assert()
        .success();
    let newer = read(&dir.path().join("service.toml"));
    assert_eq!(
        newer,
        format!("{new}\n[services.c]\nruntime = \"go\"\ncalls = [\"b\"]\n")
    );
    validates(dir.path());
}

#[test]
fn add_service_refuses_what_would_be_invalid_and_leaves_the_file_alone() {
    let dir = platform(COMMENTED);
    let path = dir.path().join("service.toml");
    let cases: &[(&[&str], &str)] = &[
        (&["api", "--runtime", "go"], "service `api` already exists"),
        (
            &["billing", "--runtime", "go", "--calls", "apu"],
            "`billing` calls unknown service `apu`",
        ),
        (
            &["billing", "--runtime", "go", "--owns", "accounts"],
            "\"accounts\" is owned by both api and billing",
        ),
        (
            &["Billing", "--runtime", "go"],
            "service name `Billing` is not a valid DNS-1123 label",
        ),
        (
            &["billing", "--runtime", "go", "--apis", "/api/"],
            "collides with api",
        ),
        (&["billing"], "missing --runtime"),
    ];
    for (args, message) in cases {
        let out = bulkhead(dir.path())
            .args(["add", "service"])
            .args(*args)
            .assert()
            .code(1);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(read(&path), COMMENTED, "{args:?} changed the file");
    }
    // Diagnostics point into the text as it would be, with a caret.
    let out = bulkhead(dir.path())
        .args([
            "add",
            "service",
            "billing",
            "--runtime",
            "go",
            "--calls",
            "apu",
        ])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("calls = [\"apu\"]"), "{stderr}");
    assert!(stderr.contains("help: did you mean `api`?"), "{stderr}");
    assert!(stderr.contains("nothing written"), "{stderr}");
}

#[test]
fn add_service_asks_for_what_the_flags_leave_out() {
    let dir = platform(COMMENTED);
    let mut p = spawn(
        dir.path(),
        &["add", "service", "billing", "--apis", "/invoices"],
    );
    answer(
        &mut p,
        "Runtime of billing",
        &format!("{DOWN}{DOWN}{DOWN}\r"),
    );
    answer(&mut p, "Data it owns", "accounts\r");
    p.expect("\"accounts\" is owned by both api and billing")
        .expect("the reason");
    answer(&mut p, "Data it owns", "invoices\r");
    answer(&mut p, "datastore", &format!("{DOWN}\r"));
    // Calls offer the existing services: api, worker. Pick the second.
    answer(&mut p, "Services it calls", &format!("{DOWN} \r"));
    answer(&mut p, "Add this to service.toml?", "y");
    let rest = finish(p);
    assert!(rest.contains("Added service `billing`"), "{rest}");
    let new = read(&dir.path().join("service.toml"));
    let at = COMMENTED.find("# end of services\n").unwrap() + "# end of services\n".len();
    let table = "\n[services.billing]\nruntime = \"python\"\nowns = [\"invoices\"]\ndatastore = \"mysql\"\napis = [\"/invoices\"]\ncalls = [\"worker\"]\n";
    assert_eq!(
        new,
        format!("{}{table}{}", &COMMENTED[..at], &COMMENTED[at..])
    );
    validates(dir.path());
}
