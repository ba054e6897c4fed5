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
            run.pushed
                .extend(pushes(step, &env, sha).into_iter().map(|(_, to)| to));
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

/// Where an image is while a job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    /// In the runner's Docker engine, under this reference (`load: true`, `docker build -t`).
    Engine(String),
    /// On disk at this path: an OCI layout or an image archive (`outputs: type=oci,dest=…`).
    File(String),
    /// Pushed by the very step that builds it: no step could scan it before.
    Unscanned,
}

/// The image references of a `tags` input.
fn tag_list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// What a step pushes: (where the pushed image comes from, the reference pushed to). The
/// forms followed: build-push-action with `push: true`, `docker push REF`, `skopeo copy
/// SRC docker://REF` and `crane push PATH REF`.
fn pushes(step: &Value, env: &Env, sha: &str) -> Vec<(Image, String)> {
    let mut out = Vec::new();
    if text(step, &["uses"]).starts_with("docker/build-push-action")
        && scalar(at(step, &["with", "push"])) == "true"
    {
        let tags = expand(&scalar(at(step, &["with", "tags"])), env, sha);
        out.extend(tag_list(&tags).into_iter().map(|t| (Image::Unscanned, t)));
    }
    for line in text(step, &["run"]).lines() {
        let words: Vec<String> = line
            .split_whitespace()
            .map(|w| expand_shell(w, env))
            .collect();
        let plain: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .filter(|w| !w.starts_with('-'))
            .collect();
        match plain.as_slice() {
            ["docker", "push", to, ..] | ["docker", "image", "push", to, ..] => {
                out.push((Image::Engine((*to).to_string()), (*to).to_string()));
            }
            ["skopeo", "copy", from, to, ..] => {
                let Some(to) = to.strip_prefix("docker://") else {
                    continue;
                };
                let source = match from.split_once(':') {
                    Some(("docker-daemon", r)) => Image::Engine(r.to_string()),
                    Some(("oci" | "oci-archive" | "docker-archive" | "dir", path)) => {
                        Image::File(path.split(':').next().unwrap_or(path).to_string())
                    }
                    _ => Image::Unscanned,
                };
                out.push((source, to.to_string()));
            }
            ["crane", "push", path, to, ..] => {
                out.push((Image::File((*path).to_string()), (*to).to_string()));
            }
            _ => {}
        }
    }
    out
}

