//! Regenerating over a tree people have edited: user edits survive blueprint upgrades and
//! service.toml changes (three-way merge), overlapping edits become marked conflicts, and
//! an apply killed at any moment leaves every file old or new and is finished by the next.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{bulkhead, minimal, platform, read_tree};

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = bulkhead(dir).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap(), text)
}

fn edit(dir: &Path, rel: &str, from: &str, to: &str) {
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` must occur once in {rel}:\n{text}"
    );
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

const SERVICES: &str = r#"
[services.web]
runtime = "node"
apis = ["/web"]
calls = ["api"]

[services.worker]
runtime = "python"

[services.checkout]
runtime = "go"
release = { strategy = "canary", weight = 10 }
"#;

/// A blueprint folder overriding the built-in workload partial (the pod template of every
/// Deployment and Rollout) with one changed line: what a blueprint upgrade looks like to a
/// tree generated before it.
fn upgraded_blueprints(dir: &Path) {
    let partial = "_workloads/workload.yaml";
    let builtin = bulkhead::render::Blueprints::builtin();
    let source = &builtin.items[partial].source;
    assert_eq!(
        source.matches("terminationGracePeriodSeconds: 30").count(),
        1
    );
    let upgraded = source.replace(
        "terminationGracePeriodSeconds: 30",
        "terminationGracePeriodSeconds: 45",
    );
    let target = dir.join("blueprints").join(partial);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(target, upgraded).unwrap();
}

#[test]
fn upgrade_keeps_user_edits_and_brings_new_output() {
    let dir = platform(&minimal(SERVICES));
    let d = dir.path();
    assert_eq!(run(d, &["apply", "--yes", "-q"]).0, 0);

    // Edits a person makes: a resource limit, an annotation, a deleted line, and one edit
    // on the very line the upgrade changes.
    edit(
        d,
        "deploy/base/api/deployment.yaml",
        "memory: \"256Mi\"",
        "memory: \"300Mi\"",
    );
    edit(
        d,
        "deploy/base/api/service.yaml",
        "  labels:\n",
        "  annotations:\n    team: payments\n  labels:\n",
    );
    edit(
        d,
        "deploy/base/web/deployment.yaml",
        "  revisionHistoryLimit: 10\n",
        "",
    );
    edit(
        d,
        "deploy/base/worker/deployment.yaml",
        "terminationGracePeriodSeconds: 30",
        "terminationGracePeriodSeconds: 60",
    );
    // The canary's workload is a Rollout in each overlay: edited there too.
    let rollout = "deploy/overlays/prod/checkout/rollout.yaml";
    edit(
        d,
        rollout,
        "  revisionHistoryLimit: 10\n",
        "  revisionHistoryLimit: 3\n",
    );
    let untouched_before = read(d, "deploy/base/web/service.yaml");

    // The upgrade: new blueprints and a changed service.toml.
    upgraded_blueprints(d);
    let spec = minimal(&format!("port = 9000\n{SERVICES}"))
        .replace("[platform]\n", "[platform]\nblueprints = \"blueprints\"\n");
    std::fs::write(d.join("service.toml"), spec).unwrap();

    let (code, out) = run(d, &["apply", "--yes"]);
    assert_eq!(code, 4, "one overlapping edit means exit 4:\n{out}");

    let api = read(d, "deploy/base/api/deployment.yaml");
    assert!(
        api.contains("memory: \"300Mi\""),
        "user's limit kept:\n{api}"
    );
    assert!(
        api.contains("terminationGracePeriodSeconds: 45"),
        "upgrade applied:\n{api}"
    );
    assert!(
        api.contains("containerPort: 9000"),
        "service.toml change applied:\n{api}"
    );
    assert!(
        out.contains("merge deploy/base/api/deployment.yaml"),
        "{out}"
    );

    let service = read(d, "deploy/base/api/service.yaml");
    assert!(
        service.contains("team: payments") && service.contains("targetPort: 9000"),
        "{service}"
    );

    let web = read(d, "deploy/base/web/deployment.yaml");
    assert!(
        !web.contains("revisionHistoryLimit"),
        "deleted line stays deleted:\n{web}"
    );
    assert!(web.contains("terminationGracePeriodSeconds: 45"), "{web}");
    assert_eq!(
        read(d, "deploy/base/web/service.yaml"),
        untouched_before,
        "nothing new for it"
    );
    let checkout = read(d, rollout);
    assert!(
        checkout.contains("  revisionHistoryLimit: 3\n")
            && checkout.contains("terminationGracePeriodSeconds: 45"),
        "the Rollout keeps its edit and gets the upgrade:\n{checkout}"
    );
    assert!(
        read(d, "deploy/overlays/dev/checkout/rollout.yaml")
            .contains("terminationGracePeriodSeconds: 45")
    );

    // Exactly one conflict, exactly where both changed the same line.
    let conflicts: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("conflict "))
        .collect();
    assert_eq!(conflicts.len(), 1, "{out}");
    assert!(
        conflicts[0].contains("deploy/base/worker/deployment.yaml"),
        "{out}"
    );
    let worker = read(d, "deploy/base/worker/deployment.yaml");
    let marked = "<<<<<<< yours\n      terminationGracePeriodSeconds: 60\n=======\n      terminationGracePeriodSeconds: 45\n>>>>>>> bulkhead\n";
    assert!(worker.contains(marked), "{worker}");
    assert_eq!(worker.matches("<<<<<<<").count(), 1, "{worker}");

    // Still unresolved: reported again, never overwritten.
    assert_eq!(run(d, &["apply", "--yes"]).0, 4);
    assert_eq!(read(d, "deploy/base/worker/deployment.yaml"), worker);

    // Resolved by the user: their choice is kept and the tree is in sync.
    std::fs::write(
        d.join("deploy/base/worker/deployment.yaml"),
        worker.replace(marked, "      terminationGracePeriodSeconds: 60\n"),
    )
    .unwrap();
    let (code, out) = run(d, &["apply", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        read(d, "deploy/base/worker/deployment.yaml").contains("terminationGracePeriodSeconds: 60")
    );
    let (code, out) = run(d, &["plan", "--check"]);
    assert_eq!(code, 0, "kept edits are not drift:\n{out}");

    // No user byte lost anywhere.
    assert!(read(d, "deploy/base/api/deployment.yaml").contains("memory: \"300Mi\""));
    assert!(read(d, "deploy/base/api/service.yaml").contains("team: payments"));
    assert!(read(d, rollout).contains("  revisionHistoryLimit: 3\n"));
}

#[test]
fn a_deleted_file_stays_deleted_until_bulkhead_changes_it() {
    let dir = platform(&minimal(""));
    let d = dir.path();
    run(d, &["apply", "--yes", "-q"]);
    // Deleted together with its line in the kustomization (alone, it would come back:
    // the kustomization would not build without it, tests/targeted.rs).
    std::fs::remove_file(d.join("deploy/base/api/poddisruptionbudget.yaml")).unwrap();
    let kustomization = read(d, "deploy/base/api/kustomization.yaml");
    let unlisted: String = kustomization
        .lines()
        .filter(|l| !l.contains("poddisruptionbudget.yaml"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(unlisted, kustomization);
    std::fs::write(d.join("deploy/base/api/kustomization.yaml"), unlisted).unwrap();
    let (code, out) = run(d, &["apply", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("keep deploy/base/api/poddisruptionbudget.yaml (you deleted it)"),
        "{out}"
    );
    assert!(!d.join("deploy/base/api/poddisruptionbudget.yaml").exists());
    assert_eq!(run(d, &["plan", "--check"]).0, 0);

    // A change bulkhead makes to that file is a conflict: the new version comes back.
    std::fs::write(
        d.join("service.toml"),
        minimal("").replace("name = \"demo\"", "name = \"demo2\""),
    )
    .unwrap();
    let (code, out) = run(d, &["apply", "--yes"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("conflict deploy/base/api/poddisruptionbudget.yaml (you deleted it, but bulkhead has changes"), "{out}");
    assert!(read(d, "deploy/base/api/poddisruptionbudget.yaml").contains("demo2"));
}

#[test]
fn json_plan_names_merges_and_conflicts() {
    let dir = platform(&minimal(""));
    let d = dir.path();
    run(d, &["apply", "--yes", "-q"]);
    edit(
        d,
        "deploy/base/api/deployment.yaml",
        "memory: \"256Mi\"",
        "memory: \"300Mi\"",
    );
    edit(
        d,
        "deploy/base/api/service.yaml",
        "targetPort: 8080",
        "targetPort: 8081",
    );
    std::fs::write(d.join("service.toml"), minimal("port = 9000\n")).unwrap();
    let out = bulkhead(d)
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let action = |path: &str| {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == path)
            .map(|c| c["action"].as_str().unwrap().to_string())
    };
    assert_eq!(
        action("deploy/base/api/deployment.yaml").as_deref(),
        Some("merge")
    );
    assert_eq!(
        action("deploy/base/api/service.yaml").as_deref(),
        Some("conflict")
    );
    assert_eq!(plan["summary"]["conflict"], 1);
    // Apply would stop with conflicts: plan says so with their exit code.
    bulkhead(d).args(["plan", "--check"]).assert().code(4);
}

/// Every regular file under `dir` except bulkhead's own state and temporary files.
fn generated(dir: &Path) -> BTreeMap<String, String> {
    read_tree(dir)
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with(".bulkhead/")
                && k != "service.toml"
                && !k.rsplit('/').next().unwrap().starts_with(".bulkhead-")
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, text) in read_tree(from) {
        let target = to.join(&rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }
}

fn big_platform(name: &str, services: std::ops::Range<usize>) -> String {
    let mut text = format!(
        "[platform]\nname = \"{name}\"\nregistry = \"ghcr.io/acme\"\nrepository = \"https://github.com/acme/big.git\"\n\n[environments.dev]\n\n[environments.staging]\n\n[environments.prod]\n"
    );
    for i in services {
        text.push_str(&format!(
            "\n[services.svc-{i}]\nruntime = \"go\"\nenv = {{ INDEX = \"{i}\" }}\n"
        ));
    }
    text
}

#[test]
fn apply_killed_at_any_moment_leaves_old_or_new_files_and_is_finished_next_time() {
    let old_spec = big_platform("big", 0..40);
    let new_spec = big_platform("bigger", 4..44); // every file changes; some go, some come

    let old = platform(&old_spec);
    assert_eq!(run(old.path(), &["apply", "--yes", "-q"]).0, 0);
    let new = platform(&new_spec);
    assert_eq!(run(new.path(), &["apply", "--yes", "-q"]).0, 0);
    let old_tree = generated(old.path());
    let new_tree = generated(new.path());

    // How long one full upgrade takes, to spread the kills across it.
    let probe = tempfile::tempdir().unwrap();
    copy_tree(old.path(), probe.path());
    std::fs::write(probe.path().join("service.toml"), &new_spec).unwrap();
    let started = Instant::now();
    assert_eq!(run(probe.path(), &["apply", "--yes", "-q"]).0, 0);
    let full = started.elapsed();

    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut killed_midway = 0;
    for round in 0..14 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let fraction = (round as f64 + (seed % 1000) as f64 / 1000.0) / 14.0;
        let delay = full.mul_f64(fraction * 1.1);

        let work = tempfile::tempdir().unwrap();
        let d = work.path();
        copy_tree(old.path(), d);
        std::fs::write(d.join("service.toml"), &new_spec).unwrap();
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bulkhead"))
            .args(["apply", "--yes", "-q"])
            .current_dir(d)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if !status.success() {
            killed_midway += 1;
        }

        // Every file is entirely old or entirely new.
        let disk = generated(d);
        for (path, text) in &disk {
            let ok = old_tree.get(path) == Some(text) || new_tree.get(path) == Some(text);
            assert!(ok, "round {round}: {path} is neither old nor new");
        }

        // The next plan tells the truth: no phantom edits, and unchanged exactly where
        // the new content is already there.
        let out = bulkhead(d)
            .args(["plan", "--format", "json"])
            .output()
            .unwrap();
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for change in plan["changes"].as_array().unwrap() {
            let path = change["path"].as_str().unwrap();
            let action = change["action"].as_str().unwrap();
            assert!(
                !matches!(action, "conflict" | "keep" | "merge"),
                "round {round}: {path} {action}"
            );
            let done = disk.get(path) == new_tree.get(path);
            assert_eq!(
                action == "unchanged",
                done && new_tree.contains_key(path),
                "round {round}: {path} {action}"
            );
        }

        // And apply finishes the job.
        let (code, out) = run(d, &["apply", "--yes", "-q"]);
        assert_eq!(code, 0, "round {round}: {out}");
        assert_eq!(generated(d), new_tree, "round {round}");
        let leftovers: Vec<String> = read_tree(d)
            .into_keys()
            .filter(|k| {
                k.contains("/.bulkhead-")
                    || k.starts_with(".bulkhead-")
                    || k.ends_with("journal.json")
            })
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
        assert_eq!(run(d, &["plan", "--check"]).0, 0, "round {round}");
    }
    assert!(
        killed_midway >= 5,
        "only {killed_midway} of 14 runs were interrupted: the kills came too late"
    );
    let _ = Duration::ZERO;
}

/// Blueprints overriding built-in ones, each source with `(from, to)` replacements made
/// (each `from` must occur exactly once).
fn blueprints_with(dir: &Path, edits: &[(&str, &[(&str, &str)])]) {
    let builtin = bulkhead::render::Blueprints::builtin();
    for (name, replacements) in edits {
        let mut source = builtin.items[*name].source.to_string();
        for (from, to) in *replacements {
            assert_eq!(source.matches(from).count(), 1, "{name}: {from}");
            source = source.replacen(from, to, 1);
        }
        let target = dir.join("blueprints").join(name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, source).unwrap();
    }
}

fn upgrade_to_custom_blueprints(dir: &Path) {
    let spec = std::fs::read_to_string(dir.join("service.toml"))
        .unwrap()
        .replace("[platform]\n", "[platform]\nblueprints = \"blueprints\"\n");
    std::fs::write(dir.join("service.toml"), spec).unwrap();
}

/// The data of a YAML file, to compare what a person reads with what bulkhead must keep.
fn yaml(dir: &Path, rel: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&read(dir, rel)).unwrap()
}

#[test]
fn edits_beside_new_output_merge_by_structure() {
    let dir = platform(&minimal(""));
    let d = dir.path();
    assert_eq!(run(d, &["apply", "--yes", "-q"]).0, 0);
    let deployment = "deploy/base/api/deployment.yaml";
    let dashboard = "observability/dashboards/api.json";

    // A person's edits, each where the upgrade below adds lines of its own.
    edit(
        d,
        deployment,
        "\n    app.kubernetes.io/managed-by: bulkhead\n",
        "\n    app.kubernetes.io/managed-by: bulkhead\n    team: books # who owns it\n",
    );
    edit(
        d,
        deployment,
        "        kubectl.kubernetes.io/default-container: api\n",
        "        kubectl.kubernetes.io/default-container: api\n        example.com/on-call: books-team\n",
    );
    edit(
        d,
        deployment,
        "              value: json\n",
        "              value: json\n            # Ours, for the beta.\n            - name: FEATURE_FLAGS\n              value: beta\n",
    );
    edit(
        d,
        deployment,
        "              protocol: TCP\n",
        "              protocol: TCP\n            - name: debug\n              containerPort: 5005\n              protocol: TCP\n",
    );
    let panel = r#"    },
    {"id": 99, "type": "text", "title": "Runbook", "gridPos": {"h": 4, "w": 24, "x": 0, "y": 40},
      "options": {"mode": "markdown", "content": "See the books runbook."}}
  ]
}"#;
    let text = read(d, dashboard);
    assert!(text.ends_with("\n    }\n  ]\n}\n"), "{text}");
    std::fs::write(
        d.join(dashboard),
        format!(
            "{}\n{panel}\n",
            &text[..text.len() - "\n    }\n  ]\n}\n".len()]
        ),
    )
    .unwrap();
    let user_dashboard = read(d, dashboard);
    serde_json::from_str::<serde_json::Value>(&user_dashboard).unwrap();

    // The upgrade adds a label, an annotation, an environment variable, a port and a
    // dashboard panel, each right where the person added theirs.
    blueprints_with(
        d,
        &[
            (
                "_workloads/workload.yaml",
                &[
                    (
                        "    app.kubernetes.io/managed-by: bulkhead\n{% if service.description",
                        "    app.kubernetes.io/managed-by: bulkhead\n    app.kubernetes.io/component: api\n{% if service.description",
                    ),
                    (
                        "        kubectl.kubernetes.io/default-container: {{ service.name }}\n",
                        "        kubectl.kubernetes.io/default-container: {{ service.name }}\n        sidecar.istio.io/proxyCPU: 100m\n",
                    ),
                    (
                        "              value: json\n",
                        "              value: json\n            - name: LOG_LEVEL\n              value: info\n",
                    ),
                    (
                        "              protocol: TCP\n          envFrom:",
                        "              protocol: TCP\n            - name: admin\n              containerPort: 9090\n              protocol: TCP\n          envFrom:",
                    ),
                ],
            ),
            (
                "_dashboards/service.json",
                &[(
                    "\"HPA min\"]]) }}\n  ]\n}",
                    "\"HPA min\"]]) }},\n    {{ p.row(15, \"Release\", 32) }}\n  ]\n}",
                )],
            ),
        ],
    );
    upgrade_to_custom_blueprints(d);

    let (code, out) = run(d, &["plan", "-v"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "merge {deployment} (your edits and the new output, merged by structure;"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "merge {dashboard} (your edits and the new output, merged by structure;"
        )),
        "{out}"
    );
    assert!(out.contains("you added metadata.labels.team, "), "{out}");
    assert!(
        out.contains("bulkhead added metadata.labels.app.kubernetes.io/component, "),
        "{out}"
    );
    assert!(out.contains("you added panels[99]"), "{out}");
    assert!(out.contains("bulkhead added panels[15]"), "{out}");

    let (code, out) = run(d, &["apply", "--yes"]);
    assert_eq!(code, 0, "no conflict:\n{out}");

    // Both sides' edits are in the file, which parses, and the user's lines are intact.
    let merged = read(d, deployment);
    for line in [
        "    team: books # who owns it\n",
        "    app.kubernetes.io/component: api\n",
        "        example.com/on-call: books-team\n",
        "        sidecar.istio.io/proxyCPU: 100m\n",
        "            # Ours, for the beta.\n            - name: FEATURE_FLAGS\n              value: beta\n",
        "            - name: LOG_LEVEL\n              value: info\n",
        "              containerPort: 5005\n",
        "              containerPort: 9090\n",
    ] {
        assert!(merged.contains(line), "{line} missing:\n{merged}");
    }
    let data = yaml(d, deployment);
    let labels = &data["metadata"]["labels"];
    assert_eq!(labels["team"], "books");
    assert_eq!(labels["app.kubernetes.io/component"], "api");
    let container = &data["spec"]["template"]["spec"]["containers"][0];
    let names = |list: &serde_yaml_ng::Value, key: &str| -> Vec<String> {
        list.as_sequence()
            .unwrap()
            .iter()
            .map(|i| {
                serde_yaml_ng::to_string(&i[key])
                    .unwrap()
                    .trim()
                    .to_string()
            })
            .collect()
    };
    let env = names(&container["env"], "name");
    assert!(
        env.contains(&"FEATURE_FLAGS".into()) && env.contains(&"LOG_LEVEL".into()),
        "{env:?}"
    );
    assert_eq!(
        names(&container["ports"], "containerPort"),
        ["8080", "5005", "9090"]
    );

    let merged = read(d, dashboard);
    let data: serde_json::Value = serde_json::from_str(&merged).unwrap();
    let ids: Vec<i64> = data["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(&ids[ids.len() - 2..], [99, 15], "{ids:?}");
    // The user's panel, now followed by bulkhead's: one comma more, nothing else changed.
    assert!(
        merged.contains("    {\"id\": 99, \"type\": \"text\", \"title\": \"Runbook\", \"gridPos\": {\"h\": 4, \"w\": 24, \"x\": 0, \"y\": 40},\n      \"options\": {\"mode\": \"markdown\", \"content\": \"See the books runbook.\"}},\n    {\n      \"id\": 15,"),
        "{merged}"
    );

    // The tree is in sync: nothing left to do, and the merged files are kept as edited.
    let (code, out) = run(d, &["plan", "--check"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn structure_does_not_settle_true_conflicts() {
    let dir = platform(&minimal(""));
    let d = dir.path();
    assert_eq!(run(d, &["apply", "--yes", "-q"]).0, 0);
    let deployment = "deploy/base/api/deployment.yaml";
    // The same new label with another value, and an environment variable the upgrade
    // changes while the user deleted it.
    edit(
        d,
        deployment,
        "\n    app.kubernetes.io/managed-by: bulkhead\n",
        "\n    app.kubernetes.io/managed-by: bulkhead\n    app.kubernetes.io/component: backend\n",
    );
    edit(
        d,
        deployment,
        "            - name: LOG_FORMAT\n              value: json\n",
        "",
    );
    let before = read(d, deployment);
    blueprints_with(
        d,
        &[(
            "_workloads/workload.yaml",
            &[
                (
                    "    app.kubernetes.io/managed-by: bulkhead\n{% if service.description",
                    "    app.kubernetes.io/managed-by: bulkhead\n    app.kubernetes.io/component: api\n{% if service.description",
                ),
                (
                    "              value: json\n",
                    "              value: logfmt\n",
                ),
            ],
        )],
    );
    upgrade_to_custom_blueprints(d);
    let (code, out) = run(d, &["apply", "--yes"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains(&format!("conflict {deployment}")), "{out}");
    let marked = read(d, deployment);
    assert!(
        marked.contains("<<<<<<< yours\n    app.kubernetes.io/component: backend\n=======\n    app.kubernetes.io/component: api\n>>>>>>> bulkhead\n"),
        "{marked}"
    );
    assert!(marked.contains("value: logfmt"), "{marked}");
    // Neither side lost: every line of the user's file is still there.
    for line in before.lines() {
        assert!(marked.contains(line), "{line} lost:\n{marked}");
    }
}
