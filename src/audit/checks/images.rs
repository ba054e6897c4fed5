//! Images and containers: `no_latest_tag` (6), `multi_stage_build` (7),
//! `no_secrets_in_images` (8, images and files), `non_root` (9), `small_runtime_image` (10).

use serde_yaml_ng::Value;

use super::{
    Finding, all_containers, container_name, path_pattern, plural, pod_spec, removes, secret_name,
    secret_value, services, verdict, workloads,
};
use crate::audit::Context;
use crate::audit::dockerfile::{Dockerfile, ImageRef, Stage};
use crate::audit::tree::{Doc, ServiceFiles};
use crate::audit::yaml::{self, bool_at, get, i64_at, seq_at, str_at, string_map, text};
use crate::spec::Ci;

/// `a.b[0].c` from a walk path.
fn dotted(path: &[String]) -> String {
    path.join(".").replace(".[", "[")
}

/// The generated Dockerfiles that are on disk, and a failure for each one that is gone.
fn dockerfiles<'a>(
    cx: &'a Context,
    fails: &mut Vec<Finding>,
) -> Vec<(&'a ServiceFiles, &'a Dockerfile)> {
    for f in cx.tree.dockerfiles.values() {
        if f.dockerfile.is_none() {
            fails.push(Finding::fail(
                f.dockerfile_path(),
                format!("missing: {} has no Dockerfile", f.service),
            ));
        }
    }
    cx.tree
        .dockerfiles
        .values()
        .filter_map(|f| f.dockerfile.as_ref().map(|d| (f, d)))
        .collect()
}

/// Why an item about Dockerfiles does not apply: the blueprints build no images here.
fn no_dockerfiles(cx: &Context) -> Finding {
    Finding::na(
        cx.spec,
        "the blueprints generate no Dockerfiles: the images are built elsewhere",
    )
}

/// Where the Dockerfiles are, for a pass: `services/*/Dockerfile`.
fn dockerfile_place(cx: &Context) -> String {
    let place = path_pattern(
        cx.tree
            .dockerfiles
            .values()
            .map(|f| (f.path.as_str(), f.service.as_str())),
    );
    if place.is_empty() {
        "Dockerfiles".to_string()
    } else {
        place
    }
}

fn at_line(f: &ServiceFiles, line: usize) -> String {
    format!("{}:{line}", f.dockerfile_path())
}

