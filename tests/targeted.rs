//! Commands aimed at some files: a deleted file that the tree still needs, `restore`, and
//! `--service` on plan and apply. Each runs the real binary on a generated platform.

use std::path::Path;

use expectrl::Expect;

use crate::common::{bulkhead, kustomize_text, platform, read_tree};
use crate::init_add::{answer, finish, spawn};

/// Two services in two environments, generated into the folder of service.toml.
fn two_services() -> tempfile::TempDir {
    let dir = platform(
        r#"[platform]
name = "shop"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/shop.git"

[environments.dev]

[environments.prod]

[services.orders]
runtime = "go"
owns = ["orders"]
datastore = "postgres"
apis = ["/orders"]
calls = ["users"]

[services.users]
runtime = "node"
apis = ["/users"]
"#,
    );
    apply(dir.path(), &[]);
    dir
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bulkhead(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn apply(dir: &Path, extra: &[&str]) -> String {
    let (code, stdout, stderr) = run(dir, &[&["apply", "--yes"][..], extra].concat());
    assert_eq!(code, 0, "{stdout}{stderr}");
    stdout
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

// ── A deleted file the tree still refers to ───────────────────────────────────────────

#[test]
fn a_deleted_file_that_a_kustomization_lists_is_drift_and_comes_back() {
    let dir = two_services();
    let overlay = dir.path().join("deploy/overlays/dev/orders");
    let listed = "deploy/overlays/dev/orders/virtualservice.yaml";
    std::fs::remove_file(dir.path().join(listed)).unwrap();
    // As the user left it, the overlay does not build.
    assert!(kustomize_text(&overlay).is_err());

    let (code, stdout, _) = run(dir.path(), &["plan", "--check", "-q"]);
    assert_eq!(code, 3, "drift: {stdout}");
    assert!(
        stdout.contains(&format!(
            "create {listed} (you deleted it, but deploy/overlays/dev/orders/kustomization.yaml still refers to it"
        )),
        "{stdout}"
    );
    apply(dir.path(), &["-q"]);
    assert!(kustomize_text(&overlay).is_ok());
    let (code, _, _) = run(dir.path(), &["plan", "--check"]);
    assert_eq!(code, 0);

    // Removing the reference too makes the deletion stick: the kustomization is an edit
    // of the user's, the file stays deleted, and the overlay builds.
    let kustomization = overlay.join("kustomization.yaml");
    let edited = std::fs::read_to_string(&kustomization)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("virtualservice.yaml"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(&kustomization, edited).unwrap();
    std::fs::remove_file(dir.path().join(listed)).unwrap();
    assert!(kustomize_text(&overlay).is_ok());
    let (code, stdout, _) = run(dir.path(), &["plan", "--check", "-q"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(!dir.path().join(listed).exists());
}

#[test]
fn a_deleted_overlay_that_argo_cd_syncs_comes_back() {
    let dir = two_services();
    let rel = "deploy/overlays/prod/users/kustomization.yaml";
    std::fs::remove_file(dir.path().join(rel)).unwrap();
    let (code, stdout, _) = run(dir.path(), &["plan", "--check", "-q"]);
    assert_eq!(code, 3);
    // The first file (in path order) that still needs it is named.
    assert!(
        stdout.contains(&format!(
            "create {rel} (you deleted it, but argocd/prod/users.yaml still refers to it"
        )),
        "{stdout}"
    );
}

// ── restore ──────────────────────────────────────────────────────────────────────────

#[test]
fn restore_discards_edits_of_the_chosen_files_only() {
    let dir = two_services();
    let chosen = "deploy/base/orders/deployment.yaml";
    let other = "deploy/base/users/deployment.yaml";
    let original = read(dir.path(), chosen);
    for rel in [chosen, other] {
        let edited = read(dir.path(), rel) + "# my edit\n";
        std::fs::write(dir.path().join(rel), edited).unwrap();
    }
    let before = read_tree(dir.path());

    // Without a terminal and without --yes: nothing is written.
    let (code, stdout, stderr) = run(dir.path(), &["restore", chosen]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("-# my edit"),
        "the diff shows what goes: {stdout}"
    );
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert_eq!(read_tree(dir.path()), before);

    let (code, stdout, _) = run(dir.path(), &["restore", "--yes", chosen]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "update {chosen} (restored: your edits are discarded;"
        )),
        "{stdout}"
    );
    assert_eq!(read(dir.path(), chosen), original);
    assert!(
        read(dir.path(), other).ends_with("# my edit\n"),
        "other edits stay"
    );
    // Restored means generated again: the next plan keeps the other edit and is quiet
    // about the restored file.
    let (code, stdout, _) = run(dir.path(), &["plan", "-q"]);
    assert_eq!(code, 0);
    assert!(!stdout.contains(chosen), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("keep {other} "))),
        "{stdout}"
    );
}

#[test]
fn restore_takes_folders_and_paths_from_the_current_folder() {
    let dir = two_services();
    let deleted = "services/users/Dockerfile";
    std::fs::remove_file(dir.path().join(deleted)).unwrap();
    let edited = "services/users/.dockerignore";
    std::fs::write(dir.path().join(edited), "nothing\n").unwrap();
    // From inside services/: the folder `users` is services/users.
    let inside = dir.path().join("services");
    let (code, stdout, stderr) = run(
        &inside,
        &["restore", "--yes", "-q", "-f", "../service.toml", "users"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        dir.path().join(deleted).is_file(),
        "a deleted file comes back"
    );
    assert_ne!(read(dir.path(), edited), "nothing\n");
    assert!(stdout.contains("Wrote 2 files"), "{stdout}");

    let (code, _, stderr) = run(dir.path(), &["restore", "--yes", "services/nope"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("services/nope is not a file bulkhead generates in ."),
        "{stderr}"
    );
}

#[test]
fn restore_asks_on_a_terminal_after_showing_the_diff() {
    let dir = two_services();
    let rel = "deploy/base/users/service.yaml";
    let original = read(dir.path(), rel);
    std::fs::write(dir.path().join(rel), original.clone() + "# mine\n").unwrap();

    let mut p = spawn(dir.path(), &["restore", rel]);
    p.expect("-# mine").expect("the diff comes first");
    answer(
        &mut p,
        "Discard your edits: write bulkhead's version of 1 file in",
        "n\r",
    );
    let said = finish(p);
    assert!(said.contains("Nothing written."), "{said}");
    assert!(read(dir.path(), rel).ends_with("# mine\n"));

    let mut p = spawn(dir.path(), &["restore", rel]);
    answer(&mut p, "Discard your edits", "y\r");
    let said = finish(p);
    assert!(said.contains("Wrote 1 file"), "{said}");
    assert_eq!(read(dir.path(), rel), original);
}

// ── --service ────────────────────────────────────────────────────────────────────────

#[test]
fn service_narrows_plan_and_apply_to_its_files_and_the_shared_ones() {
    let dir = two_services();
    // Both services change: a setting each.
    let spec = dir.path().join("service.toml");
    let text = read(dir.path(), "service.toml")
        .replace(
            "calls = [\"users\"]\n",
            "calls = [\"users\"]\nenv = { MODE = \"fast\" }\n",
        )
        .replace(
            "apis = [\"/users\"]\n",
            "apis = [\"/users\"]\nenv = { MODE = \"slow\" }\n",
        );
    std::fs::write(&spec, text).unwrap();

    let (code, stdout, _) = run(
        dir.path(),
        &["plan", "-q", "--check", "--service", "orders"],
    );
    assert_eq!(code, 3);
    assert!(
        stdout.contains("deploy/base/orders/kustomization.yaml"),
        "{stdout}"
    );
    assert!(!stdout.contains("/users/"), "{stdout}");

    apply(dir.path(), &["-q", "--service", "orders"]);
    let orders = read(dir.path(), "deploy/base/orders/kustomization.yaml");
    assert!(
        orders.contains("MODE=") && orders.contains("fast"),
        "{orders}"
    );
    assert!(!read(dir.path(), "deploy/base/users/kustomization.yaml").contains("MODE"));
    // The rest is still to do, and nothing of orders.
    let (code, stdout, _) = run(dir.path(), &["plan", "-q", "--check"]);
    assert_eq!(code, 3);
    assert!(
        stdout.contains("deploy/base/users/kustomization.yaml"),
        "{stdout}"
    );
    assert!(!stdout.contains("/orders/"), "{stdout}");
    apply(
        dir.path(),
        &["-q", "--service", "users", "--service", "orders"],
    );
    let (code, _, _) = run(dir.path(), &["plan", "--check"]);
    assert_eq!(code, 0);

    let (code, _, stderr) = run(dir.path(), &["plan", "--service", "order"]);
    assert_eq!(code, 1);
    assert!(
        stderr
            .contains("--service order: no such service in service.toml (did you mean `orders`?)"),
        "{stderr}"
    );
}
