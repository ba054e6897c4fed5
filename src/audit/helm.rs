//! What the Helm chart deploys, as Argo CD renders it: `helm template` run on the chart and
//! values files on disk (user edits included) for each release, its output split into
//! documents by template. bulkhead never renders the chart itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;

/// The environment variable naming the helm binary when `--helm` is not given.
pub const HELM_ENV: &str = "BULKHEAD_HELM";

/// The helm binary the audit runs.
#[derive(Debug, Clone)]
pub struct Helm {
    binary: PathBuf,
}

/// Where `name` is on `PATH`, if it is.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

impl Helm {
    /// `flag` (`--helm PATH`), else `$BULKHEAD_HELM`, else `helm` on `PATH`. Fails, saying
    /// what is needed, when none is there: the audit never passes what it could not render.
    pub fn locate(flag: Option<&Path>) -> Result<Self, Error> {
        let given = flag.map(|p| (p.to_path_buf(), "--helm")).or_else(|| {
            std::env::var_os(HELM_ENV)
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), HELM_ENV))
        });
        if let Some((binary, from)) = given {
            if binary.is_file() {
                return Ok(Self { binary });
            }
            return Err(Error::Message(format!(
                "{from} names {}, which is not a file: the audit of a Helm platform \
                 (deploy = \"helm\") runs `helm template` on helm/chart",
                binary.display()
            )));
        }
        on_path("helm")
            .map(|binary| Self { binary })
            .ok_or_else(|| {
                Error::Message(format!(
                    "deploy = \"helm\": the audit reads what Argo CD deploys, the chart helm/chart \
                 rendered by `helm template` for every service and environment, and no helm \
                 was found on PATH: install Helm (https://helm.sh/docs/intro/install/), or \
                 point --helm PATH or {HELM_ENV} at a helm binary"
                ))
            })
    }

    /// `helm template <release> <chart> --namespace <ns> -f <values>…`: the rendered
    /// manifests, or why helm failed.
    pub fn template(
        &self,
        release: &str,
        chart: &Path,
        namespace: &str,
        values: &[PathBuf],
    ) -> Result<String, String> {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("template")
            .arg(release)
            .arg(chart)
            .arg("--namespace")
            .arg(namespace);
        for file in values {
            cmd.arg("-f").arg(file);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        if out.status.success() {
            String::from_utf8(out.stdout)
                .map_err(|_| format!("{} printed text that is not UTF-8", self.binary.display()))
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let why = stderr.trim();
            Err(format!(
                "`helm template` failed ({}){}{why}",
                out.status,
                if why.is_empty() { "" } else { ": " }
            ))
        }
    }
}

/// `helm template` output as `(template path inside the chart, document text)` pieces, in
/// order. Each document follows `---`; Helm names its template in a `# Source:` comment
/// (`<chart name>/templates/x.yaml`), without the chart's name here.
pub fn split_manifests(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut source = String::new();
    let mut current = String::new();
    let flush = |source: &str, current: &mut String, out: &mut Vec<(String, String)>| {
        if !current.trim().is_empty() {
            out.push((source.to_string(), std::mem::take(current)));
        }
        current.clear();
    };
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            flush(&source, &mut current, &mut out);
            continue;
        }
        if let Some(path) = line.strip_prefix("# Source: ") {
            let path = path.trim();
            source = path
                .split_once('/')
                .map_or(path, |(_, rest)| rest)
                .to_string();
        }
        current.push_str(line);
        current.push('\n');
    }
    flush(&source, &mut current, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::split_manifests;

    #[test]
    fn splits_by_document_and_names_templates() {
        let text = "---\n# Source: shop-service/templates/service.yaml\napiVersion: v1\nkind: Service\n---\n# Source: shop-service/templates/deployment.yaml\nkind: Deployment\n---\nkind: Second\n";
        let docs = split_manifests(text);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].0, "templates/service.yaml");
        assert!(docs[0].1.contains("kind: Service"));
        assert_eq!(docs[1].0, "templates/deployment.yaml");
        // A template that renders two documents: both are its.
        assert_eq!(docs[2].0, "templates/deployment.yaml");
        assert!(split_manifests("\n---\n").is_empty());
    }
}
