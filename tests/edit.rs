//! `bulkhead remove service` and `bulkhead add environment`, and where every edit of
//! service.toml reports its problems: the file changes only where asked (every other byte
//! kept), a removal that others depend on is refused with each dependent at its line,
//! nothing is written when the result would be invalid, and positions point at the file
//! on disk (or, for what the command adds, at the new table and the flag that set it).

use expectrl::Expect;

use crate::common::{bulkhead, generate, platform};
use crate::init_add::{answer, finish, read, spawn, validates};

/// Comments above, inside and under the services; a service with per-environment
/// overrides; one service publishing a topic another consumes, one calling another.
const PLATFORM: &str = r#"# Our platform.   Hand-edited; keep these comments!

[platform]   # the platform
name = "demo"
registry  =  "ghcr.io/acme"   # aligned by hand
repository = 'https://github.com/acme/demo.git'

# Promotion order.

[environments.dev]
replicas = 1

# Production.
[environments.prod]     # production

# --- services ---------------------------------------------------------

# The API: accounts.
[services.api]
runtime = "go"
owns = [
  "accounts",   # the users' accounts
]
datastore = "postgres"
apis = ["/api"]
publishes = ["account.created"]

# The mailer sends e-mails.
[services.mailer]
runtime = "python"
consumes = ["account.created"]

# prod needs more mailer replicas
[services.mailer.environments.prod]
replicas = 4
# end of services

[services.web]
runtime = "node"
apis = ["/"]
calls = ["api"]

# trailing comment
"#;

