//! The command line: one clap struct per command. Doc comments are the help text.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::spec::{Choice, Datastore, Mesh, Runtime};

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
    /// When to use colours (NO_COLOR is honoured with `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

/// Reading service.toml: every command that checks it.
#[derive(Debug, Clone, Default, Args)]
pub struct SpecArgs {
    /// service.toml to read [default: service.toml in this folder or the nearest parent]
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Treat warnings about service.toml as errors
    #[arg(long)]
    pub deny_warnings: bool,
}

/// The generated tree: the commands that render or read it.
#[derive(Debug, Clone, Default, Args)]
pub struct TreeArgs {
    /// Output folder [default: the folder of service.toml]
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The platform's own blueprints folder, overriding and adding to the built-in ones
    /// [default: `platform.blueprints` of service.toml]
    #[arg(long, value_name = "DIR")]
    pub blueprints: Option<PathBuf>,
}

/// How much plan and apply print.
#[derive(Debug, Clone, Default, Args)]
pub struct Verbosity {
    /// Print less: no diffs, only actions and the summary
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more: also unchanged files
    #[arg(short, long)]
    pub verbose: bool,
}

/// What a command was given of the flags several commands share; the ones a command does
/// not take stay at their defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub file: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub quiet: bool,
    pub verbose: bool,
    pub deny_warnings: bool,
    pub blueprints: Option<PathBuf>,
}

impl Options {
    fn new(spec: &SpecArgs, tree: &TreeArgs, verbosity: &Verbosity) -> Self {
        Self {
            file: spec.file.clone(),
            out: tree.out.clone(),
            quiet: verbosity.quiet,
            verbose: verbosity.verbose,
            deny_warnings: spec.deny_warnings,
            blueprints: tree.blueprints.clone(),
        }
    }

    fn spec(spec: &SpecArgs) -> Self {
        Self::new(spec, &TreeArgs::default(), &Verbosity::default())
    }
}