/// Item 6: every image pinned: manifests (resources and patches), overlay `images:` tags,
/// Dockerfile `FROM` lines, Helm values, and the tags CI pushes.
pub fn no_latest_tag(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut count = 0;
    for d in &cx.tree.docs {
        yaml::walk(&d.value, &mut |path, v| {
            if path.last().map(String::as_str) != Some("image") {
                return;
            }
            let Some(image) = v.as_str() else { return };
            count += 1;
            if let Some(why) = ImageRef::parse(image).unpinned() {
                fails.push(Finding::fail(
                    d.place(),
                    format!(
                        "{} is {image}: {why}, not an immutable version",
                        dotted(path)
                    ),
                ));
            }
        });
    }
    for k in &cx.tree.kustomizations {
        for img in seq_at(&k.value, &["images"]) {
            count += 1;
            let name = str_at(img, &["name"]).unwrap_or("?");
            if let Some(tag) = get(img, &["newTag"]).and_then(text) {
                if tag.is_empty() || tag.eq_ignore_ascii_case("latest") {
                    fails.push(Finding::fail(
                        k.file.clone(),
                        format!("images: {name} gets newTag `{tag}`: set an immutable version (the commit SHA)"),
                    ));
                }
            }
        }
    }
    for (f, d) in dockerfiles(cx, &mut Vec::new()) {
        for (i, stage) in d.stages.iter().enumerate() {
            if d.is_stage(&stage.image, i) || stage.image.eq_ignore_ascii_case("scratch") {
                continue;
            }
            count += 1;
            if stage.image.contains('$') {
                fails.push(Finding::fail(
                    at_line(f, stage.line),
                    format!(
                        "FROM {}: a build argument without a default, not a pinned image",
                        stage.image
                    ),
                ));
            } else if let Some(why) = ImageRef::parse(&stage.image).unpinned() {
                fails.push(Finding::fail(
                    at_line(f, stage.line),
                    format!("FROM {}: {why}; pin a version tag", stage.image),
                ));
            }
        }
    }
    for (file, docs) in &cx.tree.helm_values {
        for doc in docs {
            yaml::walk(doc, &mut |path, v| {
                let key = path.last().map(String::as_str);
                // `image.tag`, `release.canary.tag`, `imageTag`: every tag the chart uses.
                let tag_key = key.is_some_and(|k| k == "tag" || k.ends_with("Tag"));
                match (key, v.as_str()) {
                    (Some("image"), Some(image)) => {
                        count += 1;
                        if let Some(why) = ImageRef::parse(image).unpinned() {
                            fails.push(Finding::fail(
                                file.clone(),
                                format!("{} is {image}: {why}", dotted(path)),
                            ));
                        }
                    }
                    (_, Some(tag)) if tag_key => {
                        count += 1;
                        if tag.eq_ignore_ascii_case("latest") {
                            fails.push(Finding::fail(
                                file.clone(),
                                format!("{} is `latest`: set an immutable version", dotted(path)),
                            ));
                        }
                    }
                    _ => {}
                }
            });
        }
    }
    for (file, wf) in &cx.tree.workflows {
        yaml::walk(wf, &mut |path, v| {
            if path.last().map(String::as_str) != Some("tags") {
                return;
            }
            let Some(tags) = v.as_str() else { return };
            if tags
                .split([',', '\n'])
                .any(|t| t.trim().to_ascii_lowercase().ends_with(":latest"))
            {
                fails.push(Finding::fail(
                    file.clone(),
                    format!(
                        "{} pushes a `latest` tag: push only immutable tags",
                        dotted(path)
                    ),
                ));
            }
        });
    }
    verdict(
        fails,
        Finding::pass(
            format!("{}, {}", cx.tree.manifests, dockerfile_place(cx)),
            format!(
                "{} pinned to a version, none `latest`",
                plural(count, "image reference")
            ),
        ),
    )
}

/// Whether the stage copies from an earlier stage (`COPY --from=<stage>`).
fn copies_from_stage(d: &Dockerfile, stage_index: usize, stage: &Stage) -> bool {
    stage.all("COPY").any(|ins| {
        ins.args
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("--from="))
            .any(|from| d.is_stage(from, stage_index))
    })
}

/// Item 7: every Dockerfile multi-stage, its final stage taking the artifact from a build stage.
pub fn multi_stage_build(cx: &Context) -> Vec<Finding> {
    if cx.tree.dockerfiles.is_empty() {
        return vec![no_dockerfiles(cx)];
    }
    let mut fails = Vec::new();
    let files = dockerfiles(cx, &mut fails);
    for (f, d) in &files {
        if d.stages.len() < 2 {
            fails.push(Finding::fail(
                f.dockerfile_path(),
                format!(
                    "{}: the toolchain ships in the image; build in one stage, run in another",
                    plural(d.stages.len(), "stage")
                ),
            ));
            continue;
        }
        let last = d.stages.len() - 1;
        if !copies_from_stage(d, last, &d.stages[last]) {
            fails.push(Finding::fail(
                at_line(f, d.stages[last].line),
                "the final stage copies nothing from a build stage (no COPY --from=<stage>)",
            ));
        }
    }
    verdict(
        fails,
        Finding::pass(
            dockerfile_place(cx),
            format!(
                "{}: a build stage, then a runtime stage with only the artifact",
                plural(files.len(), "Dockerfile")
            ),
        ),
    )
}

/// Whether a name holds a credential itself rather than naming or pointing at one.
fn secret_setting(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let reference = ["NAME", "REF", "_FILE", "_PATH", "_DIR", "_MOUNT"]
        .iter()
        .any(|s| upper.ends_with(s))
        || upper.starts_with("EXISTING");
    secret_name(name) && !reference
}

