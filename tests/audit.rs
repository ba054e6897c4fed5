//! `bulkhead audit`: every freshly generated example passes, a hand edit that breaks one
//! checklist item fails exactly that check, a Helm platform is audited from its chart as
//! `helm template` renders it, and custom blueprints decide which files there are.
//!
//! Helm: no `helm` binary is needed. tests/helpers/helm_template.py implements `helm
//! template` on the real Helm engine (PyPI helm-python-sdk) from the conformance tools venv
//! (`BULKHEAD_TOOLS_DIR`, default .cache/conformance; `scripts/conformance` installs it);
//! `BULKHEAD_HELM` points at a launcher for it. Without the venv the tests fail.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{EXAMPLES, bulkhead, example, generate, platform, root};

/// Every check's name, in checklist order: the names tools key on.
const CHECKS: [&str; 22] = [
    "split_by_domain",
    "datastore_owner_only",
    "calls_by_service_name",
    "database_per_service",
    "state_in_statefulsets",
    "no_latest_tag",
    "multi_stage_build",
    "no_secrets_in_images",
    "non_root",
    "small_runtime_image",
    "rolling_deployments",
    "tls_gateway_only",
    "separate_probes",
    "liveness_is_local",
    "startup_probe",
    "autoscaling",
    "config_and_namespaces",
    "least_privilege",
    "json_logs_with_traces",
    "dashboards_and_alerts",
    "release_and_rollback",
    "resilience",
];

/// An executable `helm` for the audit: a launcher that runs tests/helpers/helm_template.py
/// with the tools venv's Python. Written once per test run.
fn helm_shim() -> &'static Path {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let tools = std::env::var_os("BULKHEAD_TOOLS_DIR")
            .map(PathBuf::from)
            .map_or_else(|| root().join(".cache/conformance"), |d| root().join(d));
        let python = tools.join("venv/bin/python");
        assert!(
            python.is_file(),
            "the audit of a Helm platform runs `helm template`, which these tests provide \
             through the real Helm engine (PyPI helm-python-sdk) in the conformance tools \
             venv, and {} does not exist: run `scripts/conformance --install-only`, or point \
             BULKHEAD_TOOLS_DIR at its cache folder",
            python.display()
        );
        let script = root().join("tests/helpers/helm_template.py");
        for path in [&python, &script] {
            assert!(!path.to_string_lossy().contains('\''), "{}", path.display());
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let shim = dir.join("helm");
        let temp = dir.join(format!("helm.{}.tmp", std::process::id()));
        std::fs::write(
            &temp,
            format!(
                "#!/bin/sh\nexec '{}' '{}' \"$@\"\n",
                python.display(),
                script.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&temp, &shim).unwrap();
        shim
    })
}

/// `bulkhead audit --format json -f spec -o out`, with the Helm shim.
fn audit_cmd(spec: &Path, out: &Path) -> assert_cmd::Command {
    let mut cmd = bulkhead(out);
    cmd.env("BULKHEAD_HELM", helm_shim())
        .args(["audit", "--format", "json", "-f"])
        .arg(spec)
        .arg("-o")
        .arg(out);
    cmd
}

/// Runs `audit --format json` on `out` and returns the exit code and the report.
fn audit_json(spec: &Path, out: &Path) -> (i32, serde_json::Value) {
    let output = audit_cmd(spec, out).output().unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "audit printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

/// Names of the checks whose status is `fail`.
fn failing(report: &serde_json::Value) -> Vec<String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "fail")
        .map(|i| i["check"].as_str().unwrap().to_string())
        .collect()
}

/// The item of the check named `check`.
fn item<'a>(report: &'a serde_json::Value, check: &str) -> &'a serde_json::Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["check"] == check)
        .unwrap_or_else(|| panic!("no check {check}"))
}

/// Every failing finding as `where | why`.
fn failures(report: &serde_json::Value) -> Vec<String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["findings"].as_array().unwrap())
        .filter(|f| f["status"] == "fail")
        .map(|f| format!("{} | {}", f["where"], f["why"]))
        .collect()
}

