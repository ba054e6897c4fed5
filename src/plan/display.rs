//! How a plan looks: for a person, the summary and the list of files first, then the
//! coloured unified diffs; or JSON for tools. Where the text goes (a pager) is not decided here.

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

/// How much of a plan the text shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// `-q`: the list of files and the summary, nothing else.
    Quiet,
    /// The summary, the list of files with their line counts, then the diffs of the
    /// files that exist already (updated, merged, deleted, in conflict).
    Changes,
    /// As `Changes`, and the contents of new files too (`--diff`).
    Everything,
}

/// Prints the plan for a person. By default: the summary first, then one line per file
/// (unchanged ones only when `verbose`) with its action and size, then the diffs, then
/// the summary again when diffs came between. `Detail::Quiet` prints the list and the
/// summary only.
pub fn print_text(
    plan: &Plan,
    out: &mut dyn Write,
    detail: Detail,
    verbose: bool,
) -> std::io::Result<()> {
    let listed = plan
        .changes
        .iter()
        .filter(|c| verbose || c.action != Action::Unchanged);
    if detail == Detail::Quiet {
        for change in listed {
            write_entry(out, change, false)?;
        }
        return write_summary(out, plan);
    }
    write_summary(out, plan)?;
    let listed: Vec<&FileChange> = listed.collect();
    if !listed.is_empty() {
        writeln!(out)?;
    }
    for change in &listed {
        write_entry(out, change, true)?;
        if verbose {
            write_structural(out, change)?;
        }
    }
    let shown = |c: &FileChange| detail == Detail::Everything || c.action != Action::Create;
    let hidden = listed
        .iter()
        .filter(|c| !shown(c) && diff_sides(c).is_some())
        .count();
    if hidden > 0 {
        writeln!(
            out,
            "{DIM}New files are listed, not shown: `--diff` shows their contents.{DIM:#}"
        )?;
    }
    let mut diffs = 0;
    for change in listed.iter().filter(|c| shown(c)) {
        if let Some((old, new)) = diff_sides(change) {
            writeln!(out)?;
            write_diff(out, &change.path, old, new)?;
            diffs += 1;
        }
    }
    if diffs > 0 {
        // After pages of diffs, what it all amounts to is worth repeating.
        writeln!(out)?;
        write_summary(out, plan)?;
    }
    Ok(())
}

/// One line of the file list: the action (its label), the path, and notes on it.
fn write_entry(out: &mut dyn Write, change: &FileChange, notes: bool) -> std::io::Result<()> {
    let style = action_style(change.action);
    write!(
        out,
        "{style}{:>9}{style:#} {BOLD}{}{BOLD:#}",
        change.action.as_str(),
        change.path
    )?;
    // Why comes before how much.
    let mut parts = Vec::new();
    if let Some(reason) = &change.reason {
        parts.push(reason.clone());
    }
    if notes && let Some(size) = size_note(change) {
        parts.push(size);
    }
    if !parts.is_empty() {
        write!(out, " {DIM}({}){DIM:#}", parts.join("; "))?;
    }
    writeln!(out)
}

/// Under -v, for a merge the YAML or JSON structure settled: what each side added.
fn write_structural(out: &mut dyn Write, change: &FileChange) -> std::io::Result<()> {
    let Some(added) = &change.structural else {
        return Ok(());
    };
    for (who, keys) in [
        ("you added", &added.yours),
        ("bulkhead added", &added.bulkhead),
    ] {
        if !keys.is_empty() {
            writeln!(out, "{DIM}{:>24} {}{DIM:#}", who, keys.join(", "))?;
        }
    }
    Ok(())
}

/// How big a change is: a new or deleted file's lines, or the lines a diff adds and
/// removes.
fn size_note(change: &FileChange) -> Option<String> {
    let (old, new) = diff_sides(change)?;
    Some(match change.action {
        Action::Create => lines(count_lines(new)),
        Action::Delete => lines(count_lines(old)),
        _ => {
            let diff = TextDiff::from_lines(old, new);
            let (mut added, mut removed) = (0, 0);
            for c in diff.iter_all_changes() {
                match c.tag() {
                    ChangeTag::Insert => added += 1,
                    ChangeTag::Delete => removed += 1,
                    ChangeTag::Equal => {}
                }
            }
            format!("+{added} -{removed}")
        }
    })
}

fn count_lines(text: &str) -> usize {
    text.lines().count()
}

fn lines(n: usize) -> String {
    format!("{n} line{}", if n == 1 { "" } else { "s" })
}

fn write_summary(out: &mut dyn Write, plan: &Plan) -> std::io::Result<()> {
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
    /// Lines of what apply writes to the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    lines: Option<usize>,
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
            lines: c.write.as_deref().map(count_lines),
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
