//! How an audit looks: an aligned table (item, status, where, why) with a summary, or
//! JSON for tools.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::{Counts, ItemReport, Problem, Report, Status};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const RED: Style = AnsiColor::Red.on_default();

/// Widest "where" before the reason moves to its own line.
const MAX_WHERE: usize = 44;

fn status_style(status: Status) -> Style {
    match status {
        Status::Pass => AnsiColor::Green.on_default(),
        Status::Fail => AnsiColor::Red.on_default().bold(),
        Status::Manual => AnsiColor::Yellow.on_default(),
        Status::NotApplicable => DIM,
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Prints the table and the summary. `failures_only` keeps only failing rows.
pub fn print_text(
    report: &Report,
    out: &mut dyn Write,
    failures_only: bool,
) -> std::io::Result<()> {
    let rows: Vec<(&ItemReport, usize)> = report
        .items
        .iter()
        .flat_map(|item| (0..item.findings.len()).map(move |i| (item, i)))
        .filter(|(item, i)| !failures_only || item.findings[*i].status == Status::Fail)
        .collect();
    let item_w = report
        .items
        .iter()
        .map(|i| width(i.item))
        .max()
        .unwrap_or(4)
        .max(4);
    let where_w = rows
        .iter()
        .map(|(item, i)| width(&item.findings[*i].place))
        .filter(|w| *w <= MAX_WHERE)
        .max()
        .unwrap_or(5)
        .max(5);
    let why_col = 3 + 2 + item_w + 2 + 6 + 2 + where_w + 2;
    if !rows.is_empty() {
        writeln!(
            out,
            "{BOLD}{:>3}  {:<item_w$}  {:<6}  {:<where_w$}  why{BOLD:#}",
            "#", "item", "status", "where"
        )?;
    }
    let mut last: Option<u8> = None;
    for (item, i) in rows {
        let f = &item.findings[i];
        let (number, title) = if last == Some(item.number) {
            (String::new(), "")
        } else {
            (item.number.to_string(), item.item)
        };
        last = Some(item.number);
        let style = status_style(f.status);
        write!(
            out,
            "{number:>3}  {title:<item_w$}  {style}{:<6}{style:#}  ",
            f.status.as_str()
        )?;
        if width(&f.place) > where_w {
            writeln!(out, "{}", f.place)?;
            writeln!(out, "{:why_col$}{}", "", f.why)?;
        } else {
            writeln!(out, "{:<where_w$}  {}", f.place, f.why)?;
        }
    }
    for p in &report.problems {
        writeln!(out, "{RED}cannot audit{RED:#} {}: {}", p.path, p.error)?;
    }
    let c = report.counts();
    let failed: Vec<String> = report
        .items
        .iter()
        .filter(|i| i.status == Status::Fail)
        .map(|i| i.number.to_string())
        .collect();
    let mut line = format!(
        "{} items: {} pass, {} fail, {} manual, {} n/a",
        report.items.len(),
        c.pass,
        c.fail,
        c.manual,
        c.not_applicable
    );
    if c.manual > 0 {
        line.push_str(" (manual: run the commands shown against the cluster)");
    }
    writeln!(out, "{BOLD}Audit:{BOLD:#} {line}")?;
    if !failed.is_empty() {
        writeln!(
            out,
            "{RED}failed{RED:#}: item{} {} (see why above)",
            if failed.len() == 1 { "" } else { "s" },
            failed.join(", ")
        )?;
    }
    if !report.problems.is_empty() {
        writeln!(
            out,
            "{RED}failed{RED:#}: {} could not be read, so their objects were not audited",
            if report.problems.len() == 1 {
                "1 file".to_string()
            } else {
                format!("{} files", report.problems.len())
            }
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonReport<'a> {
    out_dir: &'a str,
    deploy: &'a str,
    passed: bool,
    summary: Counts,
    items: &'a [ItemReport],
    problems: &'a [Problem],
}

pub fn print_json(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let doc = JsonReport {
        out_dir: &report.out_dir,
        deploy: report.deploy,
        passed: !report.failed(),
        summary: report.counts(),
        items: &report.items,
        problems: &report.problems,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
