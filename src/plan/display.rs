//! How a plan looks: a coloured unified diff per file and a summary, or JSON for tools.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use super::{Action, FileChange, Plan};

const BOLD: Style = Style::new().bold();
const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const DIM: Style = Style::new().dimmed();

fn action_style(action: Action) -> Style {
    match action {
        Action::Create => GREEN.bold(),
        Action::Update => YELLOW.bold(),
        Action::Merge | Action::Keep => CYAN.bold(),
        Action::Delete | Action::Conflict => RED.bold(),
        Action::Unchanged => DIM,
    }
}

/// The two texts whose diff shows what apply does to a file; none when it does nothing.
fn diff_sides(change: &FileChange) -> Option<(&str, &str)> {
    let old = change.current.as_deref().unwrap_or("");
    match (&change.write, change.action) {
        (Some(new), _) => Some((old, &**new)),
        (None, Action::Delete) => Some((old, "")),
        _ => None,
    }
}

/// Prints every change (unchanged ones only when `verbose`) with its diff (unless
/// `diffs` is false), then the summary line.
pub fn print_text(
    plan: &Plan,
    out: &mut dyn Write,
    diffs: bool,
    verbose: bool,
) -> std::io::Result<()> {
    for change in &plan.changes {
        if change.action == Action::Unchanged && !verbose {
            continue;
        }
        let style = action_style(change.action);
        write!(
            out,
            "{style}{:>9}{style:#} {BOLD}{}{BOLD:#}",
            change.action.as_str(),
            change.path
        )?;
        if let Some(reason) = &change.reason {
            write!(out, " {DIM}({reason}){DIM:#}")?;
        }
        writeln!(out)?;
        if verbose && let Some(added) = &change.structural {
            for (who, keys) in [
                ("you added", &added.yours),
                ("bulkhead added", &added.bulkhead),
            ] {
                if !keys.is_empty() {
                    writeln!(out, "{DIM}{:>24} {}{DIM:#}", who, keys.join(", "))?;
                }
            }
        }
        if diffs && let Some((old, new)) = diff_sides(change) {
            write_diff(out, &change.path, old, new)?;
        }
    }
    let s = plan.summary();
    let mut line = format!(
        "{} to create, {} to update, {} to delete, {} unchanged",
        s.create, s.update, s.delete, s.unchanged
    );
    if s.merge > 0 {
        line.push_str(&format!(", {} to merge", s.merge));
        let structural = plan
            .changes
            .iter()
            .filter(|c| c.structural.is_some())
            .count();
        if structural > 0 {
            line.push_str(&format!(" ({structural} by structure)"));
        }
    }
    if s.keep > 0 {
        line.push_str(&format!(", {} kept as you left them", s.keep));
    }
    if s.conflict > 0 {
        line.push_str(&format!(", {RED}{} in conflict{RED:#}", s.conflict));
    }
    if plan.interrupted {
        line.push_str(" (finishing an interrupted apply)");
    }
    writeln!(out, "{BOLD}Plan:{BOLD:#} {line}")
}

fn write_diff(out: &mut dyn Write, path: &str, old: &str, new: &str) -> std::io::Result<()> {
    let diff = TextDiff::from_lines(old, new);
    let mut unified = diff.unified_diff();
    unified.context_radius(3);
    writeln!(out, "{BOLD}--- a/{path}{BOLD:#}")?;
    writeln!(out, "{BOLD}+++ b/{path}{BOLD:#}")?;
    for hunk in unified.iter_hunks() {
        writeln!(out, "{CYAN}{}{CYAN:#}", hunk.header())?;
        for change in hunk.iter_changes() {
            let (sign, style) = match change.tag() {
                ChangeTag::Delete => ('-', RED),
                ChangeTag::Insert => ('+', GREEN),
                ChangeTag::Equal => (' ', Style::new()),
            };
            writeln!(
                out,
                "{style}{sign}{}{style:#}",
                change.value().trim_end_matches('\n')
            )?;
            if change.missing_newline() {
                writeln!(out, "\\ No newline at end of file")?;
            }
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    out_dir: String,
    summary: super::Summary,
    interrupted: bool,
    changes: Vec<JsonChange<'a>>,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    path: &'a str,
    action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// What each side added, for a merge the YAML or JSON structure settled.
    #[serde(skip_serializing_if = "Option::is_none")]
    merged_by_structure: Option<&'a super::structural::Added>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
}

pub fn print_json(plan: &Plan, out: &mut dyn Write) -> std::io::Result<()> {
    let changes = plan
        .changes
        .iter()
        .map(|c| JsonChange {
            path: &c.path,
            action: c.action,
            reason: c.reason.as_deref(),
            merged_by_structure: c.structural.as_ref(),
            diff: diff_sides(c).map(|(old, new)| {
                TextDiff::from_lines(old, new)
                    .unified_diff()
                    .header(&format!("a/{}", c.path), &format!("b/{}", c.path))
                    .to_string()
            }),
        })
        .collect();
    let doc = JsonPlan {
        out_dir: plan.out_dir.display().to_string(),
        summary: plan.summary(),
        interrupted: plan.interrupted,
        changes,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