/// Every finding, whatever its status, as `where | why`.
fn all_findings(report: &serde_json::Value) -> Vec<String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["findings"].as_array().unwrap())
        .map(|f| format!("{} | {}", f["where"], f["why"]))
        .collect()
}

fn assert_every_item_once(report: &serde_json::Value) {
    let numbers: Vec<u64> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=22).collect::<Vec<u64>>());
    let checks: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, CHECKS);
    for item in report["items"].as_array().unwrap() {
        let status = item["status"].as_str().unwrap();
        assert!(
            ["pass", "fail", "n/a", "manual"].contains(&status),
            "{status}"
        );
        assert!(!item["item"].as_str().unwrap().is_empty());
        let findings = item["findings"].as_array().unwrap();
        assert!(
            !findings.is_empty(),
            "item {} has no findings",
            item["number"]
        );
        for f in findings {
            assert!(f["where"].is_string() && f["why"].is_string(), "{f}");
        }
    }
}

#[test]
fn every_freshly_generated_example_passes() {
    for name in EXAMPLES {
        let out = generate(&example(name));
        let (code, report) = audit_json(&example(name), out.path());
        assert_eq!(
            code,
            0,
            "{name}: {:#?}\n{:#?}",
            failures(&report),
            report["problems"]
        );
        assert!(failing(&report).is_empty(), "{name}");
        assert_eq!(report["passed"], true);
        assert_every_item_once(&report);
        // Cluster-only aspects are never claimed as passed.
        let manual = report["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["findings"].as_array().unwrap())
            .filter(|f| f["status"] == "manual")
            .count();
        assert!(manual > 0, "{name}: no manual rows");
        // What the cluster must provide is named there, each with its check, as
        // docs/architecture.md lists it: Istio CNI first among them with a mesh.
        let model = crate::common::model_of_file(&example(name));
        let manual_text: Vec<String> = report["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["findings"].as_array().unwrap())
            .filter(|f| f["status"] == "manual")
            .map(|f| f.to_string())
            .collect();
        let doc = std::fs::read_to_string(out.path().join("docs/architecture.md")).unwrap();
        for c in &model.platform.capabilities {
            assert!(
                manual_text
                    .iter()
                    .any(|m| m.contains(&c.check.replace('"', "\\\""))),
                "{name}: no manual check for {}",
                c.name
            );
            assert!(
                doc.contains(&c.check),
                "{name}: {} not in the architecture",
                c.name
            );
        }
        let cni = model
            .platform
            .capabilities
            .iter()
            .any(|c| c.check.contains("istio-cni-node"));
        assert_eq!(
            cni,
            model.platform.mesh == bulkhead::spec::Mesh::Istio,
            "{name}"
        );
    }
}

#[test]
fn a_platform_without_a_mesh_passes_through_ingresses() {
    let text = std::fs::read_to_string(example("fleet")).unwrap().replacen(
        "[platform]\n",
        "[platform]\nmesh = \"none\"\n",
        1,
    );
    let dir = platform(&text);
    let spec = dir.path().join("service.toml");
    bulkhead(dir.path())
        .args(["apply", "--yes", "-q"])
        .assert()
        .success();
    let (code, report) = audit_json(&spec, dir.path());
    assert_eq!(code, 0, "{:#?}", failures(&report));
    assert_every_item_once(&report);
    let privilege = item(&report, "least_privilege");
    assert!(
        privilege["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["status"] == "n/a" && f["why"].as_str().unwrap().contains("mesh = none")),
        "{privilege}"
    );
}

#[test]
fn the_text_table_shows_every_item_and_a_summary() {
    // A long spec path makes some "where" cells too wide for their column, so the table
    // must also show its wrapped rows aligned, whatever folder the tests run from.
    let deep = tempfile::tempdir().unwrap();
    let dir = deep
        .path()
        .join("a-platform-repository-with-a-long-name/and/nested/folders");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("service.toml");
    std::fs::copy(example("blog"), &spec).unwrap();
    let out = generate(&spec);
    let output = bulkhead(out.path())
        .args(["audit", "-f"])
        .arg(&spec)
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    let header = text.lines().next().unwrap();
    for column in ["#", "item", "status", "where", "why"] {
        assert!(header.contains(column), "{header}");
    }
    // Aligned: every status sits in the same column as the header's, and a reason moved
    // to its own line starts in the header's "why" column.
    let status_col = header.find("status").unwrap();
    let why_col = header.find("why").unwrap();
    let mut wrapped = 0;
    for line in text
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("Audit:"))
    {
        assert!(line.len() > why_col, "short row: {line}");
        if line[..why_col].trim().is_empty() {
            wrapped += 1;
            assert!(
                !line[why_col..].starts_with(' '),
                "misaligned reason: {line}"
            );
        } else {
            let word = line[status_col..].split_whitespace().next().unwrap_or("");
            assert!(
                ["pass", "fail", "manual", "n/a"].contains(&word),
                "misaligned: {line}"
            );
        }
    }
    assert!(wrapped > 0, "the long path wraps at least one row:\n{text}");
    for n in 1..=22 {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{n} "))),
            "item {n} missing:\n{text}"
        );
    }
    assert!(text.contains("Audit: 22 items:"), "{text}");
    assert!(text.contains("kubectl "), "manual rows carry a command");
}

#[test]
fn a_folder_without_a_generated_tree_is_an_error() {
    let dir = platform(&std::fs::read_to_string(example("shop")).unwrap());
    let output = bulkhead(dir.path()).arg("audit").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no generated tree") && stderr.contains(".bulkhead/lock.json"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Replaces every `old` (at least one must be there) with `new` in `file`.
fn edit(dir: &Path, file: &str, old: &str, new: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(old), "{file} has no {old:?}");
    std::fs::write(&path, text.replace(old, new)).unwrap();
}

/// Removes every line of `file` that is `line` once trimmed (at least one).
fn drop_lines(dir: &Path, file: &str, line: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| l.trim() != line).collect();
    assert!(kept.len() < text.lines().count(), "{file} has no {line:?}");
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
}