fn stderr(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

fn stdout(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

/// The 1-based line of PLATFORM holding `needle` (the first from line `after` on).
fn line_of(needle: &str, after: usize) -> usize {
    PLATFORM
        .lines()
        .enumerate()
        .skip(after)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in the fixture"))
}

#[test]
fn remove_service_takes_its_tables_and_own_comments_and_keeps_every_other_byte() {
    let dir = platform(PLATFORM);
    validates(dir.path());
    let out = bulkhead(dir.path())
        .args(["remove", "service", "mailer", "--yes"])
        .assert()
        .success();
    let said = stdout(&out);
    let first = line_of("# The mailer", 0);
    let last = line_of("replicas = 4", 0);
    // The blank line that set it apart goes too.
    assert!(
        said.contains(&format!(
            "Removed service `mailer` from service.toml (lines {}-{last} of the file as it was)",
            first - 1
        )),
        "{said}"
    );
    assert!(said.contains("as deleted"), "{said}");
    assert!(said.contains("`bulkhead apply` deletes them"), "{said}");
    let from = PLATFORM.find("\n# The mailer").unwrap();
    let to = PLATFORM.find("replicas = 4\n").unwrap() + "replicas = 4\n".len();
    let expected = format!("{}{}", &PLATFORM[..from], &PLATFORM[to..]);
    assert_eq!(read(&dir.path().join("service.toml")), expected);
    validates(dir.path());
}

#[test]
fn remove_service_refuses_while_others_depend_on_it_naming_each_at_its_line() {
    let dir = platform(PLATFORM);
    let out = bulkhead(dir.path())
        .args(["remove", "service", "api", "--yes"])
        .assert()
        .code(1);
    let err = stderr(&out);
    let calls = line_of("calls = [\"api\"]", 0);
    let consumes = line_of("consumes = [\"account.created\"]", 0);
    for needle in [
        format!("service.toml:{calls} `web` calls `api`"),
        format!(
            "service.toml:{consumes} `mailer` consumes \"account.created\", which only `api` publishes"
        ),
        // With carets at the very values.
        format!("--> service.toml:{calls}:10"),
        format!("--> service.toml:{consumes}:13"),
        "not removed: service `api` is still depended on".into(),
        "nothing written".into(),
    ] {
        assert!(err.contains(&needle), "{needle:?} missing in\n{err}");
    }
    assert_eq!(read(&dir.path().join("service.toml")), PLATFORM);

    // Removed together with everything that depends on it, the platform is consistent;
    // with nothing left it would not be.
    let out = bulkhead(dir.path())
        .args(["remove", "service", "api", "mailer", "web", "--yes"])
        .assert()
        .code(1);
    let err = stderr(&out);
    assert!(err.contains("would be invalid"), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert_eq!(read(&dir.path().join("service.toml")), PLATFORM);
    bulkhead(dir.path())
        .args(["remove", "service", "api", "mailer", "--yes"])
        .assert()
        .code(1);
    let out = bulkhead(dir.path())
        .args(["remove", "service", "web", "mailer", "--yes"])
        .assert()
        .success();
    assert!(stdout(&out).contains("Removed services `web`, `mailer`"));
    validates(dir.path());

    let out = bulkhead(dir.path())
        .args(["remove", "service", "ap", "--yes"])
        .assert()
        .code(1);
    assert!(
        stderr(&out).contains("there is no service `ap` in service.toml; did you mean `api`?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn remove_service_asks_on_a_terminal_and_refuses_without_one() {
    let dir = platform(PLATFORM);
    let path = dir.path().join("service.toml");
    let out = bulkhead(dir.path())
        .args(["remove", "service", "web"])
        .assert()
        .code(1);
    assert!(
        stderr(&out).contains("no terminal to ask on (pass --yes)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&path), PLATFORM);

    let mut p = spawn(dir.path(), &["remove", "service", "web"]);
    p.expect("as deleted").expect("what happens to its files");
    answer(&mut p, "Remove service `web` from service.toml?", "n");
    let rest = finish(p);
    assert!(rest.contains("Nothing written."), "{rest}");
    assert_eq!(read(&path), PLATFORM);

    let mut p = spawn(dir.path(), &["remove", "service", "web"]);
    answer(&mut p, "Remove service `web` from service.toml?", "y");
    let rest = finish(p);
    assert!(rest.contains("Removed service `web`"), "{rest}");
    assert!(!read(&path).contains("[services.web]"));
    validates(dir.path());
}

#[test]
fn after_remove_the_next_plan_deletes_the_services_generated_files() {
    let dir = platform(PLATFORM);
    let spec = dir.path().join("service.toml");
    let tree = generate(&spec);
    assert!(tree.path().join("services/web/Dockerfile").is_file());
    let out = bulkhead(dir.path())
        .args(["remove", "service", "web", "--yes"])
        .assert()
        .success();
    assert!(stdout(&out).contains("as deleted"), "{}", stdout(&out));
    bulkhead(tree.path())
        .args(["apply", "--yes", "-q", "-f"])
        .arg(&spec)
        .arg("-o")
        .arg(tree.path())
        .assert()
        .success();
    assert!(!tree.path().join("services/web/Dockerfile").exists());
    assert!(tree.path().join("services/api/Dockerfile").is_file());
}

#[test]
fn add_environment_goes_where_asked_and_keeps_every_other_byte() {
    let dir = platform(PLATFORM);
    let path = dir.path().join("service.toml");
    let out = bulkhead(dir.path())
        .args([
            "add",
            "environment",
            "staging",
            "--before",
            "prod",
            "--host",
            "staging.example.com",
            "--replicas",
            "2",
            "--manual-sync",
        ])
        .assert()
        .success();
    assert!(
        stdout(&out).contains("Added environment `staging` to service.toml, after `dev`"),
        "{}",
        stdout(&out)
    );
    let table = "[environments.staging]\nhost = \"staging.example.com\"\nreplicas = 2\nauto_sync = false\n\n";
    // After dev, above prod's own comment.
    let at = PLATFORM.find("# Production.").unwrap();
    let expected = format!("{}{table}{}", &PLATFORM[..at], &PLATFORM[at..]);
    assert_eq!(read(&path), expected);
    validates(dir.path());
    // The promotion order follows: staging's Argo CD application exists.
    let tree = generate(&path);
    assert!(
        tree.path().join("deploy/overlays/staging").is_dir(),
        "{:?}",
        crate::common::read_tree(tree.path())
            .keys()
            .take(40)
            .collect::<Vec<_>>()
    );

    // First of all: the comment above dev (separated by a blank line) now introduces it.
    bulkhead(dir.path())
        .args(["add", "environment", "local", "--before", "dev"])
        .assert()
        .success();
    let text = read(&path);
    assert!(
        text.contains("# Promotion order.\n\n[environments.local]\n\n[environments.dev]\n"),
        "{text}"
    );
    // Last by default: production now, and it says so.
    let out = bulkhead(dir.path())
        .args(["add", "environment", "dr", "--replicas", "3"])
        .assert()
        .success();
    assert!(
        stdout(&out).contains("it is now the production environment"),
        "{}",
        stdout(&out)
    );
    let text = read(&path);
    assert!(
        text.contains("[environments.prod]     # production\n\n[environments.dr]\nreplicas = 3\n\n# --- services"),
        "{text}"
    );
    validates(dir.path());
}

#[test]
fn add_environment_refuses_duplicates_unknown_places_and_invalid_values() {
    let dir = platform(PLATFORM);
    let path = dir.path().join("service.toml");
    let out = bulkhead(dir.path())
        .args(["add", "environment", "prod"])
        .assert()
        .code(1);
    let err = stderr(&out);
    assert!(err.contains("environment `prod` already exists"), "{err}");
    assert!(
        err.contains(&format!(
            "--> service.toml:{}:15",
            line_of("[environments.prod]", 0)
        )),
        "{err}"
    );
    let out = bulkhead(dir.path())
        .args(["add", "environment", "qa", "--after", "stagin"])
        .assert()
        .code(1);
    assert!(
        stderr(&out).contains(
            "there is no environment `stagin` in service.toml; environments, in order: dev, prod"
        ),
        "{}",
        stderr(&out)
    );
    let out = bulkhead(dir.path())
        .args(["add", "environment", "qa", "--namespace", "Not_A_Label"])
        .assert()
        .code(1);
    let err = stderr(&out);
    assert!(
        err.contains("error: the new [environments.qa]: namespace `Not_A_Label` is not a valid DNS-1123 label"),
        "{err}"
    );
    assert!(err.contains("(set by --namespace)"), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert_eq!(read(&path), PLATFORM);
}

#[test]
fn add_service_reports_positions_in_the_file_on_disk() {
    // A problem the file has already, below where the new table goes: shown at its line
    // on disk, not at its line in the edited text.
    let broken = format!("{PLATFORM}\n[environments.qa]\nreplicas = \"two\"\n");
    let dir = platform(&broken);
    let out = bulkhead(dir.path())
        .args(["add", "service", "billing", "--runtime", "go"])
        .assert()
        .code(1);
    let err = stderr(&out);
    let line = broken.lines().count();
    assert!(
        err.contains(&format!("--> service.toml:{line}:12")),
        "{err}"
    );
    assert!(err.contains("is invalid already"), "{err}");
    assert_eq!(read(&dir.path().join("service.toml")), broken);

    // A problem of the new service: named as the new table's, with the flag that set it;
    // one it causes in existing content: at that content's line on disk.
    let dir = platform(PLATFORM);
    let out = bulkhead(dir.path())
        .args([
            "add",
            "service",
            "billing",
            "--runtime",
            "go",
            "--calls",
            "apu",
            "--publishes",
            "account.created",
        ])
        .assert()
        .code(1);
    let err = stderr(&out);
    for needle in [
        "error: the new [services.billing]: `billing` calls unknown service `apu`".to_string(),
        "--> the new [services.billing] (not written):3:10".into(),
        "no such service (set by --calls)".into(),
        "topic \"account.created\" is published by both api and billing".into(),
    ] {
        assert!(err.contains(&needle), "{needle:?} missing in\n{err}");
    }
    assert_eq!(read(&dir.path().join("service.toml")), PLATFORM);
}

#[test]
fn add_then_remove_gives_back_the_same_file() {
    let dir = platform(PLATFORM);
    bulkhead(dir.path())
        .args([
            "add",
            "service",
            "billing",
            "--runtime",
            "rust",
            "--calls",
            "api",
        ])
        .assert()
        .success();
    bulkhead(dir.path())
        .args(["remove", "service", "billing", "--yes"])
        .assert()
        .success();
    assert_eq!(read(&dir.path().join("service.toml")), PLATFORM);
}