/// Docker's `.dockerignore` matching: the last matching pattern wins, `!` re-includes,
/// `**` spans folders, and a pattern matching a folder excludes what is inside.
fn dockerignored(patterns: &str, path: &str) -> bool {
    fn wildcard(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => wildcard(&p[1..], t) || (!t.is_empty() && wildcard(p, &t[1..])),
            (Some(b'?'), Some(_)) => wildcard(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => wildcard(&p[1..], &t[1..]),
            _ => false,
        }
    }
    fn segments(p: &[&str], s: &[&str]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(&"**") => (0..=s.len()).any(|i| segments(&p[1..], &s[i..])),
            Some(seg) => {
                !s.is_empty()
                    && wildcard(seg.as_bytes(), s[0].as_bytes())
                    && segments(&p[1..], &s[1..])
            }
        }
    }
    let parts: Vec<&str> = path.split('/').collect();
    let mut ignored = false;
    for line in patterns.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negate, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p.trim()),
            None => (false, line),
        };
        let pattern = pattern
            .trim_start_matches("./")
            .trim_start_matches('/')
            .trim_end_matches('/');
        let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
        if (1..=parts.len()).any(|n| segments(&pat, &parts[..n])) {
            ignored = !negate;
        }
    }
    ignored
}

/// A secret-looking setting or value in a manifest document.
fn secrets_in_doc(d: &Doc, fails: &mut Vec<Finding>) {
    let kind = d.kind();
    if kind == "Secret" {
        let data = ["data", "stringData"].iter().any(|k| {
            d.value
                .get(*k)
                .and_then(Value::as_mapping)
                .is_some_and(|m| !m.is_empty())
        });
        if data {
            fails.push(Finding::fail(
                d.place(),
                "a Secret with its values in the repository: reference Secrets created in the cluster",
            ));
        }
        return;
    }
    if kind == "ConfigMap" {
        for key in ["data", "binaryData"] {
            for (k, v) in string_map(d.value.get(key)) {
                if secret_setting(&k) && !v.is_empty() {
                    fails.push(Finding::fail(
                        d.place(),
                        format!(
                            "{key}.{k} looks like a credential in a ConfigMap: move it to `secrets`"
                        ),
                    ));
                }
            }
        }
    }
    yaml::walk(&d.value, &mut |path, v| {
        // env: [{name, value}] with a credential's name and a plain value.
        if path.len() >= 2
            && path[path.len() - 2] == "env"
            && let (Some(name), Some(value)) =
                (str_at(v, &["name"]), get(v, &["value"]).and_then(text))
            && secret_setting(name)
            && !value.is_empty()
        {
            fails.push(Finding::fail(
                d.place(),
                format!("env {name} carries a plain value: take it from a Secret (secretKeyRef)"),
            ));
        }
        if let Some(s) = v.as_str()
            && let Some(what) = secret_value(s)
        {
            fails.push(Finding::fail(
                d.place(),
                format!("{} holds what looks like {what}", dotted(path)),
            ));
        }
    });
}

