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