impl Command {
    /// The shared flags as this command was given them.
    pub fn options(&self) -> Options {
        let none = || Options::default();
        match self {
            Self::Validate(a) => Options::spec(&a.spec),
            Self::Graph(a) => Options::spec(&a.spec),
            Self::Plan(a) => Options::new(&a.spec, &a.tree, &a.verbosity),
            Self::Apply(a) => Options::new(&a.spec, &a.tree, &a.verbosity),
            Self::Restore(a) => Options::new(&a.spec, &a.tree, &a.verbosity),
            Self::Audit(a) => Options {
                quiet: a.quiet,
                ..Options::new(&a.spec, &a.tree, &Verbosity::default())
            },
            Self::Init(a) => Options {
                file: a.file.clone(),
                deny_warnings: a.deny_warnings,
                ..none()
            },
            Self::Add(a) => match &a.what {
                AddCommand::Service(s) => Options {
                    quiet: s.quiet,
                    ..Options::spec(&s.spec)
                },
                AddCommand::Environment(e) => Options {
                    quiet: e.quiet,
                    ..Options::spec(&e.spec)
                },
            },
            Self::Remove(r) => match &r.what {
                RemoveCommand::Service(s) => Options::new(&s.spec, &s.tree, &Verbosity::default()),
            },
            Self::Blueprints(a) => match &a.what {
                BlueprintsCommand::List(l) => Options {
                    file: l.file.clone(),
                    ..Options::new(&SpecArgs::default(), &l.tree, &Verbosity::default())
                },
                BlueprintsCommand::Upgrade(u) => Options {
                    out: u.out.clone(),
                    ..Options::new(&u.spec, &TreeArgs::default(), &u.verbosity)
                },
                BlueprintsCommand::Eject(e) => Options {
                    file: e.file.clone(),
                    quiet: e.quiet,
                    ..none()
                },
            },
            Self::Schema | Self::Completions(_) => none(),
        }
    }
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
    Validate(ValidateArgs),
    /// Show what would be created, updated or deleted: a summary, the files, the diffs; writes nothing
    #[command(
        after_help = "Examples:\n  bulkhead plan\n  bulkhead plan --check          # exit 3 when anything would change\n  bulkhead plan --diff           # the contents of new files too\n  bulkhead plan --format json   # for tools"
    )]
    Plan(PlanArgs),
    /// Show the plan, ask for confirmation, then write the files
    #[command(
        after_help = "Examples:\n  bulkhead apply\n  bulkhead apply --yes   # no question (CI, scripts)"
    )]
    Apply(ApplyArgs),
    /// Put bulkhead's version of chosen files back, discarding your edits to them
    #[command(
        long_about = "Regenerate the chosen files (or every generated file under a chosen folder), \
discarding your edits to them: the diff shows what is discarded, and nothing is written before \
you confirm (--yes for scripts). A generated file you deleted comes back. Paths are relative to \
the output folder, or to the current folder when they lie inside it. Every other file stays as \
it is.",
        after_help = "Examples:\n  bulkhead restore deploy/overlays/prod/api/kustomization.yaml\n  bulkhead restore services/api          # every generated file of that folder\n  bulkhead restore --yes -o /tmp/fleet deploy/base/api/deployment.yaml"
    )]
    Restore(RestoreArgs),
    /// Print the domain graph: services, owned data, calls, events, public routes and egress
    #[command(
        long_about = "Print the domain graph of service.toml: services, the data each owns, \
synchronous calls (solid arrows), events through topics (dashed arrows), public routes \
from the gateway (thick arrows) and the hosts outside the cluster each service declares in \
`egress` (arrows labelled with the ports). It is the same graph docs/architecture.md shows.",
        after_help = "Examples:\n  bulkhead graph                                # Mermaid, e.g. for a README\n  bulkhead graph --format dot | dot -Tpng -o graph.png"
    )]
    Graph(GraphArgs),
    /// Evaluate the operations checklist on the generated files as they are on disk
    #[command(
        long_about = "Evaluate the operations checklist (22 items: domain boundaries, images, \
non-root, probes, autoscaling, TLS, mTLS, observability, releases, resilience) on service.toml \
and the files on disk in the output folder, hand edits included. Each item is pass, fail, n/a \
(with why) or manual (what only the running cluster can show, with the command to check it). \
It reads what the platform deploys: the files the blueprints generate (custom ones included), \
and with deploy = \"helm\" every service in every environment as `helm template` renders the \
chart helm/chart with its values files (Helm is then required: --helm PATH, $BULKHEAD_HELM, or \
helm on PATH). Exits 1 when an item fails.",
        after_help = "Examples:\n  bulkhead audit\n  bulkhead audit -f examples/fleet/service.toml -o /tmp/fleet\n  bulkhead audit -q              # only the failures\n  bulkhead audit --format json   # for tools\n  bulkhead audit --helm ~/bin/helm   # deploy = \"helm\": the helm binary to render with"
    )]
    Audit(AuditArgs),
    /// Create service.toml: a few questions on a terminal, or flags with --no-input
    #[command(
        long_about = "Create service.toml, the one file bulkhead generates a platform from. On a \
terminal it asks for the platform (name, registry, repository, domain, mesh), its environments \
and its services (name, runtime, owned data, datastore, public APIs, calls), checks every answer \
as you go, shows a summary and writes only after you confirm. With --no-input it asks nothing \
and takes the flags, with defaults for the rest. The file it writes is commented and always \
passes `bulkhead validate`.",
        after_help = "Examples:\n  bulkhead init                # ask, then write ./service.toml\n  bulkhead init fleet          # write fleet/service.toml (the folder is created)\n  bulkhead init --no-input --name fleet --registry ghcr.io/acme \\\n      --env dev,prod --service trips:go --service users:node"
    )]
    Init(InitArgs),
    /// Add to an existing service.toml, keeping its comments and layout
    #[command(
        after_help = "Example:\n  bulkhead add service trip-analytics --runtime python --owns reports --datastore postgres"
    )]
    Add(AddArgs),
    /// Remove from an existing service.toml, keeping its comments and layout
    #[command(after_help = "Example:\n  bulkhead remove service notifications")]
    Remove(RemoveArgs),
    /// List the blueprints (built-in, overridden, added) or copy the built-in ones to customise
    #[command(
        long_about = "Blueprints are the templates bulkhead renders, laid out like the output tree. \
A platform's own folder (`platform.blueprints` in service.toml, or --blueprints DIR) overrides a \
built-in blueprint by relative path and adds new ones, with the same fan-out: a path segment \
`__service__` renders once per service, `__env__` once per environment. The template context is \
documented in docs/template-context.md.",
        after_help = "Examples:\n  bulkhead blueprints list\n  bulkhead blueprints eject --only _runtimes/go   # copy one runtime's Dockerfile to customise\n  bulkhead blueprints list --blueprints ../platform/blueprints"
    )]
    Blueprints(BlueprintsArgs),
    /// Print the JSON Schema of service.toml (for editors)
    #[command(
        long_about = "Print the JSON Schema (draft 2020-12) of service.toml: every table and key, \
with descriptions, defaults, choices and name patterns, for editor completion and checking (e.g. \
Taplo / Even Better TOML, or a `#:schema` comment). Rules between values (one owner per datum, \
calls to known services, …) are checked by `bulkhead validate`.",
        after_help = "Examples:\n  bulkhead schema > service.schema.json\n  # then, first line of service.toml:  #:schema ./service.schema.json"
    )]
    Schema,
    /// Print shell completions for bash, zsh, fish, elvish or powershell
    #[command(
        after_help = "Examples:\n  bulkhead completions bash > ~/.local/share/bash-completion/completions/bulkhead\n  bulkhead completions zsh > \"${fpath[1]}/_bulkhead\"\n  bulkhead completions fish > ~/.config/fish/completions/bulkhead.fish"
    )]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub tree: TreeArgs,
    #[command(flatten)]
    pub verbosity: Verbosity,
    /// Only this service's files, and the files all services share; repeatable
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// Exit with code 3 when anything would change (for CI); 4 while a file holds conflict markers
    #[arg(long)]
    pub check: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub show: ShowPlanArgs,
}

