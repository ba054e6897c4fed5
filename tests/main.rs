//! The one integration test binary: a module per feature.

mod common;

mod audit;
mod blueprints;
mod blueprints_git;
mod cli;
mod cluster;
mod defaults;
mod delivery;
mod edit;
mod helm;
mod hostile;
mod init_add;
mod kustomize;
mod observability;
mod plan_apply;
mod plan_display;
mod regenerate;
mod scale;
mod security;
mod snapshots;
mod synth;
mod targeted;
mod validate_rules;