/// Removes the lines of `file` from the one starting with `start` to the last one
/// indented deeper than it.
fn cut_block(dir: &Path, file: &str, start: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = Vec::new();
    let mut cutting: Option<usize> = None;
    let mut cut = false;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(depth) = cutting {
            if indent > depth {
                continue;
            }
            cutting = None;
        }
        if !cut && line.trim_start().starts_with(start) {
            cutting = Some(indent);
            cut = true;
            continue;
        }
        out.push(line);
    }
    assert!(cut, "{file} has no {start}");
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
}

type Breakage = (
    &'static str,
    &'static [&'static str],
    &'static str,
    fn(&Path),
);

/// A service released rolling everywhere: its Deployment in the base.
const DEPLOYMENT: &str = "deploy/base/trip-management/deployment.yaml";
/// A canary service: its workload in each overlay, an Argo Rollouts Rollout.
const ROLLOUT: &str = "deploy/overlays/prod/vehicle-management/rollout.yaml";

/// A hand edit, the checks it breaks (exactly those) and the file every failure must name.
const BREAKAGES: &[Breakage] = &[
    ("remove runAsNonRoot", &["non_root"], DEPLOYMENT, |d| {
        // Every occurrence: the pod's and the container's.
        drop_lines(d, DEPLOYMENT, "runAsNonRoot: true");
    }),
    ("a Rollout running as root", &["non_root"], ROLLOUT, |d| {
        drop_lines(d, ROLLOUT, "runAsNonRoot: true");
        edit(d, ROLLOUT, "runAsUser: 65532", "runAsUser: 0");
    }),
    ("a `latest` image", &["no_latest_tag"], DEPLOYMENT, |d| {
        edit(
            d,
            DEPLOYMENT,
            "image: \"ghcr.io/acme/trip-management:0.1.0\"",
            "image: ghcr.io/acme/trip-management:latest",
        );
    }),
    (
        "a NodePort Service",
        &["tls_gateway_only"],
        "deploy/base/vehicle-management/service.yaml",
        |d| {
            edit(
                d,
                "deploy/base/vehicle-management/service.yaml",
                "type: ClusterIP",
                "type: NodePort",
            );
        },
    ),
    (
        "no startup probe in a Rollout",
        &["startup_probe"],
        ROLLOUT,
        |d| {
            cut_block(d, ROLLOUT, "startupProbe:");
        },
    ),
    (
        "the API token mounted in a Rollout",
        &["least_privilege"],
        ROLLOUT,
        |d| {
            edit(
                d,
                ROLLOUT,
                "automountServiceAccountToken: false",
                "automountServiceAccountToken: true",
            );
        },
    ),
    (
        "a single-stage Dockerfile",
        &["multi_stage_build"],
        "services/trip-management/Dockerfile",
        |d| {
            let path = d.join("services/trip-management/Dockerfile");
            let text = std::fs::read_to_string(&path).unwrap();
            let build = text.find("FROM golang").unwrap();
            let runtime = text.find("FROM gcr.io/distroless").unwrap();
            let single = format!("{}{}", &text[..build], &text[runtime..])
                .replace("COPY --from=build /out/app", "COPY app");
            std::fs::write(&path, single).unwrap();
        },
    ),
    (
        "a Pod IP in an env value",
        &["calls_by_service_name"],
        DEPLOYMENT,
        |d| {
            edit(
                d,
                DEPLOYMENT,
                "            - name: PORT\n",
                "            - name: PEER_URL\n              value: http://10.244.1.7:8080\n            - name: PORT\n",
            );
        },
    ),
    (
        "a datastore open to every pod",
        &["datastore_owner_only"],
        "deploy/base/vehicle-management/datastore.yaml",
        |d| {
            edit(
                d,
                "deploy/base/vehicle-management/datastore.yaml",
                "    - from:\n        - podSelector:\n            matchLabels:\n              app.kubernetes.io/name: vehicle-management\n",
                "    - from:\n        - podSelector: {}\n",
            );
        },
    ),
    (
        "no PodDisruptionBudget",
        &["resilience"],
        "deploy/base/user-profiles",
        |d| {
            edit(
                d,
                "deploy/base/user-profiles/kustomization.yaml",
                "  - poddisruptionbudget.yaml\n",
                "",
            );
        },
    ),
    (
        "plain-text logs from a Rollout",
        &["json_logs_with_traces"],
        ROLLOUT,
        |d| {
            edit(d, ROLLOUT, "value: json", "value: text");
        },
    ),
    (
        // Item 11 forbids it everywhere; service.toml releases the service rolling.
        "a Recreate rollout",
        &["rolling_deployments", "release_and_rollback"],
        DEPLOYMENT,
        |d| {
            edit(
                d,
                DEPLOYMENT,
                "    type: RollingUpdate\n    rollingUpdate:\n      maxUnavailable: 0\n      maxSurge: 25%\n",
                "    type: Recreate\n",
            );
        },
    ),
    (
        "a rolling update that takes a ready pod down",
        &["release_and_rollback"],
        DEPLOYMENT,
        |d| {
            edit(d, DEPLOYMENT, "maxUnavailable: 0", "maxUnavailable: 1");
        },
    ),
    (
        "a canary without its analysis step",
        &["release_and_rollback"],
        ROLLOUT,
        |d| {
            edit(
                d,
                ROLLOUT,
                "        - analysis:\n            templates:\n              - templateName: vehicle-management-slo\n            args:\n              - name: canary-hash\n                valueFrom:\n                  podTemplateHashValue: Latest\n",
                "",
            );
        },
    ),
    (
        "a canary analysing with a template that is not there",
        &["release_and_rollback"],
        ROLLOUT,
        |d| {
            edit(
                d,
                ROLLOUT,
                "templateName: vehicle-management-slo",
                "templateName: vehicle-management-errors",
            );
        },
    ),
    (
        "a public route the canary does not steer",
        &["release_and_rollback"],
        "deploy/overlays/prod/vehicle-management/virtualservice.yaml (VirtualService vehicle-management-public)",
        |d| {
            edit(
                d,
                ROLLOUT,
                "            - name: vehicle-management-public\n              routes:\n                - primary\n",
                "",
            );
        },
    ),
    (
        "a DestinationRule without the canary subset",
        &["release_and_rollback"],
        "deploy/overlays/staging/vehicle-management/destinationrule.yaml",
        |d| {
            edit(
                d,
                "deploy/overlays/staging/vehicle-management/destinationrule.yaml",
                "    - name: canary\n",
                "    - name: preview\n",
            );
        },
    ),
    (
        ".env in the build context",
        &["no_secrets_in_images"],
        "services/user-profiles/.dockerignore",
        |d| {
            edit(d, "services/user-profiles/.dockerignore", "**/.env\n", "");
        },
    ),
    (
        "a password in a ConfigMap",
        &["no_secrets_in_images"],
        "deploy/base/user-profiles/kustomization.yaml",
        |d| {
            edit(
                d,
                "deploy/base/user-profiles/kustomization.yaml",
                "  - name: user-profiles-config\n",
                "  - name: user-profiles-config\n    literals:\n      - DB_PASSWORD=\"hunter2\"\n",
            );
        },
    ),
    (
        "an HPA on the datastore",
        &["autoscaling"],
        "deploy/overlays/prod/vehicle-management/horizontalpodautoscaler-db.yaml",
        |d| {
            let overlay = "deploy/overlays/prod/vehicle-management";
            std::fs::write(
                d.join(overlay).join("horizontalpodautoscaler-db.yaml"),
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: vehicle-management-postgres\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: StatefulSet\n    name: vehicle-management-postgres\n  minReplicas: 1\n  maxReplicas: 3\n",
            )
            .unwrap();
            edit(
                d,
                &format!("{overlay}/kustomization.yaml"),
                "  - prometheusrule.yaml\n",
                "  - prometheusrule.yaml\n  - horizontalpodautoscaler-db.yaml\n",
            );
        },
    ),
    (
        "a ScaledObject aimed at a Deployment where a Rollout runs",
        &["autoscaling"],
        "deploy/overlays/dev/vehicle-management/scaledobject.yaml",
        |d| {
            edit(
                d,
                "deploy/overlays/dev/vehicle-management/scaledobject.yaml",
                "    apiVersion: argoproj.io/v1alpha1\n    kind: Rollout\n",
                "    apiVersion: apps/v1\n    kind: Deployment\n",
            );
        },
    ),
    (
        "a consumer allowed to publish the topic it reads",
        &["least_privilege"],
        "deploy/platform/nats.conf",
        |d| {
            edit(
                d,
                "deploy/platform/nats.conf",
                "\"allow\": [\"$JS.API.CONSUMER.MSG.NEXT.trip-completed.notifications\"",
                "\"allow\": [\"trip.completed\", \"$JS.API.CONSUMER.MSG.NEXT.trip-completed.notifications\"",
            );
        },
    ),
    (
        "the broker admitting a service without events",
        &["least_privilege"],
        "deploy/platform/broker.yaml (NetworkPolicy nats)",
        |d| {
            edit(
                d,
                "deploy/platform/broker.yaml",
                "                  - notifications\n",
                "                  - notifications\n                  - user-profiles\n",
            );
        },
    ),
    (
        "a backlog trigger on another service's consumer",
        &["autoscaling"],
        "deploy/overlays/prod/vehicle-management/scaledobject.yaml",
        |d| {
            edit(
                d,
                "deploy/overlays/prod/vehicle-management/scaledobject.yaml",
                "consumer: vehicle-management",
                "consumer: notifications",
            );
        },
    ),
    (
        "a `latest` tag in Helm values",
        &["no_latest_tag"],
        "helm/user-profiles/values-prod.yaml",
        |d| {
            edit(
                d,
                "helm/user-profiles/values-prod.yaml",
                "tag: \"0.1.0\"",
                "tag: latest",
            );
        },
    ),
    (
        "a patch removing the startup probe",
        &["startup_probe"],
        "deploy/overlays/dev/user-profiles/no-startup.yaml",
        |d| {
            let overlay = "deploy/overlays/dev/user-profiles";
            std::fs::write(
                d.join(overlay).join("no-startup.yaml"),
                "- op: remove\n  path: /spec/template/spec/containers/0/startupProbe\n",
            )
            .unwrap();
            let k = d.join(overlay).join("kustomization.yaml");
            let mut text = std::fs::read_to_string(&k).unwrap();
            assert!(!text.contains("patches:"), "{text}");
            text.push_str("patches:\n  - path: no-startup.yaml\n    target:\n      kind: Deployment\n      name: user-profiles\n");
            std::fs::write(k, text).unwrap();
        },
    ),
];

