//! `bulkhead audit`: the operations checklist (design/ops-checklist.md) evaluated on a
//! platform: the model of service.toml plus the files on disk in the output folder, user
//! edits included. It reads what the platform deploys as it is on disk (YAML parsed
//! document by document, Dockerfiles line by line): a hand edit that breaks an item must
//! show. The blueprints only say where the files are (`layout`); bulkhead never re-renders
//! what it judges.
//!
//! - deploy = "kustomize": the kustomizations and what they list.
//! - deploy = "helm": each service in each environment as Argo CD deploys it, the chart
//!   rendered by a real `helm template` (`helm`); Kustomize still deploys what belongs to
//!   no service (namespaces, platform policies). Without helm the audit fails: it never
//!   passes what it could not read.
//!
//! One check per checklist item (`checks`), named after what it checks, each returning
//! findings: `pass`, `fail`, `n/a` (the item does not apply, with why) or `manual` (a part
//! only the running cluster can show, with the command that shows it — never reported as
//! pass).
//!
//! Decisions the checklist leaves open, made here:
//! - `split_by_domain` (1): a service that owns no data passes when it is stateless with a
//!   role (it consumes or publishes events, calls services, serves public routes or is
//!   called); it fails when it has a datastore but owns nothing, or owns nothing and has no
//!   role at all.
//! - `calls_by_service_name` (3): IPv4 literals fail anywhere in the Kubernetes manifests
//!   and Helm values, except loopback (127.0.0.0/8), 0.0.0.0 (listen on every interface)
//!   and network ranges in CIDR notation (a declared egress port's `ipBlock` and what it
//!   leaves out).
//! - `database_per_service` (4): owning data without a datastore fails.
//! - `liveness_is_local` (14): the liveness probe must use the declared local endpoint
//!   (`health.liveness`), without a `host` and without reaching other services.
//! - `autoscaling` (16): an HPA on CPU alone passes when service.toml declares CPU alone;
//!   every metric service.toml declares must be there.
//! - An Argo Rollouts `Rollout` is a service's workload as a Deployment is, for every check
//!   that reads workloads; its release strategy is judged by `release_and_rollback` (21).
//! - `release_and_rollback` (21): rolling needs `maxUnavailable: 0`; a canary with the mesh
//!   must steer every VirtualService of its service, or some requests skip the canary.
//! - Files the blueprints do not produce for this platform (a custom blueprint moved or
//!   dropped them) make their part `n/a`; files they produce and that are gone fail.

mod checks;
mod display;
mod dockerfile;
mod helm;
mod layout;
mod nats;
mod tree;
mod yaml;

use std::path::Path;

use serde::Serialize;

pub use display::{print_json, print_text};
use helm::Helm;
pub use layout::Layout;
pub use tree::Tree;

use crate::error::Error;
use crate::model::Model;
use crate::spec::{Choice, Deploy};

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
    /// Its number in design/ops-checklist.md.
    pub number: u8,
    /// The check's stable name (`non_root`).
    pub check: &'static str,
    /// The item's short title.
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
    /// How the services were read: `kustomize` (their overlays) or `helm` (the chart's
    /// releases).
    pub deploy: &'static str,
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

/// What every check sees: the model, the files on disk, where the blueprints put them,
/// and how to name service.toml.
pub struct Context<'a> {
    pub model: &'a Model,
    pub tree: &'a Tree,
    pub layout: &'a Layout,
    /// service.toml as the user named it, for "where" of model-based findings.
    pub spec: &'a str,
}

impl Context<'_> {
    /// `service.toml [services.name]`.
    pub fn spec_service(&self, service: &str) -> String {
        format!("{} [services.{service}]", self.spec)
    }

    /// What a service's objects are read for: with Kustomize `None`, its base (every
    /// environment); with Helm each environment, a release each.
    pub fn scopes(&self) -> Vec<Option<&str>> {
        if self.tree.helm {
            self.model
                .environments
                .iter()
                .map(|e| Some(e.name.as_str()))
                .collect()
        } else {
            vec![None]
        }
    }

    /// Where a service's objects for `env` (none: every environment) come from: the Helm
    /// release, or the folder of its kustomization.
    pub fn service_place(&self, service: &str, env: Option<&str>) -> String {
        if self.tree.helm {
            return match env {
                Some(env) => format!("{} for {service} in {env}", tree::HELM_CHART),
                None => format!("{} for {service}", tree::HELM_CHART),
            };
        }
        self.layout
            .declaring("Kustomization", Some(service), env)
            .map(|k| k.rsplit_once('/').map_or(k, |(dir, _)| dir).to_string())
            .unwrap_or_else(|| self.spec_service(service))
    }

    /// Where an object of `kind` for `service` and `env` is generated: the blueprint's
    /// output file (a Helm release for a service's objects with deploy = "helm"), else the
    /// service's place, else service.toml.
    pub fn place_of(&self, kind: &str, service: Option<&str>, env: Option<&str>) -> String {
        if let (true, Some(s)) = (self.tree.helm, service) {
            return self.service_place(s, env);
        }
        if let Some(path) = self.layout.declaring(kind, service, env) {
            return path.to_string();
        }
        match (service, env) {
            (Some(s), _) => self.service_place(s, env),
            (None, Some(env)) => format!("{} [environments.{env}]", self.spec),
            (None, None) => self.spec.to_string(),
        }
    }
}

/// Evaluates every item on the platform in `out_dir`, where `layout` says the blueprints
/// put its files. With deploy = "helm" the services are read from the chart rendered by
/// helm (`--helm`'s `helm_flag`, else `$BULKHEAD_HELM`, else `helm` on PATH), which is then
/// required. Fails when the folder holds no generated tree (no `.bulkhead/lock.json`).
pub fn audit(
    model: &Model,
    spec: &str,
    out_dir: &Path,
    layout: &Layout,
    helm_flag: Option<&Path>,
) -> Result<Report, Error> {
    tree::ensure_generated(out_dir)?;
    let helm = match model.platform.deploy {
        Deploy::Kustomize => None,
        Deploy::Helm => Some(Helm::locate(helm_flag)?),
    };
    let tree = Tree::load(out_dir, layout, model, helm.as_ref());
    let cx = Context {
        model,
        tree: &tree,
        layout,
        spec,
    };
    let items = checks::ITEMS
        .iter()
        .map(|item| {
            let mut findings = (item.run)(&cx);
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
                number: item.number,
                check: item.check,
                item: item.title,
                status,
                findings,
            }
        })
        .collect();
    Ok(Report {
        out_dir: out_dir.display().to_string(),
        deploy: model.platform.deploy.as_str(),
        items,
        problems: tree.problems.clone(),
    })
}
