//! `bulkhead audit`: every freshly generated example passes, and a hand edit that breaks
//! one checklist item fails exactly that item.

use std::path::Path;

use crate::common::{EXAMPLES, bulkhead, example, generate, platform};

/// Runs `audit --format json` on `out` and returns the exit code and the report.
fn audit_json(spec: &Path, out: &Path) -> (i32, serde_json::Value) {
    let output = bulkhead(out)
        .args(["audit", "--format", "json", "-f"])
        .arg(spec)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "audit printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

/// Numbers of the items whose status is `fail`.
fn failing(report: &serde_json::Value) -> Vec<u64> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "fail")
        .map(|i| i["number"].as_u64().unwrap())
        .collect()
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

fn assert_every_item_once(report: &serde_json::Value) {
    let numbers: Vec<u64> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=22).collect::<Vec<u64>>());
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
    let item18 = &report["items"][17];
    assert!(
        item18["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["status"] == "n/a" && f["why"].as_str().unwrap().contains("mesh = none")),
        "{item18}"
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

type Breakage = (&'static str, u64, &'static str, fn(&Path));

const DEPLOYMENT: &str = "deploy/base/vehicle-management/deployment.yaml";

/// A hand edit, the item it breaks, and the file the failure must name.
const BREAKAGES: &[Breakage] = &[
    ("remove runAsNonRoot", 9, DEPLOYMENT, |d| {
        // Every occurrence: the pod's and the container's.
        drop_lines(d, DEPLOYMENT, "runAsNonRoot: true");
    }),
    ("a `latest` image", 6, DEPLOYMENT, |d| {
        edit(
            d,
            DEPLOYMENT,
            "image: \"ghcr.io/acme/vehicle-management:0.1.0\"",
            "image: ghcr.io/acme/vehicle-management:latest",
        );
    }),
    (
        "a NodePort Service",
        12,
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
    ("no startup probe", 15, DEPLOYMENT, |d| {
        cut_block(d, DEPLOYMENT, "startupProbe:");
    }),
    ("the API token mounted", 18, DEPLOYMENT, |d| {
        edit(
            d,
            DEPLOYMENT,
            "automountServiceAccountToken: false",
            "automountServiceAccountToken: true",
        );
    }),
    (
        "a single-stage Dockerfile",
        7,
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
    ("a Pod IP in an env value", 3, DEPLOYMENT, |d| {
        edit(
            d,
            DEPLOYMENT,
            "            - name: PORT\n",
            "            - name: PEER_URL\n              value: http://10.244.1.7:8080\n            - name: PORT\n",
        );
    }),
    (
        "a datastore open to every pod",
        2,
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
        22,
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
    ("plain-text logs", 19, DEPLOYMENT, |d| {
        edit(d, DEPLOYMENT, "value: json", "value: text");
    }),
    ("a Recreate rollout", 11, DEPLOYMENT, |d| {
        edit(
            d,
            DEPLOYMENT,
            "    type: RollingUpdate\n    rollingUpdate:\n      maxUnavailable: 0\n      maxSurge: 25%\n",
            "    type: Recreate\n",
        );
    }),
    (
        ".env in the build context",
        8,
        "services/user-profiles/.dockerignore",
        |d| {
            edit(d, "services/user-profiles/.dockerignore", "**/.env\n", "");
        },
    ),
    (
        "a password in a ConfigMap",
        8,
        "deploy/base/user-profiles/configmap.yaml",
        |d| {
            edit(
                d,
                "deploy/base/user-profiles/configmap.yaml",
                "data: {}",
                "data:\n  DB_PASSWORD: hunter2",
            );
        },
    ),
    (
        "an HPA on the datastore",
        16,
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
        "a `latest` tag in Helm values",
        6,
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
        15,
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
fn breaking_a_generated_file_fails_exactly_that_item() {
    let spec = example("fleet");
    let fresh = generate(&spec);
    for (what, item, file, breakage) in BREAKAGES {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(fresh.path(), dir.path());
        breakage(dir.path());
        let (code, report) = audit_json(&spec, dir.path());
        assert_eq!(code, 1, "{what}: audit must fail");
        assert_eq!(report["passed"], false, "{what}");
        assert_eq!(
            failing(&report),
            vec![*item],
            "{what} must fail item {item} only: {:#?}",
            failures(&report)
        );
        assert!(
            failures(&report).iter().all(|f| f.contains(file)),
            "{what}: the failure names {file}: {:#?}",
            failures(&report)
        );
        assert!(report["problems"].as_array().unwrap().is_empty(), "{what}");
    }
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