/// How plan and apply show a plan to a person.
#[derive(Debug, Args)]
pub struct ShowPlanArgs {
    /// Show the contents of new files too (by default they are listed with their line counts)
    #[arg(long)]
    pub diff: bool,
    /// Print straight to the terminal instead of through the pager ($BULKHEAD_PAGER, $PAGER,
    /// else `less -FRX`)
    #[arg(long)]
    pub no_pager: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub tree: TreeArgs,
    #[command(flatten)]
    pub verbosity: Verbosity,
    /// Only this service's files, and the files all services share; repeatable
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// Write without asking (required when there is no terminal)
    #[arg(short, long)]
    pub yes: bool,
    #[command(flatten)]
    pub show: ShowPlanArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Generated files, or folders of them, to put back
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub tree: TreeArgs,
    #[command(flatten)]
    pub verbosity: Verbosity,
    /// Write without asking (required when there is no terminal)
    #[arg(short, long)]
    pub yes: bool,
    #[command(flatten)]
    pub show: ShowPlanArgs,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
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

/// A value parser for a fixed set of choices of service.toml (`--mesh`, `--runtime`, …):
/// the help lists the possible values, and they come from the same table as the file's.
fn choice<T: Choice + Send + Sync>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(T::ALL.iter().map(|(name, _)| *name)).map(|s| {
        T::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
            .expect("clap only passes possible values")
    })
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to write service.toml in; created when missing [default: this folder]
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The file to write instead, e.g. `platform.toml` (not with DIR)
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        conflicts_with = "dir"
    )]
    pub file: Option<PathBuf>,
    /// Refuse to write a file that has warnings, as `bulkhead validate --deny-warnings` would
    #[arg(long)]
    pub deny_warnings: bool,
    /// Ask nothing: take the flags below and defaults for the rest (scripts, CI)
    #[arg(long)]
    pub no_input: bool,
    /// Overwrite an existing service.toml
    #[arg(long)]
    pub force: bool,
    /// Platform name, a DNS label of at most 40 characters [default: the folder's name]
    #[arg(long, value_name = "NAME", help_heading = "Platform")]
    pub name: Option<String>,
    /// Image registry prefix: images become REGISTRY/SERVICE [default: ghcr.io/ORG, ORG from the
    /// Git remote or the platform name]
    #[arg(long, value_name = "REGISTRY", help_heading = "Platform")]
    pub registry: Option<String>,
    /// Git URL Argo CD syncs from [default: the folder's `origin` remote, else
    /// https://github.com/ORG/NAME.git]
    #[arg(long, value_name = "URL", help_heading = "Platform")]
    pub repository: Option<String>,
    /// Public domain; environments get hosts under it [default: none]
    #[arg(long, value_name = "DOMAIN", help_heading = "Platform")]
    pub domain: Option<String>,
    /// Service mesh [default: istio]
    #[arg(long, value_parser = choice::<Mesh>(), help_heading = "Platform")]
    pub mesh: Option<Mesh>,
    /// An environment, in promotion order; repeat it or separate with commas
    /// [default: dev,staging,prod]
    #[arg(
        long = "env",
        value_name = "ENV",
        value_delimiter = ',',
        help_heading = "Platform"
    )]
    pub envs: Vec<String>,
    /// A service as NAME:RUNTIME, e.g. `trips:go`; repeat for more (add details later with
    /// `bulkhead add service`) [default with --no-input: api:rust]
    #[arg(long = "service", value_name = "NAME:RUNTIME", value_parser = service_seed, help_heading = "Platform")]
    pub services: Vec<ServiceSeed>,
}

