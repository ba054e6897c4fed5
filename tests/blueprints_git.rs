//! Blueprints pinned in a Git repository: `platform.blueprints = { git, rev, path }`. Every
//! test builds its own origin repository in a temporary folder (no network) and runs the
//! real binary with its own cache (`BULKHEAD_CACHE_DIR`).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::bulkhead;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// git in `dir`, with a fixed identity and no user or system configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Platform Team")
        .env("GIT_AUTHOR_EMAIL", "platform@example.com")
        .env("GIT_COMMITTER_NAME", "Platform Team")
        .env("GIT_COMMITTER_EMAIL", "platform@example.com")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// A temporary world: the platform team's repository `origin/` (blueprints under `bp/`),
/// a service team's `platform/service.toml` pinning it, and bulkhead's cache.
struct World {
    root: tempfile::TempDir,
}

const SPEC: &str = r#"# The payments platform.
[platform]
name = "demo"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/demo.git"
# The platform team's blueprints, pinned.
blueprints = { git = "../origin", rev = "v1", path = "bp" } # upgrade with `bulkhead blueprints upgrade`

[environments.dev]

[services.api]
runtime = "go"
apis = ["/api"]
"#;

impl World {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let origin = root.path().join("origin");
        std::fs::create_dir_all(origin.join("bp/ops")).unwrap();
        git(&origin, &["init", "-q"]);
        std::fs::write(
            origin.join("bp/ops/version.txt"),
            "blueprint v1 for {{ platform.name }}\n",
        )
        .unwrap();
        std::fs::write(origin.join("README.md"), "Our blueprints\n").unwrap();
        git(&origin, &["add", "."]);
        git(&origin, &["commit", "-q", "-m", "First blueprints"]);
        git(&origin, &["tag", "v1"]);
        std::fs::create_dir(root.path().join("platform")).unwrap();
        std::fs::write(root.path().join("platform/service.toml"), SPEC).unwrap();
        Self { root }
    }

    fn origin(&self) -> PathBuf {
        self.root.path().join("origin")
    }

    fn platform(&self) -> PathBuf {
        self.root.path().join("platform")
    }

    fn run(&self, args: &[&str]) -> Output {
        bulkhead(&self.platform())
            .args(args)
            .env("BULKHEAD_CACHE_DIR", self.root.path().join("cache"))
            .output()
            .unwrap()
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.platform().join(rel)).unwrap_or_default()
    }

    fn lock(&self) -> serde_json::Value {
        serde_json::from_str(&self.read(".bulkhead/lock.json")).unwrap()
    }

    /// A commit on the origin's current branch changing `file` to `text`.
    fn commit(&self, file: &str, text: &str, message: &str) {
        std::fs::write(self.origin().join(file), text).unwrap();
        git(&self.origin(), &["commit", "-q", "-a", "-m", message]);
    }
}

