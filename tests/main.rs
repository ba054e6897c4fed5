//! The one integration test binary: a module per feature.

mod common;

mod cli;
mod hostile;
mod kustomize;
mod plan_apply;
mod regenerate;
mod snapshots;
mod validate_rules;
