//! Whether CI sets the tag of every image the first environment runs: each workflow runs
//! once on paper (the image its build pushes, the files its deploy job edits with yq), and
//! afterwards every image of ours there is one some workflow pushed. It follows only the yq
//! forms it knows: an edit it cannot read is a finding, never a silent pass.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml_ng::Value;

use super::objects::{Object, at, items, scalar, text};

/// One workflow run on paper: the commit it builds, the image references it pushes, the
/// edits its steps make.
#[derive(Debug)]
pub struct Run {
    pub sha: String,
    pub pushed: BTreeSet<String>,
    pub edits: Vec<Edit>,
}

/// A yq assignment: in `file`, set `path` (within each item of `within` whose `key` equals
/// `equals`, when `within` is given) to `value`.
#[derive(Debug, PartialEq)]
pub struct Edit {
    pub file: String,
    pub within: Option<(Vec<String>, String, String)>,
    pub path: Vec<String>,
    pub value: String,
}

/// Variables: the workflow's, then the job's, then the step's `env`.
type Env = BTreeMap<String, String>;

/// `${{ github.sha }}` and `${{ env.X }}` resolved; other expressions kept as written.
fn expand(text: &str, env: &Env, sha: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            rest = &rest[start..];
            break;
        };
        let inner = rest[start + 3..start + end].trim();
        if inner == "github.sha" {
            out.push_str(sha);
        } else if let Some(var) = inner.strip_prefix("env.") {
            out.push_str(env.get(var).map_or("", String::as_str));
        } else {
            out.push_str(&rest[start..start + end + 2]);
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

fn with_env(env: &Env, block: &Value, sha: &str) -> Env {
    let mut out = env.clone();
    for (k, v) in block.as_mapping().into_iter().flatten() {
        let value = expand(&scalar(v), &out, sha);
        out.insert(scalar(k), value);
    }
    out
}

/// A shell word: `"$FILE"`, `${FILE}`, `path`.
fn shell_word(word: &str, env: &Env) -> String {
    let word = word.trim_matches('"');
    let var = word
        .strip_prefix("${")
        .and_then(|w| w.strip_suffix('}'))
        .or_else(|| word.strip_prefix('$'));
    match var {
        Some(v) => env.get(v).cloned().unwrap_or_default(),
        None => word.to_string(),
    }
}

/// A yq value: `strenv(X)`, `env(X)` or a quoted literal.
fn yq_value(text: &str, env: &Env) -> Option<String> {
    let text = text.trim();
    if let Some(var) = text
        .strip_prefix("strenv(")
        .or_else(|| text.strip_prefix("env("))
        .and_then(|t| t.strip_suffix(')'))
    {
        return env.get(var).cloned();
    }
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .map(String::from)
}

/// `.a.b` as keys.
fn yq_path(text: &str) -> Option<Vec<String>> {
    let text = text.trim().strip_prefix('.')?;
    let keys: Vec<String> = text.split('.').map(String::from).collect();
    keys.iter()
        .all(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(keys)
}

/// `.a = VALUE | …` (what follows the first pipe only styles the output).
fn yq_assignment(text: &str, env: &Env) -> Option<(Vec<String>, String)> {
    let first = text.split(" | ").next()?;
    let (path, value) = first.split_once(" = ")?;
    Some((yq_path(path)?, yq_value(value, env)?))
}

/// The edit a `yq --inplace 'EXPRESSION' FILE` command makes, in the forms
/// `with(.list[] | select(.key == VALUE); .path = VALUE | …)` and `.path = VALUE | …`.
fn yq_edit(expression: &str, file: String, env: &Env) -> Option<Edit> {
    let expression = expression.trim();
    if let Some(inner) = expression
        .strip_prefix("with(")
        .and_then(|e| e.strip_suffix(')'))
    {
        let (selection, body) = inner.split_once(';')?;
        let (list, filter) = selection.split_once("[] | select(")?;
        let (key, equals) = filter.strip_suffix(')')?.split_once(" == ")?;
        let (path, value) = yq_assignment(body, env)?;
        let key = yq_path(key)?;
        if key.len() != 1 {
            return None;
        }
        return Some(Edit {
            file,
            within: Some((yq_path(list)?, key[0].clone(), yq_value(equals, env)?)),
            path,
            value,
        });
    }
    let (path, value) = yq_assignment(expression, env)?;
    Some(Edit {
        file,
        within: None,
        path,
        value,
    })
}

/// Reads workflow `name` (its text `yaml`) as one run building commit `sha`. Errors say
/// which command this reading cannot follow.
pub fn read_workflow(name: &str, yaml: &str, sha: &str) -> Result<Run, String> {
    let doc: Value = serde_yaml_ng::from_str(yaml).map_err(|e| format!("{name}: {e}"))?;
    let workflow_env = with_env(&Env::new(), at(&doc, &["env"]), sha);
    let mut run = Run {
        sha: sha.to_string(),
        pushed: BTreeSet::new(),
        edits: Vec::new(),
    };
    for (job_name, job) in at(&doc, &["jobs"]).as_mapping().into_iter().flatten() {
        let job_env = with_env(&workflow_env, at(job, &["env"]), sha);
        for step in items(job, &["steps"]) {
            let env = with_env(&job_env, at(step, &["env"]), sha);
            if text(step, &["uses"]).starts_with("docker/build-push-action")
                && matches!(scalar(at(step, &["with", "push"])).as_str(), "true")
            {
                let tags = expand(&scalar(at(step, &["with", "tags"])), &env, sha);
                run.pushed.extend(
                    tags.split([',', '\n'])
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(String::from),
                );
            }
            for line in text(step, &["run"]).lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                if words.first() != Some(&"yq")
                    || !words.iter().any(|w| *w == "--inplace" || *w == "-i")
                {
                    continue;
                }
                let edit = line
                    .split_once('\'')
                    .and_then(|(_, rest)| rest.split_once('\''))
                    .and_then(|(expression, rest)| {
                        let file = shell_word(rest.split_whitespace().next()?, &env);
                        yq_edit(expression, file, &env)
                    })
                    .ok_or_else(|| {
                        format!(
                            "{name} job {}: cannot read the edit `{}`",
                            scalar(job_name),
                            line.trim()
                        )
                    })?;
                run.edits.push(edit);
            }
        }
    }
    Ok(run)
}

fn set(value: &mut Value, path: &[String], to: &str) {
    let mut here = value;
    for key in path {
        if !here.is_mapping() {
            *here = Value::Mapping(serde_yaml_ng::Mapping::new());
        }
        let map = here.as_mapping_mut().expect("a mapping");
        here = map.entry(Value::from(key.as_str())).or_insert(Value::Null);
    }
    *here = Value::from(to);
}

/// Makes `edit` in `tree`, as yq would; what yq would fail on is an error.
pub fn apply(tree: &Path, edit: &Edit) -> Result<(), String> {
    let path = tree.join(&edit.file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("edits {}, which cannot be read: {e}", edit.file))?;
    let mut doc: Value =
        serde_yaml_ng::from_str(&text).map_err(|e| format!("edits {}: {e}", edit.file))?;
    match &edit.within {
        None => set(&mut doc, &edit.path, &edit.value),
        Some((list, key, equals)) => {
            let mut hits = 0;
            let mut here = &mut doc;
            for k in list {
                here = here.get_mut(k.as_str()).ok_or_else(|| {
                    format!("edits .{} of {}, which has none", list.join("."), edit.file)
                })?;
            }
            for item in here.as_sequence_mut().into_iter().flatten() {
                if scalar(at(item, &[key.as_str()])) == *equals {
                    set(item, &edit.path, &edit.value);
                    hits += 1;
                }
            }
            if hits == 0 {
                return Err(format!(
                    "edits the .{} entry with {key} {equals:?} of {}, which has none (the step fails)",
                    list.join("."),
                    edit.file
                ));
            }
        }
    }
    let text = serde_yaml_ng::to_string(&doc).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| e.to_string())
}

