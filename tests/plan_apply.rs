//! plan and apply on real folders: what gets written, what never does.

use std::path::Path;

use crate::common::{bulkhead, example, generate, minimal, platform, read_tree};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn plan_writes_nothing_and_check_reports_drift() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let result = bulkhead(work.path())
        .args(["plan", "--check", "-f"])
        .arg(example("fleet"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(3), "{}", stderr(&result));
    assert!(!out.exists(), "plan must not create the output folder");
    let text = stdout(&result);
    assert!(
        text.contains("create deploy/overlays/dev/kustomization.yaml ("),
        "{text}"
    );
    assert!(text.starts_with("Plan: "), "{text}");
}

#[test]
fn apply_then_apply_again_writes_nothing() {
    let out = generate(&example("fleet"));
    let before = read_tree(out.path());
    assert!(before.contains_key(".bulkhead/lock.json"));
    let mtimes = |dir: &Path| -> Vec<std::time::SystemTime> {
        read_tree(dir)
            .keys()
            .map(|k| std::fs::metadata(dir.join(k)).unwrap().modified().unwrap())
            .collect()
    };
    let first = mtimes(out.path());
    std::thread::sleep(std::time::Duration::from_millis(20));

    let again = bulkhead(out.path())
        .args(["apply", "--yes", "-f"])
        .arg(example("fleet"))
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("Nothing to write"),
        "{}",
        stdout(&again)
    );
    assert_eq!(read_tree(out.path()), before);
    assert_eq!(
        mtimes(out.path()),
        first,
        "no file may be touched by a no-op apply"
    );

    bulkhead(out.path())
        .args(["plan", "--check", "-f"])
        .arg(example("fleet"))
        .arg("-o")
        .arg(out.path())
        .assert()
        .code(0);
}

#[test]
fn same_input_gives_byte_identical_trees() {
    for name in crate::common::EXAMPLES {
        let a = generate(&example(name));
        let b = generate(&example(name));
        assert_eq!(read_tree(a.path()), read_tree(b.path()), "{name}");
    }
}

#[test]
fn apply_without_terminal_or_yes_refuses() {
    let dir = platform(&minimal(""));
    let result = bulkhead(dir.path()).arg("apply").output().unwrap();
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).contains("refusing to write without confirmation"),
        "{}",
        stderr(&result)
    );
    assert_eq!(read_tree(dir.path()).len(), 1, "only service.toml is there");
}

#[test]
fn default_paths_find_service_toml_in_a_parent_and_write_beside_it() {
    let dir = platform(&minimal(""));
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    bulkhead(&nested)
        .args(["apply", "--yes", "-q"])
        .assert()
        .success();
    assert!(dir.path().join("deploy/base/api/deployment.yaml").is_file());
    assert!(dir.path().join(".bulkhead/lock.json").is_file());
    assert!(!nested.join("deploy").exists());
}

#[test]
fn missing_service_toml_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let result = bulkhead(dir.path()).arg("validate").output().unwrap();
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).contains("no service.toml in"),
        "{}",
        stderr(&result)
    );
}

#[test]
fn a_user_edit_is_merged_with_new_output() {
    let dir = platform(&minimal(""));
    bulkhead(dir.path())
        .args(["apply", "--yes", "-q"])
        .assert()
        .success();
    let file = dir.path().join("deploy/base/api/deployment.yaml");
    let edited = format!("{}# my edit\n", std::fs::read_to_string(&file).unwrap());
    std::fs::write(&file, &edited).unwrap();
    // Change the input so bulkhead wants to rewrite the file elsewhere.
    std::fs::write(dir.path().join("service.toml"), minimal("port = 9000\n")).unwrap();

    let result = bulkhead(dir.path())
        .args(["apply", "--yes"])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert!(
        stdout(&result).contains("merge deploy/base/api/deployment.yaml"),
        "{}",
        stdout(&result)
    );
    let merged = std::fs::read_to_string(&file).unwrap();
    assert!(merged.ends_with("# my edit\n"), "{merged}");
    assert!(merged.contains("containerPort: 9000"), "{merged}");
    // A file the user did not touch is simply updated.
    let service = std::fs::read_to_string(dir.path().join("deploy/base/api/service.yaml")).unwrap();
    assert!(service.contains("9000"), "{service}");
    bulkhead(dir.path())
        .args(["plan", "--check"])
        .assert()
        .code(0);
}

