//! `bulkhead restore PATH…`: bulkhead's version of chosen generated files, written over the
//! user's edits after the diff and a confirmation. It is a plan narrowed to those files in
//! which every edit is discarded, so apply's safety (atomic writes, the journal) holds.

use std::collections::BTreeSet;
use std::path::Path;

use super::plural;
use crate::cli::{Options, RestoreArgs};
use crate::error::{Error, ExitStatus};
use crate::plan::Scope;
use crate::plan::references::normalize;
use crate::render::Files;

pub fn run(global: &Options, args: &RestoreArgs) -> Result<ExitStatus, Error> {
    let loaded = super::load(global)?;
    loaded.print_warnings();
    let out_dir = loaded.out_dir();
    let plan = loaded.plan(&out_dir, |_, files| {
        let mut chosen = BTreeSet::new();
        for path in &args.paths {
            let matched = generated_under(files, &out_dir, path);
            if matched.is_empty() {
                return Err(Error::Message(format!(
                    "{} is not a file bulkhead generates in {} (`bulkhead plan -v` lists them)",
                    path.display(),
                    super::display_path(&out_dir)
                )));
            }
            chosen.extend(matched);
        }
        Ok(Scope {
            only: Some(chosen.clone()),
            restore: chosen,
        })
    })?;
    let restoring = plan.changes.iter().filter(|c| c.write.is_some()).count();
    let question = format!(
        "Discard your edits: write bulkhead's version of {} in",
        plural(restoring, "file")
    );
    super::apply::show_and_write(global, &plan, &args.show, args.yes, &question)
}

/// The generated files `path` names: the file itself, or every one under the folder. The
/// path is relative to the output folder, or to the current folder when it lies inside
/// the output folder.
fn generated_under(files: &Files, out_dir: &Path, path: &Path) -> Vec<String> {
    let slash = |p: &Path| p.to_string_lossy().replace('\\', "/");
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        let absolute = normalize(&slash(&cwd.join(path)));
        let out = normalize(&slash(&cwd.join(out_dir)));
        if let (Some(absolute), Some(out)) = (absolute, out) {
            match absolute.strip_prefix(&out) {
                Some("") => candidates.push(String::new()),
                Some(rel) if rel.starts_with('/') => candidates.push(rel[1..].to_string()),
                _ => {}
            }
        }
    }
    candidates.extend(normalize(&slash(path)));
    for rel in candidates {
        let matched: Vec<String> = files
            .keys()
            .filter(|f| {
                rel.is_empty()
                    || **f == rel
                    || f.strip_prefix(&rel).is_some_and(|r| r.starts_with('/'))
            })
            .cloned()
            .collect();
        if !matched.is_empty() {
            return matched;
        }
    }
    Vec::new()
}