/// `--service NAME:RUNTIME` of `init`.
#[derive(Debug, Clone)]
pub struct ServiceSeed {
    pub name: String,
    pub runtime: Runtime,
}

fn service_seed(s: &str) -> Result<ServiceSeed, String> {
    let runtimes = || {
        Runtime::ALL
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((name, runtime)) = s.split_once(':') else {
        return Err(format!(
            "expected NAME:RUNTIME, e.g. `trips:go` (runtimes: {})",
            runtimes()
        ));
    };
    let runtime = Runtime::ALL
        .iter()
        .find(|(n, _)| *n == runtime)
        .map(|(_, r)| *r)
        .ok_or_else(|| format!("unknown runtime `{runtime}` (runtimes: {})", runtimes()))?;
    Ok(ServiceSeed {
        name: name.to_string(),
        runtime,
    })
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(subcommand)]
    pub what: AddCommand,
}

#[derive(Debug, Subcommand)]
pub enum AddCommand {
    /// Add a service: a new [services.NAME] table after the last service
    #[command(
        long_about = "Add a service to service.toml: a new [services.NAME] table after the last \
service. Everything else in the file (comments, blank lines, order) stays as it is. The result \
is checked against every rule before it is written; nothing is written when it would be invalid \
(a duplicate name, a call to an unknown service, data another service owns, …). On a terminal, \
a missing --runtime starts questions for every value not given as a flag.",
        after_help = "Examples:\n  bulkhead add service billing                 # on a terminal: asks\n  bulkhead add service billing --runtime go --owns invoices,payments --datastore postgres \\\n      --apis /invoices --calls user-profiles\n  bulkhead plan                                # then see what it generates"
    )]
    Service(AddServiceArgs),
    /// Add an environment: a new [environments.NAME] table, by default after the last one
    #[command(
        long_about = "Add an environment to service.toml: a new [environments.NAME] table. The \
order of the environments is the promotion order and the last one is production, so the new \
table goes after the last environment unless --after or --before places it. Everything else in \
the file stays as it is; the result is checked against every rule before it is written.",
        after_help = "Examples:\n  bulkhead add environment staging --before prod\n  bulkhead add environment qa --after dev --host qa.example.com --replicas 1"
    )]
    Environment(AddEnvironmentArgs),
}