/// Every workflow of `tree` run once, its edits made: the runs, and what failed.
pub fn run_workflows(tree: &Path) -> (Vec<Run>, Vec<String>) {
    let mut runs = Vec::new();
    let mut problems = Vec::new();
    let dir = tree.join(".github/workflows");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        problems.push(format!("ci-image: no workflow in {}", dir.display()));
    }
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let yaml = std::fs::read_to_string(&file).unwrap_or_default();
        let sha = format!(
            "commit-of-{}",
            name.trim_end_matches(".yaml").trim_end_matches(".yml")
        );
        match read_workflow(&name, &yaml, &sha) {
            Ok(run) => {
                for edit in &run.edits {
                    if let Err(e) = apply(tree, edit) {
                        problems.push(format!("ci-image: workflow {name} {e}"));
                    }
                }
                runs.push(run);
            }
            Err(e) => problems.push(format!("ci-image: workflow {e}")),
        }
    }
    (runs, problems)
}

/// `registry/name` of an image reference (no tag, no digest).
fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => image,
    }
}

/// After the runs: every container image of a workload that is ours (in `registry`, or a
/// repository some workflow pushes to) is a reference some workflow pushed.
pub fn images_ci_does_not_set(objects: &[Object], runs: &[Run], registry: &str) -> Vec<String> {
    let pushed: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.pushed.iter().map(String::as_str))
        .collect();
    let repositories: BTreeSet<&str> = pushed.iter().map(|p| repository(p)).collect();
    let mut out = Vec::new();
    for w in objects.iter().filter(|o| o.is_workload()) {
        for c in w.containers() {
            let image = text(c, &["image"]);
            let repo = repository(image);
            let ours = repositories.contains(repo) || repo.starts_with(&format!("{registry}/"));
            if ours && !pushed.contains(image) {
                let built: Vec<&str> = pushed
                    .iter()
                    .copied()
                    .filter(|p| repository(p) == repo)
                    .collect();
                out.push(format!(
                    "ci-image: {} container {:?} runs {image}, a tag no workflow sets (after one run the workflows push {})",
                    w.describe(),
                    text(c, &["name"]),
                    if built.is_empty() {
                        format!("nothing to {repo}")
                    } else {
                        built.join(", ")
                    }
                ));
            }
        }
    }
    out
}