/// A shell word with `$VAR`, `${VAR}` and quotes resolved (`"$IMAGE:$TAG"`, `"oci:$LAYOUT"`).
fn expand_shell(word: &str, env: &Env) -> String {
    let word = word.trim_matches(|c| c == '"' || c == '\'');
    let mut out = String::new();
    let mut rest = word;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').unwrap_or(braced.len());
            (&braced[..end], braced.get(end + 1..).unwrap_or(""))
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push_str(env.get(name).map_or("", String::as_str));
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The steps that build an image, as (job, step index, the image they leave, its tags).
fn builds(doc: &Value, env: &Env, sha: &str) -> Vec<(String, usize, Image, Vec<String>)> {
    let mut out = Vec::new();
    for (job_name, job) in at(doc, &["jobs"]).as_mapping().into_iter().flatten() {
        let job_env = with_env(env, at(job, &["env"]), sha);
        for (i, step) in items(job, &["steps"]).iter().enumerate() {
            let env = with_env(&job_env, at(step, &["env"]), sha);
            if text(step, &["uses"]).starts_with("docker/build-push-action") {
                let tags = tag_list(&expand(&scalar(at(step, &["with", "tags"])), &env, sha));
                let outputs = expand(&scalar(at(step, &["with", "outputs"])), &env, sha);
                let dest = outputs
                    .split(',')
                    .find_map(|kv| kv.trim().strip_prefix("dest="))
                    .map(String::from);
                let image = if scalar(at(step, &["with", "push"])) == "true" {
                    Image::Unscanned
                } else if let Some(dest) = dest {
                    Image::File(dest)
                } else {
                    Image::Engine(tags.first().cloned().unwrap_or_default())
                };
                out.push((scalar(job_name), i, image, tags));
            }
            for line in text(step, &["run"]).lines() {
                let words: Vec<String> = line
                    .split_whitespace()
                    .map(|w| expand_shell(w, &env))
                    .collect();
                let build = matches!(
                    words
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .as_slice(),
                    ["docker", "build", ..]
                        | ["docker", "buildx", "build", ..]
                        | ["docker", "image", "build", ..]
                );
                if build {
                    let tag = words
                        .windows(2)
                        .find(|w| w[0] == "-t" || w[0] == "--tag")
                        .map(|w| w[1].clone())
                        .unwrap_or_default();
                    out.push((scalar(job_name), i, Image::Engine(tag.clone()), vec![tag]));
                }
            }
        }
    }
    out
}

/// The jobs `job` waits for, directly or through others.
fn needs_all(doc: &Value, job: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![job.to_string()];
    while let Some(j) = todo.pop() {
        let needs = at(doc, &["jobs", j.as_str(), "needs"]);
        let list: Vec<String> = match needs {
            Value::Sequence(v) => v.iter().map(scalar).collect(),
            other => vec![scalar(other)]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect(),
        };
        for n in list {
            if out.insert(n.clone()) {
                todo.push(n);
            }
        }
    }
    out
}

/// Whether a step may run after an earlier step failed (`always()`, `failure()`, …) or
/// lets the job go on when it fails itself.
fn runs_after_failure(step: &Value) -> bool {
    let condition = text(step, &["if"]);
    ["always()", "failure()", "cancelled()"]
        .iter()
        .any(|c| condition.contains(c))
        || scalar(at(step, &["continue-on-error"])) == "true"
}

/// Reads workflow `name` as GitHub would run it and says where the image it pushes could
/// differ from the image it scanned: one step builds the image; a Trivy step scans exactly
/// that image (its engine reference or its file) and fails the job on findings; every push
/// publishes that image under the tag it was built with, after the scan passed: later in
/// the same job, or in a job that needs the build's and takes the file through an artifact
/// the build's job uploaded after the scan. A workflow that neither builds nor pushes an
/// image has nothing to say.
pub fn pushed_image_not_scanned(name: &str, yaml: &str) -> Vec<String> {
    let sha = "commit";
    let Ok(doc) = serde_yaml_ng::from_str::<Value>(yaml) else {
        return vec![format!("{name}: not YAML")];
    };
    let env = with_env(&Env::new(), at(&doc, &["env"]), sha);
    let built = builds(&doc, &env, sha);
    let mut out = Vec::new();
    let mut pushed = Vec::new();
    for (job_name, job) in at(&doc, &["jobs"]).as_mapping().into_iter().flatten() {
        let job_env = with_env(&env, at(job, &["env"]), sha);
        for (i, step) in items(job, &["steps"]).iter().enumerate() {
            let env = with_env(&job_env, at(step, &["env"]), sha);
            for (from, to) in pushes(step, &env, sha) {
                pushed.push((scalar(job_name), i, from, to));
            }
        }
    }
    if built.is_empty() && pushed.is_empty() {
        return out;
    }
    let [(build_job, build_at, image, tags)] = built.as_slice() else {
        out.push(format!(
            "{name}: {} steps build the image ({}): what is pushed is not what was scanned",
            built.len(),
            built
                .iter()
                .map(|(j, i, ..)| format!("job {j} step {}", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return out;
    };
    let steps = items(at(&doc, &["jobs"]), &[build_job.as_str(), "steps"]);
    // The scan: a later step of the build's job reading the built image.
    let scan = steps.iter().enumerate().skip(build_at + 1).find(|(_, s)| {
        text(s, &["uses"]).starts_with("aquasecurity/trivy-action")
            && match image {
                Image::Engine(r) => expand(text(s, &["with", "image-ref"]), &env, sha) == *r,
                Image::File(f) => text(s, &["with", "input"]) == f,
                Image::Unscanned => false,
            }
    });
    let Some((scan_at, scan)) = scan else {
        out.push(format!(
            "{name}: job {build_job} builds {image:?} and no later step scans that image"
        ));
        return out;
    };
    if scalar(at(scan, &["with", "exit-code"])) != "1" || runs_after_failure(scan) {
        out.push(format!(
            "{name}: the scan in job {build_job} does not fail the job on findings (exit-code \"1\", no continue-on-error)"
        ));
    }
    for (push_job, push_at, from, to) in &pushed {
        let place = format!("job {push_job} step {}", push_at + 1);
        if !tags.contains(to) {
            out.push(format!(
                "{name}: {place} pushes {to}, not the built image's tag ({})",
                tags.join(", ")
            ));
        }
        let same_job = push_job == build_job;
        let ok = match from {
            Image::Unscanned => false,
            _ if same_job => *from == *image && *push_at > scan_at,
            Image::Engine(_) => false,
            Image::File(path) => {
                // Handed over as an artifact: downloaded in the push's job to that path,
                // uploaded from the built file by the build's job after the scan.
                let Image::File(built_file) = image else {
                    out.push(format!("{name}: {place} pushes a file no build wrote"));
                    continue;
                };
                let push_steps = items(at(&doc, &["jobs"]), &[push_job.as_str(), "steps"]);
                let artifact = push_steps.iter().take(*push_at).find_map(|s| {
                    let download = text(s, &["uses"]).starts_with("actions/download-artifact");
                    (download && text(s, &["with", "path"]) == path)
                        .then(|| text(s, &["with", "name"]).to_string())
                });
                let uploaded = artifact.as_ref().is_some_and(|n| {
                    steps.iter().enumerate().skip(scan_at + 1).any(|(_, s)| {
                        text(s, &["uses"]).starts_with("actions/upload-artifact")
                            && text(s, &["with", "name"]) == n
                            && text(s, &["with", "path"]) == built_file
                            && !runs_after_failure(s)
                    })
                });
                uploaded && needs_all(&doc, push_job).contains(build_job)
            }
        };
        if !ok {
            out.push(format!(
                "{name}: {place} pushes {to} from {from:?}, which is not the image job {build_job} built and scanned (step {}) or comes before the scan passed",
                scan_at + 1
            ));
        }
    }
    out
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
        problems.extend(
            pushed_image_not_scanned(&name, &yaml)
                .into_iter()
                .map(|p| format!("ci-image: workflow {p}")),
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

    /// The image path of a service workflow: build once into an OCI layout, scan it, hand
    /// it to the push job through an artifact, push it with skopeo.
    const SCANNED_THEN_PUSHED: &str = r#"
env:
  IMAGE: ghcr.io/acme/api
jobs:
  build:
    steps:
      - uses: docker/build-push-action@v7
        with:
          push: false
          outputs: type=oci,dest=oci-image,tar=false
          tags: ${{ env.IMAGE }}:${{ github.sha }}
      - uses: aquasecurity/trivy-action@0.35.0
        with:
          input: oci-image
          exit-code: "1"
      - uses: actions/upload-artifact@v7
        if: github.ref == 'refs/heads/main'
        with:
          name: image
          path: oci-image
  push:
    needs: [test, build]
    env:
      TAG: ${{ github.sha }}
    steps:
      - uses: actions/download-artifact@v8
        with:
          name: image
          path: oci-image
      - env:
          LAYOUT: oci-image
        run: |
          skopeo copy --preserve-digests "oci:$LAYOUT" "docker://$IMAGE:$TAG"
"#;

    #[test]
    fn the_pushed_image_is_the_scanned_one() {
        let clean = pushed_image_not_scanned("api.yaml", SCANNED_THEN_PUSHED);
        assert!(clean.is_empty(), "{clean:#?}");
        let run = read_workflow("api.yaml", SCANNED_THEN_PUSHED, "abc").unwrap();
        assert_eq!(
            run.pushed,
            BTreeSet::from(["ghcr.io/acme/api:abc".to_string()])
        );

        let finds = |yaml: &str, what: &str| {
            let found = pushed_image_not_scanned("api.yaml", yaml);
            assert!(
                found.len() == 1 && found[0].contains(what),
                "{what}: {found:#?}"
            );
        };
        // The artifact taken before the scan ran (or whatever the scan said).
        let early = SCANNED_THEN_PUSHED.replace(
            "      - uses: actions/upload-artifact@v7\n        if: github.ref == 'refs/heads/main'",
            "      - uses: actions/upload-artifact@v7\n        if: always()",
        );
        finds(&early, "not the image job build built and scanned");
        // The push job does not wait for the build's job.
        finds(
            &SCANNED_THEN_PUSHED.replace("needs: [test, build]", "needs: [test]"),
            "not the image job build built and scanned",
        );
        // A scan that cannot fail the job.
        finds(
            &SCANNED_THEN_PUSHED.replace("exit-code: \"1\"", "exit-code: \"0\""),
            "does not fail the job",
        );
        // A scan of something else.
        finds(
            &SCANNED_THEN_PUSHED.replace("input: oci-image", "input: other"),
            "no later step scans that image",
        );
        // Pushed under another name.
        finds(
            &SCANNED_THEN_PUSHED.replace("docker://$IMAGE:$TAG", "docker://$IMAGE:latest"),
            "not the built image's tag",
        );
        // The push job builds again: two builds, the second one pushed unscanned.
        let rebuilt = SCANNED_THEN_PUSHED.replace(
            "      - uses: actions/download-artifact@v8",
            "      - uses: docker/build-push-action@v7\n        with:\n          push: true\n          tags: ${{ env.IMAGE }}:${{ github.sha }}\n      - uses: actions/download-artifact@v8",
        );
        finds(&rebuilt, "2 steps build the image");

        // In one job: `docker push` of the loaded tag after the scan, not before.
        let one_job = r#"
env:
  IMAGE: ghcr.io/acme/api
jobs:
  image:
    steps:
      - uses: docker/build-push-action@v7
        with:
          load: true
          tags: ${{ env.IMAGE }}:${{ github.sha }}
      - uses: aquasecurity/trivy-action@0.35.0
        with:
          image-ref: ${{ env.IMAGE }}:${{ github.sha }}
          exit-code: "1"
      - env:
          TAG: ${{ github.sha }}
        run: docker push "$IMAGE:$TAG"
"#;
        let clean = pushed_image_not_scanned("api.yaml", one_job);
        assert!(clean.is_empty(), "{clean:#?}");
        let [build, scan, push] = [
            "      - uses: docker/build-push-action",
            "      - uses: aquasecurity",
            "      - env:",
        ]
        .map(|m| one_job.find(m).unwrap());
        let swapped = format!(
            "{}{}{}",
            &one_job[..scan],
            &one_job[push..],
            &one_job[scan..push]
        );
        assert!(build < scan);
        finds(&swapped, "not the image job image built and scanned");
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