/// Item 8: no credentials in the build context, the images or the files: `.dockerignore`
/// keeps `.env` out, Dockerfiles set no secret ENV/ARG and copy no key files, manifests
/// and values hold no secret values, and CI scans every image.
pub fn no_secrets_in_images(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let files = dockerfiles(cx, &mut Vec::new());
    for (f, d) in &files {
        let ignore_path = f.dockerignore_path();
        match &f.dockerignore {
            // Never generated: the platform's blueprints build elsewhere or keep the
            // context clean their own way.
            None if !f.dockerignore_generated => {}
            None => fails.push(Finding::fail(
                ignore_path,
                "missing: .env, keys and .git enter the build context",
            )),
            Some(patterns) => {
                for path in [".env", "config/.env"] {
                    if !dockerignored(patterns, path) {
                        fails.push(Finding::fail(
                            ignore_path.clone(),
                            format!("does not exclude {path}: it would enter the build context"),
                        ));
                    }
                }
            }
        }
        for stage in &d.stages {
            for ins in &stage.instructions {
                match ins.keyword.as_str() {
                    "ENV" | "ARG" => {
                        let words: Vec<&str> = ins.args.split_whitespace().collect();
                        let names: Vec<&str> = if ins.keyword == "ENV"
                            && !words.first().is_some_and(|w| w.contains('='))
                        {
                            words.first().copied().into_iter().collect()
                        } else {
                            words.iter().filter_map(|w| w.split('=').next()).collect()
                        };
                        for name in names.into_iter().filter(|n| secret_setting(n)) {
                            fails.push(Finding::fail(
                                at_line(f, ins.line),
                                format!("{} {name}: a credential stays in the image or its history; use a BuildKit secret mount", ins.keyword),
                            ));
                        }
                        if let Some(what) = secret_value(&ins.args) {
                            fails.push(Finding::fail(
                                at_line(f, ins.line),
                                format!("{} holds what looks like {what}", ins.keyword),
                            ));
                        }
                    }
                    "COPY" | "ADD" => {
                        let words: Vec<&str> = ins
                            .args
                            .split_whitespace()
                            .filter(|w| !w.starts_with("--"))
                            .collect();
                        let sources = &words[..words.len().saturating_sub(1)];
                        for src in sources {
                            let base = src
                                .trim_matches(['"', '[', ']', ','])
                                .rsplit('/')
                                .next()
                                .unwrap_or("");
                            let secret = base == ".env"
                                || base.starts_with(".env.")
                                || base.ends_with(".pem")
                                || base.ends_with(".key")
                                || base.starts_with("id_rsa")
                                || base.starts_with("id_ed25519");
                            if secret {
                                fails.push(Finding::fail(
                                    at_line(f, ins.line),
                                    format!(
                                        "{} {src}: a secret file copied into the image",
                                        ins.keyword
                                    ),
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    for d in &cx.tree.docs {
        secrets_in_doc(d, &mut fails);
    }
    for k in &cx.tree.kustomizations {
        for g in seq_at(&k.value, &["secretGenerator"]) {
            let carries = ["literals", "files", "envs"]
                .iter()
                .any(|key| !seq_at(g, &[key]).is_empty());
            if carries {
                fails.push(Finding::fail(
                    k.file.clone(),
                    format!(
                        "secretGenerator {} builds a Secret from values in the repository",
                        str_at(g, &["name"]).unwrap_or("?")
                    ),
                ));
            }
        }
        for g in seq_at(&k.value, &["configMapGenerator"]) {
            for lit in seq_at(g, &["literals"]).iter().filter_map(Value::as_str) {
                let name = lit.split('=').next().unwrap_or("");
                if secret_setting(name) {
                    fails.push(Finding::fail(
                        k.file.clone(),
                        format!("configMapGenerator literal {name} looks like a credential"),
                    ));
                }
            }
        }
    }
    for (file, docs) in &cx.tree.helm_values {
        for doc in docs {
            yaml::walk(doc, &mut |path, v| {
                let Some(s) = v.as_str() else { return };
                if let Some(what) = secret_value(s) {
                    fails.push(Finding::fail(
                        file.clone(),
                        format!("{} holds what looks like {what}", dotted(path)),
                    ));
                } else if path.last().is_some_and(|k| {
                    // `tlsSecret: x-tls`, `existingSecret: x`: names of Secrets, not values.
                    secret_setting(k) && !k.to_ascii_lowercase().ends_with("secret")
                }) && !s.is_empty()
                {
                    fails.push(Finding::fail(
                        file.clone(),
                        format!("{} looks like a credential with its value", dotted(path)),
                    ));
                }
            });
        }
    }
    let mut scanned = 0;
    if cx.model.platform.ci == Ci::GithubActions {
        for s in services(cx) {
            // The service's own workflows, where the blueprints put them; none generated
            // (the platform builds elsewhere): nothing to check here.
            let paths: Vec<&str> = cx
                .layout
                .of_service(&s.name)
                .filter(|p| p.starts_with(".github/workflows/"))
                .collect();
            let mut present = Vec::new();
            for path in &paths {
                match cx.tree.workflows.get(*path) {
                    Some(wf) => present.push((*path, wf)),
                    None => fails.push(Finding::fail(*path, "missing: nothing scans the image")),
                }
            }
            let scans = present.iter().any(|(_, wf)| {
                let mut scans = false;
                yaml::walk(wf, &mut |_, step| {
                    let trivy = str_at(step, &["uses"])
                        .is_some_and(|u| u.starts_with("aquasecurity/trivy-action"));
                    // An image from a registry or the engine (`image-ref`), or an image
                    // archive or OCI layout the job built (`input`).
                    let image = get(step, &["with", "image-ref"]).is_some()
                        || get(step, &["with", "input"]).is_some();
                    if trivy && image {
                        let scanners = str_at(step, &["with", "scanners"]);
                        scans |= scanners.is_none_or(|s| s.contains("secret"));
                    }
                });
                scans
            });
            if scans {
                scanned += 1;
            } else if let Some((path, _)) = present.first() {
                fails.push(Finding::fail(
                    *path,
                    "no Trivy image scan with its secret scanner: a secret baked into the image goes unnoticed",
                ));
            }
        }
    }
    let mut why = format!(
        "{}: .env kept out of the build context; no secret values in Dockerfiles, manifests or values",
        plural(
            files
                .iter()
                .filter(|(f, _)| f.dockerignore.is_some())
                .count(),
            ".dockerignore"
        )
    );
    if scanned > 0 {
        why.push_str(&format!(
            "; CI scans {} for secrets",
            plural(scanned, "image")
        ));
    }
    verdict(
        fails,
        Finding::pass(
            format!("{}, {}", dockerfile_place(cx), cx.tree.manifests),
            why,
        ),
    )
}

/// Item 9: non-root everywhere: a numeric non-zero USER ends every Dockerfile; every workload
/// runs with runAsNonRoot, never as uid 0, never privileged, without privilege escalation;
/// no patch undoes any of it.
pub fn non_root(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let files = dockerfiles(cx, &mut Vec::new());
    for (f, d) in &files {
        let Some(stage) = d.final_stage() else {
            fails.push(Finding::fail(
                f.dockerfile_path(),
                "no FROM: not a Dockerfile",
            ));
            continue;
        };
        match stage.all("USER").last() {
            None => fails.push(Finding::fail(
                at_line(f, stage.line),
                "the final stage sets no USER: the image runs as root",
            )),
            Some(ins) => {
                let user = ins.args.split(':').next().unwrap_or("").trim();
                match user.parse::<u32>() {
                    Ok(0) => fails.push(Finding::fail(at_line(f, ins.line), "USER 0 is root")),
                    Ok(_) => {}
                    Err(_) => fails.push(Finding::fail(
                        at_line(f, ins.line),
                        format!("USER {user} is not numeric: Kubernetes cannot verify runAsNonRoot for a name"),
                    )),
                }
            }
        }
    }
    let mut count = 0;
    for d in workloads(cx) {
        let Some(spec) = pod_spec(d) else { continue };
        count += 1;
        let pod_non_root = bool_at(spec, &["securityContext", "runAsNonRoot"]);
        if i64_at(spec, &["securityContext", "runAsUser"]) == Some(0) {
            fails.push(Finding::fail(
                d.place(),
                "the pod runs as uid 0 (runAsUser: 0)",
            ));
        }
        for c in all_containers(spec) {
            let name = container_name(c);
            let non_root = bool_at(c, &["securityContext", "runAsNonRoot"]).or(pod_non_root);
            if non_root != Some(true) {
                fails.push(Finding::fail(
                    d.place(),
                    format!("container {name}: runAsNonRoot is not true (pod or container securityContext)"),
                ));
            }
            if i64_at(c, &["securityContext", "runAsUser"]) == Some(0) {
                fails.push(Finding::fail(
                    d.place(),
                    format!("container {name} runs as uid 0"),
                ));
            }
            if bool_at(c, &["securityContext", "privileged"]) == Some(true) {
                fails.push(Finding::fail(
                    d.place(),
                    format!("container {name} is privileged"),
                ));
            }
            if bool_at(c, &["securityContext", "allowPrivilegeEscalation"]) != Some(false) {
                fails.push(Finding::fail(
                    d.place(),
                    format!("container {name}: allowPrivilegeEscalation is not false (setuid binaries could regain root)"),
                ));
            }
        }
    }
    for d in cx.tree.patches() {
        yaml::walk(&d.value, &mut |path, v| {
            let bad = match (path.last().map(String::as_str), v) {
                (Some("runAsNonRoot"), Value::Bool(false)) => Some("sets runAsNonRoot: false"),
                (Some("runAsUser"), v) if v.as_i64() == Some(0) => Some("sets runAsUser: 0"),
                (Some("privileged"), Value::Bool(true)) => Some("sets privileged: true"),
                (Some("allowPrivilegeEscalation"), Value::Bool(true)) => {
                    Some("sets allowPrivilegeEscalation: true")
                }
                _ => None,
            };
            if let Some(why) = bad {
                fails.push(Finding::fail(d.place(), why));
            }
        });
        for key in [
            "runAsNonRoot",
            "securityContext",
            "allowPrivilegeEscalation",
        ] {
            if removes(d, key) {
                fails.push(Finding::fail(d.place(), format!("removes {key}")));
            }
        }
    }
    verdict(
        fails,
        Finding::pass(
            format!("{}, {}", dockerfile_place(cx), cx.tree.manifests),
            format!(
                "{}: numeric non-root USER; {}: runAsNonRoot, no privilege escalation",
                plural(files.len(), "Dockerfile"),
                plural(count, "workload")
            ),
        ),
    )
}

/// Whether a runtime base image is minimal: distroless, Chainguard, scratch, or a slim,
/// alpine, minimal or micro variant.
fn minimal_base(image: &str) -> bool {
    let r = ImageRef::parse(image);
    let name = r.name.to_ascii_lowercase();
    let tag = r.tag.unwrap_or_default().to_ascii_lowercase();
    name == "scratch"
        || name.contains("distroless")
        || name.contains("chainguard")
        || ["slim", "alpine", "minimal", "micro"]
            .iter()
            .any(|v| tag.contains(v) || name.ends_with(&format!("-{v}")))
}

/// Item 10: the runtime stage of every Dockerfile is distroless or slim. The size itself is
/// only known once built: manual.
pub fn small_runtime_image(cx: &Context) -> Vec<Finding> {
    if cx.tree.dockerfiles.is_empty() {
        return vec![no_dockerfiles(cx)];
    }
    let mut fails = Vec::new();
    let files = dockerfiles(cx, &mut Vec::new());
    for (f, d) in &files {
        let Some(stage) = d.final_stage() else {
            continue;
        };
        let image = if d.is_stage(&stage.image, d.stages.len() - 1) {
            // `FROM build AS runtime`: the base is that stage's.
            d.stages
                .iter()
                .find(|s| s.alias.as_deref() == Some(stage.image.to_ascii_lowercase().as_str()))
                .map_or(stage.image.as_str(), |s| s.image.as_str())
        } else {
            stage.image.as_str()
        };
        if !minimal_base(image) {
            fails.push(Finding::fail(
                at_line(f, stage.line),
                format!("the runtime stage is FROM {image}: use a distroless or slim base"),
            ));
        }
    }
    let mut out = verdict(
        fails,
        Finding::pass(
            dockerfile_place(cx),
            format!(
                "{}: distroless or slim runtime stage",
                plural(files.len(), "Dockerfile")
            ),
        ),
    );
    if !files.is_empty() {
        out.push(Finding::manual(
            "built images",
            format!(
                "size is known once built: `docker image ls --filter reference='{}/*'` after a build",
                cx.model.platform.registry
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{dockerignored, minimal_base, secret_setting};

    #[test]
    fn dockerignore_patterns() {
        assert!(dockerignored("**/.env\n", ".env"));
        assert!(dockerignored("**/.env\n", "config/.env"));
        assert!(dockerignored(".env\n", ".env"));
        assert!(!dockerignored(".env\n", "config/.env"));
        assert!(!dockerignored("**/.env\n!.env\n", ".env"));
        assert!(dockerignored("*\n", ".env"));
        assert!(dockerignored(".env*\n", ".env"));
        assert!(!dockerignored("# .env\n", ".env"));
    }

    #[test]
    fn minimal_bases_and_settings() {
        assert!(minimal_base("gcr.io/distroless/static-debian12:nonroot"));
        assert!(minimal_base("node:22.14-bookworm-slim"));
        assert!(!minimal_base("golang:1.24-bookworm"));
        assert!(secret_setting("JWT_SIGNING_KEY"));
        assert!(secret_setting("API_KEY"));
        assert!(!secret_setting("TLS_SECRET_NAME"));
    }
}
