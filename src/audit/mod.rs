//! `bulkhead audit`: the operations checklist (design/ops-checklist.md) evaluated on a
//! platform: the model of service.toml plus the files on disk in the output folder, user
//! edits included. It reads what is there (YAML parsed document by document, Dockerfiles
//! line by line) and never renders blueprints: a hand edit that breaks an item must show.
//!
//! One function per checklist item (`checks`), each returning findings: `pass`, `fail`,
//! `n/a` (the item does not apply, with why) or `manual` (a part only the running cluster
//! can show, with the command that shows it — never reported as pass).
//!
//! Decisions the checklist leaves open, made here:
//! - 1: a service that owns no data passes when it is stateless with a role (it consumes
//!   or publishes events, calls services, serves public routes or is called); it fails
//!   when it has a datastore but owns nothing, or owns nothing and has no role at all.
//! - 3: IPv4 literals fail anywhere in the Kubernetes manifests and Helm values, except
//!   loopback (127.0.0.0/8) and 0.0.0.0 (listen on every interface).
//! - 4: owning data without a datastore fails (database per service).
//! - 14: the liveness probe must use the declared local endpoint (`health.liveness`),
//!   without a `host` and without reaching other services.
//! - 16: an HPA on CPU alone passes when service.toml declares CPU alone; every metric
//!   service.toml declares must be there.
//! - Files the generator never produced for this tree (an older lock) make their part
//!   `n/a`; files it produced and that are gone fail.

mod checks;
mod display;
mod dockerfile;
mod tree;
mod yaml;

use std::path::Path;

use serde::Serialize;

pub use display::{print_json, print_text};
pub use tree::Tree;

use crate::error::Error;
use crate::model::Model;

/// How one finding, or a whole item, came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Status {
    #[serde(rename = "n/a")]
    NotApplicable,
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "manual")]
    Manual,
    #[serde(rename = "fail")]
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotApplicable => "n/a",
            Self::Pass => "pass",
            Self::Manual => "manual",
            Self::Fail => "fail",
        }
    }
}

/// One line of the report: a status, the place it is about and a one-line reason.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub status: Status,
    #[serde(rename = "where")]
    pub place: String,
    pub why: String,
}

impl Finding {
    pub fn new(status: Status, place: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            status,
            place: place.into(),
            why: why.into(),
        }
    }
    pub fn pass(place: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(Status::Pass, place, why)
    }
    pub fn fail(place: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(Status::Fail, place, why)
    }
    pub fn na(place: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(Status::NotApplicable, place, why)
    }
    pub fn manual(place: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(Status::Manual, place, why)
    }
}

/// One checklist item and what the audit found for it.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    pub number: u8,
    pub item: &'static str,
    /// The worst of its findings: fail, then manual, then pass, then n/a.
    pub status: Status,
    pub findings: Vec<Finding>,
}

/// A file the audit could not read or parse: its objects were not audited.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub path: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub out_dir: String,
    pub items: Vec<ItemReport>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub manual: usize,
    #[serde(rename = "n/a")]
    pub not_applicable: usize,
}

impl Report {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for item in &self.items {
            match item.status {
                Status::Pass => c.pass += 1,
                Status::Fail => c.fail += 1,
                Status::Manual => c.manual += 1,
                Status::NotApplicable => c.not_applicable += 1,
            }
        }
        c
    }

    /// An item failed, or a file could not be audited.
    pub fn failed(&self) -> bool {
        !self.problems.is_empty() || self.items.iter().any(|i| i.status == Status::Fail)
    }
}

/// What every check sees: the model, the files on disk, and how to name service.toml.
pub struct Context<'a> {
    pub model: &'a Model,
    pub tree: &'a Tree,
    /// service.toml as the user named it, for "where" of model-based findings.
    pub spec: &'a str,
}

impl Context<'_> {
    /// `service.toml [services.name]`.
    pub fn spec_service(&self, service: &str) -> String {
        format!("{} [services.{service}]", self.spec)
    }
}

/// Evaluates every item on the generated tree in `out_dir`. Fails when the folder holds no
/// generated tree (no `.bulkhead/lock.json`).
pub fn audit(model: &Model, spec: &str, out_dir: &Path) -> Result<Report, Error> {
    let tree = Tree::load(out_dir)?;
    let cx = Context {
        model,
        tree: &tree,
        spec,
    };
    let items = checks::ITEMS
        .iter()
        .map(|(number, item, check)| {
            let mut findings = check(&cx);
            if findings.is_empty() {
                findings.push(Finding::na("-", "nothing to check"));
            }
            // Failures first and what a person must verify last, otherwise in order found.
            findings.sort_by_key(|f| match f.status {
                Status::Fail => 0,
                Status::Pass => 1,
                Status::NotApplicable => 2,
                Status::Manual => 3,
            });
            let status = findings
                .iter()
                .map(|f| f.status)
                .max()
                .unwrap_or(Status::NotApplicable);
            ItemReport {
                number: *number,
                item,
                status,
                findings,
            }
        })
        .collect();
    Ok(Report {
        out_dir: out_dir.display().to_string(),
        items,
        problems: tree.problems.clone(),
    })
}