#[test]
fn a_file_bulkhead_did_not_write_is_never_overwritten_silently() {
    let dir = platform(&minimal(""));
    let file = dir.path().join("services/api/Dockerfile");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "FROM scratch\n").unwrap();
    let result = bulkhead(dir.path())
        .args(["apply", "--yes"])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(4));
    assert!(
        stdout(&result).contains("conflict services/api/Dockerfile"),
        "{}",
        stdout(&result)
    );
    assert!(
        stdout(&result).contains("not written by bulkhead"),
        "{}",
        stdout(&result)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("<<<<<<< yours\nFROM scratch\n=======\n"),
        "{text}"
    );
    assert!(text.ends_with(">>>>>>> bulkhead\n"), "{text}");
    assert!(
        stderr(&result).contains("1 file(s) written with conflict markers"),
        "{}",
        stderr(&result)
    );
    // Until the markers are resolved, every run reports the conflict truthfully, and
    // neither plan nor plan --check calls it a success.
    let again = bulkhead(dir.path())
        .args(["apply", "--yes"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(4));
    assert!(
        stderr(&again).contains("1 file(s) still hold conflict markers"),
        "{}",
        stderr(&again)
    );
    for args in [&["plan"][..], &["plan", "--check"], &["plan", "-q"]] {
        let out = bulkhead(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{args:?}");
        assert!(
            stderr(&out).contains("1 file(s) hold conflict markers"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // Resolved: back to success.
    std::fs::write(&file, "FROM scratch\n").unwrap();
    bulkhead(dir.path())
        .args(["plan", "--check"])
        .assert()
        .code(0);
}

#[test]
fn removed_service_files_are_deleted_unless_edited() {
    let two = minimal("\n[services.worker]\nruntime = \"python\"\n");
    let dir = platform(&two);
    bulkhead(dir.path())
        .args(["apply", "--yes", "-q"])
        .assert()
        .success();
    let dockerfile = dir.path().join("services/worker/Dockerfile");
    let config = dir.path().join("deploy/base/worker/kustomization.yaml");
    assert!(dockerfile.is_file() && config.is_file());
    std::fs::write(&dockerfile, "# mine now\n").unwrap();

    std::fs::write(dir.path().join("service.toml"), minimal("")).unwrap();
    let result = bulkhead(dir.path())
        .args(["apply", "--yes"])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let text = stdout(&result);
    assert!(
        text.contains("delete deploy/base/worker/kustomization.yaml"),
        "{text}"
    );
    assert!(text.contains("keep services/worker/Dockerfile"), "{text}");
    assert!(!config.exists());
    assert!(
        !dir.path().join("deploy/base/worker").exists(),
        "empty folders are removed"
    );
    assert_eq!(
        std::fs::read_to_string(&dockerfile).unwrap(),
        "# mine now\n"
    );
}

#[cfg(unix)]
#[test]
fn never_writes_through_a_symlink_out_of_the_folder() {
    let outside = tempfile::tempdir().unwrap();
    let dir = platform(&minimal(""));
    std::fs::create_dir_all(dir.path().join("deploy")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("deploy/base")).unwrap();
    let result = bulkhead(dir.path())
        .args(["apply", "--yes"])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(4), "{}", stderr(&result));
    assert!(
        stdout(&result).contains("symbolic link"),
        "{}",
        stdout(&result)
    );
    assert!(
        read_tree(outside.path()).is_empty(),
        "nothing written outside"
    );
}

#[test]
fn json_plan_lists_every_file_with_its_action() {
    let dir = platform(&minimal(""));
    let result = bulkhead(dir.path())
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    assert!(result.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    assert!(
        changes
            .iter()
            .all(|c| c["action"] == "create" && c["diff"].as_str().unwrap().contains("+++ b/"))
    );
    assert_eq!(
        plan["summary"]["create"].as_u64().unwrap() as usize,
        changes.len()
    );
}

#[test]
fn lock_records_version_and_hash_of_every_written_file() {
    let out = generate(&example("shop"));
    let tree = read_tree(out.path());
    let lock: serde_json::Value = serde_json::from_str(&tree[".bulkhead/lock.json"]).unwrap();
    assert_eq!(
        lock["generator"],
        format!("bulkhead {}", env!("CARGO_PKG_VERSION"))
    );
    let files = lock["files"].as_object().unwrap();
    let generated: Vec<&String> = tree
        .keys()
        .filter(|k| !k.starts_with(".bulkhead/"))
        .collect();
    assert_eq!(files.len(), generated.len());
    for path in generated {
        let hash = files[path.as_str()].as_str().unwrap();
        assert_eq!(hash, bulkhead::state::hash(&tree[path]), "{path}");
    }
}

#[test]
fn generated_files_are_ordinary_readable_files() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = platform(&minimal(""));
        bulkhead(dir.path())
            .args(["apply", "--yes", "-q"])
            .assert()
            .success();
        let mode = std::fs::metadata(dir.path().join("services/api/Dockerfile"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        let leftovers: Vec<String> = read_tree(dir.path())
            .into_keys()
            .filter(|k| k.contains(".bulkhead-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