/// After the runs: every `images:` entry of the Kustomization an Application builds has a
/// tag some workflow set (an entry nothing updates pins an image CI never builds).
/// `kustomizations` are (Application, the Kustomization it builds).
pub fn image_entries_ci_does_not_set(
    kustomizations: &[(String, Value)],
    runs: &[Run],
) -> Vec<String> {
    let tags: BTreeSet<&str> = runs.iter().map(|r| r.sha.as_str()).collect();
    let mut out = Vec::new();
    for (app, k) in kustomizations {
        for entry in items(k, &["images"]) {
            let tag = scalar(at(entry, &["newTag"]));
            if !tag.is_empty() && !tags.contains(tag.as_str()) {
                out.push(format!(
                    "ci-image: the images entry {:?} of what Application {app} builds keeps tag {tag:?}: no workflow sets it",
                    text(entry, &["name"])
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::parse;

    const WORKFLOW: &str = r#"
env:
  IMAGE: ghcr.io/acme/api
jobs:
  push:
    steps:
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ${{ env.IMAGE }}:${{ github.sha }}
  deploy:
    env:
      FILE: deploy/overlays/dev/api/kustomization.yaml
      TAG: ${{ github.sha }}
    steps:
      - run: |
          yq --exit-status '.images[] | select(.name == strenv(IMAGE))' "$FILE" > /dev/null
          yq --inplace 'with(.images[] | select(.name == strenv(IMAGE)); .newTag = strenv(TAG) | .newTag style="double")' "$FILE"
"#;

    #[test]
    fn a_workflow_is_read_as_the_image_it_pushes_and_the_tag_it_sets() {
        let run = read_workflow("api.yaml", WORKFLOW, "abc").unwrap();
        assert_eq!(
            run.pushed,
            BTreeSet::from(["ghcr.io/acme/api:abc".to_string()])
        );
        assert_eq!(
            run.edits,
            vec![Edit {
                file: "deploy/overlays/dev/api/kustomization.yaml".into(),
                within: Some((
                    vec!["images".into()],
                    "name".into(),
                    "ghcr.io/acme/api".into()
                )),
                path: vec!["newTag".into()],
                value: "abc".into(),
            }]
        );
        let helm = WORKFLOW.replace(
            "'with(.images[] | select(.name == strenv(IMAGE)); .newTag = strenv(TAG) | .newTag style=\"double\")'",
            "'.image.tag = strenv(TAG) | .image.tag style=\"double\"'",
        );
        let run = read_workflow("api.yaml", &helm, "abc").unwrap();
        assert_eq!(run.edits[0].path, vec!["image", "tag"]);
        assert_eq!(run.edits[0].within, None);
        // An edit this reading cannot follow fails the check instead of passing it.
        let odd = WORKFLOW.replace("with(.images[]", "with(.images[0]");
        let e = read_workflow("api.yaml", &odd, "abc").unwrap_err();
        assert!(e.contains("cannot read the edit"), "{e}");
    }

    #[test]
    fn a_run_edits_the_entry_it_names_and_fails_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = "k/kustomization.yaml";
        std::fs::create_dir(dir.path().join("k")).unwrap();
        std::fs::write(
            dir.path().join(file),
            "images:\n  - name: ghcr.io/acme/api\n    newTag: \"0.1.0\"\n  - name: api-canary\n    newTag: \"0.1.0\"\n",
        )
        .unwrap();
        let run = read_workflow(
            "api.yaml",
            &WORKFLOW.replace("deploy/overlays/dev/api/kustomization.yaml", file),
            "abc",
        )
        .unwrap();
        apply(dir.path(), &run.edits[0]).unwrap();
        let k: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(dir.path().join(file)).unwrap())
                .unwrap();
        assert_eq!(scalar(&items(&k, &["images"])[0]["newTag"]), "abc");
        assert_eq!(scalar(&items(&k, &["images"])[1]["newTag"]), "0.1.0");

        // The stale entry is the finding.
        let found = image_entries_ci_does_not_set(&[("api-dev".into(), k)], &[run]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].contains("\"api-canary\"") && found[0].contains("api-dev"),
            "{found:#?}"
        );

        let bad = Edit {
            file: file.into(),
            within: Some((
                vec!["images".into()],
                "name".into(),
                "ghcr.io/acme/web".into(),
            )),
            path: vec!["newTag".into()],
            value: "abc".into(),
        };
        let e = apply(dir.path(), &bad).unwrap_err();
        assert!(e.contains("which has none"), "{e}");
    }

    #[test]
    fn an_image_no_workflow_pushed_is_a_finding() {
        let objects = parse(
            "api-dev",
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: demo-dev}
spec:
  template:
    spec:
      containers:
        - {name: api, image: "ghcr.io/acme/api:abc"}
        - {name: db, image: "postgres:16"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api-canary, namespace: demo-dev}
spec:
  template:
    spec:
      containers:
        - {name: api, image: "ghcr.io/acme/api:0.1.0"}
"#,
        );
        let run = read_workflow("api.yaml", WORKFLOW, "abc").unwrap();
        let found = images_ci_does_not_set(&objects, &[run], "ghcr.io/acme");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].contains("Deployment demo-dev/api-canary")
                && found[0].contains("ghcr.io/acme/api:0.1.0")
                && found[0].contains("push ghcr.io/acme/api:abc"),
            "{found:#?}"
        );
    }
}