#[test]
fn breaking_a_generated_file_fails_exactly_that_check() {
    let spec = example("fleet");
    let fresh = generate(&spec);
    for (what, checks, file, breakage) in BREAKAGES {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(fresh.path(), dir.path());
        breakage(dir.path());
        let (code, report) = audit_json(&spec, dir.path());
        assert_fails_only(code, &report, checks, file, what);
    }
}

/// The audit failed exactly `checks`, naming `place` in every failure, with no problems
/// reading the tree.
fn assert_fails_only(
    code: i32,
    report: &serde_json::Value,
    checks: &[&str],
    place: &str,
    what: &str,
) {
    assert_eq!(code, 1, "{what}: audit must fail");
    assert_eq!(report["passed"], false, "{what}");
    assert_eq!(
        failing(report),
        checks,
        "{what} must fail {checks:?} only: {:#?}",
        failures(report)
    );
    assert!(
        failures(report).iter().all(|f| f.contains(place)),
        "{what}: the failure names {place}: {:#?}",
        failures(report)
    );
    assert!(report["problems"].as_array().unwrap().is_empty(), "{what}");
}

#[test]
fn an_unreadable_file_fails_the_audit() {
    let spec = example("fleet");
    let out = generate(&spec);
    let service = out.path().join("deploy/base/user-profiles/service.yaml");
    let mut text = std::fs::read_to_string(&service).unwrap();
    text.push_str("  : : [\n");
    std::fs::write(&service, text).unwrap();
    let (code, report) = audit_json(&spec, out.path());
    assert_eq!(code, 1);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(
        problems[0]["path"],
        "deploy/base/user-profiles/service.yaml"
    );
}

