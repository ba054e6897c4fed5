//! The command line: one clap struct per command. Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "bulkhead",
    version,
    about = "Generate a secure, observable microservice platform from one service.toml",
    long_about = "bulkhead reads service.toml (domain boundaries, owned data, APIs, calls, events) \
and generates Dockerfiles, Kustomize bases and overlays and more. It always shows the diff \
against the files on disk before writing anything.",
    after_help = "Examples:\n  bulkhead validate\n  bulkhead plan -f examples/fleet/service.toml -o /tmp/fleet\n  bulkhead apply --yes\n  bulkhead plan --check   # in CI: exit 3 when the tree drifts"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// service.toml to read [default: service.toml in this folder or the nearest parent]
    #[arg(short = 'f', long = "file", global = true, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Output folder [default: the folder of service.toml]
    #[arg(short = 'o', long = "out", global = true, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// When to use colours (NO_COLOR is honoured with `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    /// Print less: no diffs, only actions and the summary
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more: also unchanged files
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Treat warnings about service.toml as errors
    #[arg(long, global = true)]
    pub deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check service.toml against every rule and print all problems
    #[command(after_help = "Example:\n  bulkhead validate -f examples/fleet/service.toml")]
    Validate,
    /// Show what would be created, updated or deleted, with diffs; writes nothing
    #[command(
        after_help = "Examples:\n  bulkhead plan\n  bulkhead plan --check          # exit 3 when anything would change\n  bulkhead plan --format json   # for tools"
    )]
    Plan(PlanArgs),
    /// Show the plan, ask for confirmation, then write the files
    #[command(
        after_help = "Examples:\n  bulkhead apply\n  bulkhead apply --yes   # no question (CI, scripts)"
    )]
    Apply(ApplyArgs),
    /// Print the domain graph: services, owned data, calls, events and public routes
    #[command(
        long_about = "Print the domain graph of service.toml: services, the data each owns, \
synchronous calls (solid arrows), events through topics (dashed arrows) and public routes \
from the gateway (thick arrows). It is the same graph docs/architecture.md shows.",
        after_help = "Examples:\n  bulkhead graph                                # Mermaid, e.g. for a README\n  bulkhead graph --format dot | dot -Tpng -o graph.png"
    )]
    Graph(GraphArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit with code 3 when anything would change (for CI)
    #[arg(long)]
    pub check: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Write without asking (required when there is no terminal)
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart (GitHub renders it in Markdown)
    Mermaid,
    /// Graphviz DOT (render with `dot -Tpng`)
    Dot,
}
