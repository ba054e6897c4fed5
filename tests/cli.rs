//! The command-line contract: help, usage errors, colours, exit codes.

use crate::common::{bulkhead, example, minimal, platform};

#[test]
fn help_lists_the_commands_with_examples() {
    let out = bulkhead(&crate::common::root())
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in ["validate", "plan", "apply", "Examples:"] {
        assert!(text.contains(cmd), "{cmd} missing in {text}");
    }
}

#[test]
fn usage_errors_exit_2() {
    bulkhead(&crate::common::root())
        .arg("frobnicate")
        .assert()
        .code(2);
    bulkhead(&crate::common::root())
        .args(["plan", "--format", "xml"])
        .assert()
        .code(2);
}

#[test]
fn validate_reports_a_valid_example() {
    let out = bulkhead(&crate::common::root())
        .args(["validate", "-f"])
        .arg(example("fleet"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("is valid: 4 services, 3 environments"),
        "{text}"
    );
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let dir = platform(&minimal("port = 0\n"));
    let plain = bulkhead(dir.path()).arg("validate").output().unwrap();
    assert!(
        !String::from_utf8_lossy(&plain.stderr).contains('\u{1b}'),
        "NO_COLOR honoured"
    );
    let coloured = bulkhead(dir.path())
        .args(["validate", "--color", "always"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&coloured.stderr).contains('\u{1b}'),
        "--color always wins"
    );
    let never = bulkhead(dir.path())
        .args(["validate", "--color", "never"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&never.stderr).contains('\u{1b}'));
}

#[test]
fn warnings_pass_unless_denied() {
    // A datastore that owns nothing is a warning.
    let dir = platform(&minimal("datastore = \"redis\"\n"));
    let ok = bulkhead(dir.path()).arg("validate").output().unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&ok.stderr)
            .contains("warning: `api` has a redis datastore but owns no data")
    );
    bulkhead(dir.path())
        .args(["validate", "--deny-warnings"])
        .assert()
        .code(1);
    bulkhead(dir.path())
        .args(["plan", "--deny-warnings"])
        .assert()
        .code(1);
}

/// Each command takes only the flags that mean something to it: the others are usage
/// errors (exit 2) naming the flag, never silently ignored.
#[test]
fn each_command_takes_only_its_own_flags() {
    let dir = platform(&minimal(""));
    let refused: &[&[&str]] = &[
        &["schema", "-o", "x"],
        &["schema", "-f", "service.toml"],
        &["completions", "bash", "--deny-warnings"],
        &["validate", "-o", "x"],
        &["validate", "--blueprints", "x"],
        &["graph", "-o", "x"],
        &["graph", "-q"],
        &["blueprints", "eject", "--deny-warnings"],
        &["blueprints", "list", "--deny-warnings"],
        &["blueprints", "upgrade", "v2", "--blueprints", "x"],
        &["remove", "service", "api", "-q"],
        &["restore", "x", "--check"],
        &["add", "service", "x", "--runtime", "go", "-o", "x"],
        &["init", "--no-input", "-o", "x"],
        &["plan", "-q", "-v"],
        // Flags belong after their command.
        &["-f", "service.toml", "validate"],
    ];
    for args in refused {
        let out = bulkhead(dir.path()).args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?} is refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("error: "), "{args:?}: {stderr}");
    }
    let accepted: &[&[&str]] = &[
        &["validate", "-f", "service.toml", "--deny-warnings"],
        &["graph", "-f", "service.toml", "--format", "dot"],
        &[
            "plan",
            "-f",
            "service.toml",
            "-o",
            "out",
            "-q",
            "--deny-warnings",
        ],
        &["blueprints", "list", "-f", "service.toml"],
        // --color is for every command's output.
        &["schema", "--color", "never"],
        &["--color", "never", "validate"],
    ];
    for args in accepted {
        let out = bulkhead(dir.path()).args(*args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A wrong `-f` gets the same kind of help as a missing service.toml: what to do next.
#[test]
fn a_missing_file_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["validate", "plan", "apply", "graph", "audit"] {
        let out = bulkhead(dir.path())
            .args([command, "-f", "nope.toml"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no file nope.toml (check the path given to -f, or create it with `bulkhead init -f nope.toml`)"),
            "{command}: {stderr}"
        );
    }
    // Without -f, the search upwards names where it looked.
    let out = bulkhead(dir.path()).arg("validate").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no service.toml in ")
            && stderr.contains("create one with `bulkhead init`"),
        "{stderr}"
    );
    // A folder holding service.toml: the message gives the path to pass.
    std::fs::write(dir.path().join("service.toml"), "").unwrap();
    let out = bulkhead(dir.path())
        .args(["validate", "-f", "."])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(". is a folder: pass -f ./service.toml"),
        "{stderr}"
    );
}