#[test]
fn quiet_prints_only_the_failures() {
    let spec = example("fleet");
    let out = generate(&spec);
    edit(
        out.path(),
        "deploy/base/vehicle-management/service.yaml",
        "type: ClusterIP",
        "type: LoadBalancer",
    );
    let output = bulkhead(out.path())
        .args(["audit", "-q", "-f"])
        .arg(&spec)
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    // One failing finding: its row, and its reason on a line of its own when the place is long.
    let rows: Vec<&str> = text
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("Audit:"))
        .collect();
    assert!(
        rows[0].contains(" 12 ") && rows[0].contains("fail"),
        "{text}"
    );
    assert!(
        !rows
            .iter()
            .any(|r| r.contains("pass") || r.contains("manual")),
        "{text}"
    );
    assert!(text.contains("type LoadBalancer"), "{text}");
    assert!(text.contains("failed: item 12"), "{text}");
}

/// A hand edit of a Helm platform (examples/shop, deploy = "helm"): the file, the text
/// replaced, its replacement, the check it breaks and what the failure must name.
type HelmBreakage = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const HELM_BREAKAGES: &[HelmBreakage] = &[
    (
        "helm/web/values-production.yaml",
        "autoscaling:\n  enabled: true",
        "autoscaling:\n  enabled: false",
        "autoscaling",
        "helm/chart for web in production",
    ),
    (
        "helm/orders/values-staging.yaml",
        "environment: staging\n",
        "environment: staging\ndatastore:\n  enabled: false\n",
        "state_in_statefulsets",
        "helm/chart for orders in staging",
    ),
    (
        "helm/web/values-production.yaml",
        "      previewService: web-preview\n",
        "      previewService: web-next\n",
        "release_and_rollback",
        "helm/chart/templates/rollout.yaml for web in production (Rollout web)",
    ),
    (
        "helm/api/values-staging.yaml",
        "        - analysis:\n            templates:\n              - templateName: api-slo\n            args:\n              - name: canary-hash\n                valueFrom:\n                  podTemplateHashValue: Latest\n",
        "",
        "release_and_rollback",
        "helm/chart/templates/rollout.yaml for api in staging (Rollout api)",
    ),
];