#[test]
fn a_pinned_version_is_applied_upgraded_and_works_offline() {
    let w = World::new();
    let v1 = git(&w.origin(), &["rev-parse", "v1^{commit}"]);

    // Pin v1, apply: the files come from v1 and the lock names its commit.
    let out = w.run(&["apply", "--yes", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.read("ops/version.txt"), "blueprint v1 for demo\n");
    let lock = w.lock();
    assert_eq!(
        lock["blueprints"],
        serde_json::json!({ "git": "../origin", "rev": "v1", "path": "bp", "commit": v1 })
    );

    // The tag moves on the platform team's side: while service.toml pins the same rev, the
    // locked commit stays in use, without asking the repository.
    git(&w.origin(), &["checkout", "-q", "-b", "elsewhere"]);
    w.commit("bp/ops/version.txt", "moved tag\n", "Retag v1 elsewhere");
    git(&w.origin(), &["tag", "-f", "v1"]);
    git(&w.origin(), &["checkout", "-q", "-"]);
    let out = w.run(&["plan", "--check", "-q"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // v2 changes a blueprint; a later commit touches only the repository's README.
    w.commit(
        "bp/ops/version.txt",
        "blueprint v2 for {{ platform.name }}\n",
        "Version file says v2",
    );
    w.commit("README.md", "Our blueprints, v2\n", "Readme only");
    git(&w.origin(), &["tag", "v2"]);
    let v2 = git(&w.origin(), &["rev-parse", "v2^{commit}"]);

    let out = w.run(&["blueprints", "upgrade", "v2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    let summary = shown.find("Version file says v2").expect(&shown);
    assert!(
        !shown.contains("Readme only"),
        "only commits touching `bp`:\n{shown}"
    );
    assert!(shown.contains("M ops/version.txt"), "{shown}");
    let plan = shown.find("update ops/version.txt").expect(&shown);
    assert!(summary < plan, "the changes come before the plan:\n{shown}");
    assert!(shown.contains("+blueprint v2 for demo"), "{shown}");
    // Only `rev` moved; every comment stays.
    assert_eq!(
        w.read("service.toml"),
        SPEC.replace("rev = \"v1\"", "rev = \"v2\"")
    );
    // Nothing generated yet: apply does that.
    assert_eq!(w.read("ops/version.txt"), "blueprint v1 for demo\n");
    assert_eq!(w.lock()["blueprints"]["commit"], v1);

    let out = w.run(&["apply", "--yes", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.read("ops/version.txt"), "blueprint v2 for demo\n");
    assert_eq!(
        w.lock()["blueprints"],
        serde_json::json!({ "git": "../origin", "rev": "v2", "path": "bp", "commit": v2 })
    );

    // The origin disappears: the cache still has the pinned commit.
    std::fs::rename(w.origin(), w.root.path().join("origin-gone")).unwrap();
    let out = w.run(&["plan", "--check", "-q"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("0 to update"), "{}", stdout(&out));
    assert!(
        stderr(&out).is_empty(),
        "no fetch, no warning: {}",
        stderr(&out)
    );

    // A fresh output folder has no lock: the cache answers for the pin, and says so.
    let fresh = w.root.path().join("fresh");
    let out = w.run(&["apply", "--yes", "-q", "-o", fresh.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not reach ../origin"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(fresh.join("ops/version.txt")).unwrap(),
        "blueprint v2 for demo\n"
    );
}

#[test]
fn an_unknown_revision_is_refused_and_nothing_is_written() {
    let w = World::new();
    let out = w.run(&["apply", "--yes", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = w.read(".bulkhead/lock.json");

    let out = w.run(&["blueprints", "upgrade", "v9"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("../origin has no tag, branch or commit `v9`") && err.contains("v1"),
        "{err}"
    );
    assert_eq!(w.read("service.toml"), SPEC);
    assert_eq!(w.read(".bulkhead/lock.json"), lock);

    // The same revision written by hand: plan and apply refuse it before writing anything.
    std::fs::write(
        w.platform().join("service.toml"),
        SPEC.replace("rev = \"v1\"", "rev = \"v9\""),
    )
    .unwrap();
    let fresh = w.root.path().join("fresh");
    let out = w.run(&["apply", "--yes", "-q", "-o", fresh.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("`v9`"), "{}", stderr(&out));
    assert!(!fresh.exists());

    // A revision Git could read as an option never reaches it.
    let out = w.run(&["blueprints", "upgrade", "--", "--output=/tmp/x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot start with `-`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_path_missing_from_the_commit_is_named() {
    let w = World::new();
    std::fs::write(
        w.platform().join("service.toml"),
        SPEC.replace("path = \"bp\"", "path = \"blueprints\""),
    )
    .unwrap();
    let out = w.run(&["plan", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("../origin at v1") && err.contains("has no folder `blueprints`"),
        "{err}"
    );
    assert!(err.contains("folders: bp"), "{err}");
}

#[test]
fn without_git_the_error_says_what_to_do() {
    let w = World::new();
    let empty = w.root.path().join("no-git");
    std::fs::create_dir(&empty).unwrap();
    let out = bulkhead(&w.platform())
        .args(["plan", "-q"])
        .env("BULKHEAD_CACHE_DIR", w.root.path().join("cache"))
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("../origin at v1") && err.contains("`git` is not installed"),
        "{err}"
    );
}

#[test]
fn pin_mistakes_are_positioned_in_service_toml() {
    let cases = [
        (
            r#"{ git = "../origin", rev = "v1", branch = "main" }"#,
            "7:47",
            "unknown key `branch` in `[platform.blueprints]`",
        ),
        (
            r#"{ git = "../origin", path = "bp" }"#,
            "7:14",
            "`[platform.blueprints]` is missing the required key `rev`",
        ),
        (
            r#"{ path = "bp" }"#,
            "7:23",
            "`path` without `git` in `platform.blueprints`",
        ),
        (
            r#"{ git = "../origin", rev = "v1", path = "../../etc" }"#,
            "7:54",
            "`..` would leave the repository",
        ),
        (
            r#"{ git = "--upload-pack=touch pwned", rev = "v1" }"#,
            "7:22",
            "a URL cannot start with `-`",
        ),
        (
            r#"{ git = "../origin", rev = "--all" }"#,
            "7:41",
            "a revision cannot start with `-`",
        ),
    ];
    for (pin, at, message) in cases {
        let w = World::new();
        let text = SPEC.replace(r#"{ git = "../origin", rev = "v1", path = "bp" }"#, pin);
        std::fs::write(w.platform().join("service.toml"), &text).unwrap();
        for command in [&["validate"][..], &["plan", "-q"]] {
            let out = w.run(command);
            assert_eq!(out.status.code(), Some(1), "{pin}");
            let err = stderr(&out);
            assert!(err.contains(&format!("service.toml:{at}")), "{pin}: {err}");
            assert!(err.contains(message), "{pin}: {err}");
        }
        // Refused before any git command ran.
        assert!(!w.root.path().join("cache").exists(), "{pin}");
        assert!(!w.platform().join("pwned").exists());
    }
}

#[test]
fn the_schema_describes_both_forms() {
    use serde_json::Value;
    let schema = bulkhead::spec::schema::json_schema();
    let table = &schema["$defs"]["GitBlueprintsTable"];
    let mut keys: Vec<&str> = table["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut known = bulkhead::spec::BLUEPRINTS_GIT_KEYS.to_vec();
    known.sort_unstable();
    assert_eq!(keys, known);
    assert_eq!(table["additionalProperties"], Value::Bool(false));

    let validator = jsonschema::validator_for(&schema).unwrap();
    let with = |blueprints: &str| -> Value {
        let text = format!(
            "[platform]\nname = \"demo\"\nregistry = \"ghcr.io/acme\"\n\
             repository = \"https://github.com/acme/demo.git\"\nblueprints = {blueprints}\n\
             [environments.dev]\n[services.api]\nruntime = \"go\"\n"
        );
        serde_json::to_value(toml::from_str::<toml::Value>(&text).unwrap()).unwrap()
    };
    for ok in [
        r#""blueprints""#,
        r#"{ git = "https://github.com/acme/bp.git", rev = "v1.4.0", path = "blueprints" }"#,
        r#"{ git = "git@github.com:acme/bp.git", rev = "main" }"#,
    ] {
        assert!(validator.is_valid(&with(ok)), "{ok}");
    }
    for bad in [
        r#"{ path = "blueprints" }"#,
        r#"{ git = "https://github.com/acme/bp.git" }"#,
        r#"{ git = "https://github.com/acme/bp.git", rev = "v1", branch = "main" }"#,
        r#"{ git = "https://github.com/acme/bp.git", rev = "-v1" }"#,
        r#"{ git = "-u", rev = "v1" }"#,
    ] {
        assert!(!validator.is_valid(&with(bad)), "{bad}");
    }
}