#[derive(Debug, Args)]
pub struct AddEnvironmentArgs {
    /// The environment's name: a DNS label, new in the platform
    #[arg(value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Print only the outcome, not the added table
    #[arg(short, long)]
    pub quiet: bool,
    /// Place it right after this environment in the promotion order
    #[arg(long, value_name = "ENV", conflicts_with = "before")]
    pub after: Option<String>,
    /// Place it right before this environment in the promotion order
    #[arg(long, value_name = "ENV")]
    pub before: Option<String>,
    /// Kubernetes namespace [default: {platform}-{env}]
    #[arg(long, value_name = "NAME", help_heading = "Environment")]
    pub namespace: Option<String>,
    /// Argo CD destination server [default: the cluster Argo CD runs in]
    #[arg(long, value_name = "URL", help_heading = "Environment")]
    pub cluster: Option<String>,
    /// Public host of the gateway [default: {env}.{domain}, the domain for production]
    #[arg(long, value_name = "HOST", help_heading = "Environment")]
    pub host: Option<String>,
    /// Default replica count of every service here [default: 2]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Environment")]
    pub replicas: Option<u32>,
    /// Argo CD syncs only when asked (auto_sync = false)
    #[arg(long, help_heading = "Environment")]
    pub manual_sync: bool,
    /// TLS credential of the gateway [default: {platform}-{env}-tls]
    #[arg(long, value_name = "SECRET", help_heading = "Environment")]
    pub tls_secret: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    #[command(subcommand)]
    pub what: RemoveCommand,
}

#[derive(Debug, Subcommand)]
pub enum RemoveCommand {
    /// Remove services: their [services.NAME] tables, per-environment overrides included
    #[command(
        long_about = "Remove services from service.toml: each [services.NAME] table with its \
per-environment overrides and the comment right above it. Everything else in the file stays as \
it is. A service that another still calls, or whose topics another consumes, is not removed: \
each such place is named with its line. On a terminal it asks before writing (--yes does not). \
The next `bulkhead plan` shows the service's generated files as deleted; `bulkhead apply` \
deletes them.",
        after_help = "Examples:\n  bulkhead remove service notifications\n  bulkhead remove service billing invoicing --yes   # two that only call each other"
    )]
    Service(RemoveServiceArgs),
}