/// Every finding of `check` whose status is `status`, as `where | why`.
fn findings_of(report: &serde_json::Value, check: &str, status: &str) -> Vec<String> {
    item(report, check)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == status)
        .map(|f| {
            format!(
                "{} | {}",
                f["where"].as_str().unwrap(),
                f["why"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_helm_platform_is_audited_as_the_chart_renders_it() {
    let spec = example("shop");
    let fresh = generate(&spec);
    let (code, report) = audit_json(&spec, fresh.path());
    assert_eq!(code, 0, "{:#?}", failures(&report));
    assert_eq!(report["deploy"], "helm");
    // The objects come from the chart's releases: the pass names them, and the workloads
    // counted are every (service, environment)'s, one each: 3 services in 3 environments,
    // api (canary) and web (blue-green) as Rollouts in staging and production.
    let rolling = findings_of(&report, "rolling_deployments", "pass");
    assert!(
        rolling[0].starts_with("helm/chart, deploy/ | 9 workloads (5 Deployments, 4 Rollouts) "),
        "{rolling:?}"
    );
    let releases = findings_of(&report, "release_and_rollback", "pass");
    assert!(
        releases[0].contains("(2 blue-green, 2 canary, 5 rolling)"),
        "{releases:?}"
    );

    // Kustomize files of the services are not deployed with Helm: breaking one changes
    // nothing, while the same break in what the chart renders fails.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(fresh.path(), dir.path());
    edit(
        dir.path(),
        "deploy/base/api/service.yaml",
        "type: ClusterIP",
        "type: NodePort",
    );
    let (code, report) = audit_json(&spec, dir.path());
    assert_eq!(code, 0, "{:#?}", failures(&report));

    for (file, old, new, check, place) in HELM_BREAKAGES {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(fresh.path(), dir.path());
        edit(dir.path(), file, old, new);
        let (code, report) = audit_json(&spec, dir.path());
        assert_fails_only(code, &report, &[check], place, file);
    }
}

#[test]
fn a_chart_that_helm_cannot_render_fails_the_audit() {
    let spec = example("shop");
    let out = generate(&spec);
    edit(
        out.path(),
        "helm/chart/templates/service.yaml",
        "apiVersion: v1",
        "{{ fail \"broken by hand\" }}\napiVersion: v1",
    );
    let (code, report) = audit_json(&spec, out.path());
    assert_eq!(code, 1);
    assert_eq!(report["passed"], false);
    let problems = report["problems"].as_array().unwrap();
    // One per release: every service in every environment.
    assert_eq!(problems.len(), 9, "{problems:#?}");
    assert!(
        problems.iter().all(|p| {
            p["path"].as_str().unwrap().starts_with("helm/chart for ")
                && p["error"].as_str().unwrap().contains("broken by hand")
        }),
        "{problems:#?}"
    );
}

#[test]
fn a_helm_platform_without_helm_is_a_clear_error() {
    let spec = example("shop");
    let out = generate(&spec);
    let empty = tempfile::tempdir().unwrap();
    let output = bulkhead(out.path())
        .env_remove("BULKHEAD_HELM")
        // No helm on PATH, whatever this machine has installed.
        .env("PATH", empty.path())
        .args(["audit", "-f"])
        .arg(&spec)
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for needed in [
        "deploy = \"helm\"",
        "helm template",
        "--helm",
        "BULKHEAD_HELM",
    ] {
        assert!(stderr.contains(needed), "{needed}: {stderr}");
    }

    // A helm named explicitly that is not there is an error too, naming it.
    let output = bulkhead(out.path())
        .env("BULKHEAD_HELM", helm_shim())
        .args(["audit", "--helm", "/nonexistent/helm", "-f"])
        .arg(&spec)
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/helm"), "{stderr}");

    // --helm wins over BULKHEAD_HELM.
    let output = bulkhead(out.path())
        .env("BULKHEAD_HELM", "/nonexistent/helm")
        .args(["audit", "-q", "--helm"])
        .arg(helm_shim())
        .arg("-f")
        .arg(&spec)
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn custom_blueprints_decide_which_files_are_audited() {
    // examples/platform-repo: its own Go Dockerfile, runbooks and on-call files.
    let spec = example("platform-repo");
    let out = generate(&spec);
    let (code, report) = audit_json(&spec, out.path());
    assert_eq!(code, 0, "{:#?}", failures(&report));
    assert_every_item_once(&report);

    // A platform whose blueprints build images from images/<svc>/, keep its Argo CD
    // Applications in gitops/ and ship no dashboard files: audit reads the files where
    // they are, and does not miss what was never generated.
    let dir = platform(
        &std::fs::read_to_string(example("fleet")).unwrap().replacen(
            "[platform]\n",
            "[platform]\nblueprints = \"blueprints\"\n",
            1,
        ),
    );
    let blueprints = dir.path().join("blueprints");
    let application =
        std::fs::read_to_string(root().join("blueprints/argocd/__env__/__service__.yaml")).unwrap();
    for (path, text) in [
        ("services/__service__/Dockerfile", ""),
        ("services/__service__/.dockerignore", ""),
        (
            "images/__service__/Dockerfile",
            "{% include \"_runtimes/\" ~ service.runtime ~ \"/Dockerfile\" %}\n",
        ),
        ("images/__service__/.dockerignore", "**/.env\n.git\n"),
        ("observability/dashboards/__service__.json", ""),
        ("observability/dashboards/overview.json", ""),
        ("argocd/__env__/__service__.yaml", ""),
        ("gitops/__env__/__service__.yaml", application.as_str()),
    ] {
        let file = blueprints.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let spec = dir.path().join("service.toml");
    bulkhead(dir.path())
        .args(["apply", "--yes", "-q"])
        .assert()
        .success();
    assert!(!dir.path().join("services").exists());
    assert!(!dir.path().join("observability").exists());
    assert!(dir.path().join("gitops/prod/user-profiles.yaml").is_file());
    let (code, report) = audit_json(&spec, dir.path());
    assert_eq!(code, 0, "{:#?}", failures(&report));
    let all = all_findings(&report);
    assert!(
        !all.iter()
            .any(|f| f.contains("services/") || f.contains("observability/")),
        "{all:#?}"
    );
    let releases = findings_of(&report, "release_and_rollback", "pass");
    assert!(
        releases[0].contains("an Argo CD Application per service and environment"),
        "{releases:?}"
    );
    let built = findings_of(&report, "multi_stage_build", "pass");
    assert!(
        built[0].starts_with("images/*/Dockerfile | 4 Dockerfiles"),
        "{built:?}"
    );

    // What is read is the moved file: breaking it fails, naming it.
    drop_lines(
        dir.path(),
        "images/trip-management/Dockerfile",
        "USER 65532:65532",
    );
    let (code, report) = audit_json(&spec, dir.path());
    assert_eq!(code, 1);
    assert_eq!(failing(&report), vec!["non_root"]);
    assert!(
        failures(&report)
            .iter()
            .all(|f| f.contains("images/trip-management/Dockerfile")),
        "{:#?}",
        failures(&report)
    );

    // A generated file that is gone still fails.
    std::fs::remove_file(dir.path().join("images/user-profiles/.dockerignore")).unwrap();
    let (_, report) = audit_json(&spec, dir.path());
    assert!(
        findings_of(&report, "no_secrets_in_images", "fail")
            .iter()
            .any(|f| f.contains("images/user-profiles/.dockerignore") && f.contains("missing")),
        "{:#?}",
        failures(&report)
    );
}