#[derive(Debug, Args)]
pub struct RemoveServiceArgs {
    /// The services to remove
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub tree: TreeArgs,
    /// Do not ask for confirmation (scripts)
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct AddServiceArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Print only the outcome, not the added table
    #[arg(short, long)]
    pub quiet: bool,
    /// The service's name: a DNS label of at most 50 characters, new in the platform
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Language toolchain: picks the Dockerfile and CI steps (asked on a terminal when missing)
    #[arg(long, value_parser = choice::<Runtime>(), help_heading = "Service")]
    pub runtime: Option<Runtime>,
    /// Data it owns, comma-separated identifiers (`trips,routes`); no other service may own them
    #[arg(
        long,
        value_name = "DATA",
        value_delimiter = ',',
        help_heading = "Service"
    )]
    pub owns: Option<Vec<String>>,
    /// Its own database [default: postgres when it owns data, else none]
    #[arg(long, value_parser = choice::<Datastore>(), help_heading = "Service")]
    pub datastore: Option<Datastore>,
    /// Public route prefixes through the gateway, comma-separated (`/trips,/routes`)
    #[arg(
        long,
        value_name = "PATHS",
        value_delimiter = ',',
        help_heading = "Service"
    )]
    pub apis: Option<Vec<String>>,
    /// Services it calls synchronously, comma-separated
    #[arg(
        long,
        value_name = "SERVICES",
        value_delimiter = ',',
        help_heading = "Service"
    )]
    pub calls: Option<Vec<String>>,
    /// Event topics it publishes, comma-separated
    #[arg(
        long,
        value_name = "TOPICS",
        value_delimiter = ',',
        help_heading = "Service"
    )]
    pub publishes: Option<Vec<String>>,
    /// Event topics it consumes, comma-separated
    #[arg(
        long,
        value_name = "TOPICS",
        value_delimiter = ',',
        help_heading = "Service"
    )]
    pub consumes: Option<Vec<String>>,
    /// Container port [default: 8080]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..), help_heading = "Service")]
    pub port: Option<u16>,
    /// Free text, shown in annotations and docs
    #[arg(long, value_name = "TEXT", help_heading = "Service")]
    pub description: Option<String>,
    /// Ask nothing, even on a terminal (then --runtime is required)
    #[arg(long)]
    pub no_input: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub tree: TreeArgs,
    /// Print only the failing items
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The helm binary that renders the chart when deploy = "helm" (default:
    /// $BULKHEAD_HELM, else helm on PATH)
    #[arg(long, value_name = "PATH")]
    pub helm: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BlueprintsArgs {
    #[command(subcommand)]
    pub what: BlueprintsCommand,
}

#[derive(Debug, Subcommand)]
pub enum BlueprintsCommand {
    /// Every blueprint path with its origin (built-in, overridden, added) and fan-out
    #[command(
        long_about = "List every blueprint by relative path: built-in, overridden (by which file of \
the platform's folder) or added by it, and how often it renders: once, per service, per \
environment, or both; partials (a first segment starting with `_`) are only included by others.",
        after_help = "Examples:\n  bulkhead blueprints list\n  bulkhead blueprints list --format json\n  bulkhead blueprints list --blueprints my-blueprints"
    )]
    List(BlueprintsListArgs),
    /// Copy the built-in blueprints into a folder to customise them; never overwrites
    #[command(
        long_about = "Copy the built-in blueprints into DIR (default: `blueprints` next to \
service.toml), keeping their relative paths. Existing files are never overwritten: they are \
reported as skipped. Then point service.toml at the folder (the line to add is printed). Eject \
only what you change (--only): a file in the folder replaces the built-in one for good, so later \
bulkhead upgrades no longer reach it.",
        after_help = "Examples:\n  bulkhead blueprints eject --only _runtimes/go       # the Go Dockerfile only\n  bulkhead blueprints eject --only .github/workflows  # the CI workflows\n  bulkhead blueprints eject platform/blueprints       # everything, into that folder"
    )]
    Eject(BlueprintsEjectArgs),
    /// Move the Git pin of the blueprints to another revision; show what changed and the plan
    #[command(
        long_about = "Move `rev` of `platform.blueprints = { git = ..., rev = ..., path = ... }` in \
service.toml to REV (comments and layout kept), after checking that the repository has it. Then \
show what changed in the blueprints between the commit in use and REV's (the commits touching \
`path`, and the files), and the plan. Nothing is generated: run `bulkhead apply` to write the \
files and record the new commit in .bulkhead/lock.json.",
        after_help = "Examples:\n  bulkhead blueprints upgrade v1.5.0\n  bulkhead apply"
    )]
    Upgrade(BlueprintsUpgradeArgs),
}

#[derive(Debug, Args)]
pub struct BlueprintsUpgradeArgs {
    /// The tag, branch or commit to pin
    #[arg(value_name = "REV")]
    pub rev: String,
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Output folder whose lock holds the current pin [default: the folder of service.toml]
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub verbosity: Verbosity,
    #[command(flatten)]
    pub show: ShowPlanArgs,
}

#[derive(Debug, Args)]
pub struct BlueprintsListArgs {
    /// service.toml naming the platform's blueprints [default: service.toml in this folder
    /// or the nearest parent, if any]
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub tree: TreeArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct BlueprintsEjectArgs {
    /// service.toml next to which `blueprints` is created [default: service.toml in this
    /// folder or the nearest parent, if any]
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Print only the summary, not each file
    #[arg(short, long)]
    pub quiet: bool,
    /// Folder to copy into [default: `blueprints` next to service.toml]
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Copy only blueprints under this path (a file or a folder, e.g. `_runtimes/go`); repeatable
    #[arg(long, value_name = "PATH-PREFIX")]
    pub only: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
