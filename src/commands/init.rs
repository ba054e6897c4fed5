//! `bulkhead init [DIR]`: writes a new, commented service.toml. On a terminal it asks a
//! newcomer for the platform, its environments and its services, checking each answer
//! with the real rules as it goes; with `--no-input` it takes flags and defaults. The
//! text is built with toml_edit (never by pasting strings), parsed and validated exactly
//! like `bulkhead validate` does, and written atomically only when it has no errors.
//! Also home of what `add` shares: terminal detection, prompts' error handling, checks.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use dialoguer::theme::{ColorfulTheme, Theme};
use dialoguer::{Confirm, Input, Select};
use toml_edit::{DocumentMut, Item, Table, value};

use super::SPEC_FILE;
use super::add::{ServiceDraft, ask_service, split_list};
use crate::cli::{ColorWhen, GlobalArgs, InitArgs};
use crate::diagnostic::{Diagnostic, Source};
use crate::error::{Error, ExitStatus};
use crate::spec::defaults::PLATFORM_NAME_MAX;
use crate::spec::{Choice, Mesh, Runtime};

const HEADER: &str = "\
# service.toml: the one file bulkhead generates this platform from.
#
# It describes the platform, its environments (in promotion order) and its services, one
# per domain boundary: the data each owns, its public APIs, whom it calls. From it bulkhead
# generates Dockerfiles, Kubernetes manifests (Kustomize and Helm), mesh policies, CI
# workflows, Argo CD applications, dashboards and alerts.
#
#   bulkhead validate                        check this file against every rule
#   bulkhead plan                            show what would be generated, as diffs
#   bulkhead apply                           write it
#   bulkhead add service NAME --runtime go   add a service, keeping these comments
#
# Every key and its default: docs/service-toml.md in the bulkhead repository.
";

const PLATFORM_COMMENT: &str = "
# The platform: `name` prefixes every namespace and the Argo CD project, images are pushed
# to `{registry}/{service}`, Argo CD syncs from `repository`. More keys (revision, deploy,
# ci, blueprints, external_topics, vars): docs/service-toml.md#platform-required
";

const ENVIRONMENTS_COMMENT: &str = "
# Environments, in promotion order; the last one is production. Each may set namespace,
# cluster, host, replicas, auto_sync and tls_secret:
# docs/service-toml.md#environmentsname-at-least-one
";

const SERVICES_COMMENT: &str = "
# Services, one per domain boundary. `owns` lists the data only this service keeps (database
# per service), `apis` its public route prefixes, `calls` the services it calls. More keys
# (port, publishes, consumes, health, resources, autoscale, release, resilience, slo, env,
# secrets, per-environment overrides): docs/service-toml.md#servicesname-at-least-one
";

const DEFAULT_ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];

/// The platform being drafted; `None` for what is not answered yet.
#[derive(Debug, Clone)]
struct PlatformDraft {
    name: Option<String>,
    registry: Option<String>,
    repository: Option<String>,
    domain: Option<String>,
    mesh: Mesh,
    environments: Vec<String>,
    services: Vec<ServiceDraft>,
}

impl PlatformDraft {
    fn empty() -> Self {
        Self {
            name: None,
            registry: None,
            repository: None,
            domain: None,
            mesh: Mesh::Istio,
            environments: Vec::new(),
            services: Vec::new(),
        }
    }

    /// The commented document: a header, then `[platform]`, the environments and the
    /// services, each section introduced by a comment pointing at the docs.
    fn document(&self) -> DocumentMut {
        let mut doc = DocumentMut::new();
        doc.decor_mut().set_prefix(HEADER);
        let mut platform = Table::new();
        platform.decor_mut().set_prefix(PLATFORM_COMMENT);
        let keys = [
            ("name", &self.name),
            ("registry", &self.registry),
            ("repository", &self.repository),
            ("domain", &self.domain),
        ];
        for (key, v) in keys {
            if let Some(v) = v {
                platform[key] = value(v.as_str());
            }
        }
        platform["mesh"] = value(self.mesh.as_str());
        doc.insert("platform", Item::Table(platform));

        let mut environments = Table::new();
        environments.set_implicit(true);
        for (i, env) in self.environments.iter().enumerate() {
            let mut t = Table::new();
            t.decor_mut()
                .set_prefix(if i == 0 { ENVIRONMENTS_COMMENT } else { "\n" });
            environments.insert(env, Item::Table(t));
        }
        doc.insert("environments", Item::Table(environments));

        let mut services = Table::new();
        services.set_implicit(true);
        for (i, svc) in self.services.iter().enumerate() {
            let mut t = svc.table();
            t.decor_mut()
                .set_prefix(if i == 0 { SERVICES_COMMENT } else { "\n" });
            services.insert(&svc.name, Item::Table(t));
        }
        doc.insert("services", Item::Table(services));
        doc
    }

    fn text(&self) -> String {
        self.document().to_string()
    }

    /// Ok when `change` brings no error the rules did not already report.
    fn check(&self, change: impl FnOnce(&mut Self)) -> Result<(), String> {
        let mut candidate = self.clone();
        change(&mut candidate);
        let problems = new_errors(&self.text(), &candidate.text());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

pub fn run(global: &GlobalArgs, args: &InitArgs) -> Result<ExitStatus, Error> {
    set_colors(global);
    let target = match (&args.dir, &global.file) {
        (Some(_), Some(_)) => {
            return Err(Error::Message(
                "pass the folder (DIR) or the file (-f), not both".into(),
            ));
        }
        (None, Some(file)) => file.clone(),
        (Some(dir), None) => dir.join(SPEC_FILE),
        (None, None) => PathBuf::from(SPEC_FILE),
    };
    let shown = super::display_path(&target);
    refuse_overwrite(&target, &shown, args.force)?;
    if !args.no_input && !interactive() {
        return Err(Error::Message(
            "no terminal to ask questions on: pass --no-input to write service.toml from flags and defaults (see `bulkhead init --help`)".into(),
        ));
    }
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let guess = Guess::new(&dir);

    let draft = if args.no_input {
        from_flags(args, &guess)?
    } else {
        match ask(args, &guess, &shown)? {
            Some(draft) => draft,
            None => {
                anstream::println!("Nothing written.");
                return Ok(ExitStatus::Success);
            }
        }
    };

    let text = draft.text();
    let (source, diagnostics) = diagnose(&shown, text.clone());
    let errors: Vec<Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    let warnings: Vec<Diagnostic> = diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .cloned()
        .collect();
    if !errors.is_empty() || (global.deny_warnings && !warnings.is_empty()) {
        let shown_problems = if errors.is_empty() {
            &warnings
        } else {
            &errors
        };
        return Err(Error::Invalid {
            rendered: source.render(shown_problems, true),
            summary: format!(
                "{shown} would be invalid ({}{}); nothing written",
                plural(shown_problems.len(), "problem"),
                if errors.is_empty() {
                    ", warnings denied"
                } else {
                    ""
                }
            ),
        });
    }
    if args.no_input && !warnings.is_empty() {
        anstream::eprint!("{}", source.render(&warnings, true));
    }
    refuse_overwrite(&target, &shown, args.force)?;
    let file = target
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Message(format!("{shown} is not a file name")))?;
    crate::apply::write_atomic(&dir, &file, text.as_bytes())?;

    anstream::println!(
        "Wrote {shown}: {} in {}.",
        plural(draft.services.len(), "service"),
        plural(draft.environments.len(), "environment")
    );
    // The commands find service.toml in the current folder; anything else needs -f.
    let (place, f) = if file != SPEC_FILE {
        (String::new(), format!(" -f {shown}"))
    } else if dir == Path::new(".") {
        (String::new(), String::new())
    } else {
        (format!(", in {}", super::display_path(&dir)), String::new())
    };
    let steps = [
        (
            format!("bulkhead plan{f}"),
            "the files it generates, as diffs",
        ),
        (format!("bulkhead apply{f}"), "write them"),
        (
            format!("bulkhead add service NAME --runtime go{f}"),
            "one more service, any time",
        ),
    ];
    let width = steps.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let mut next = format!("Next{place}:");
    for (command, why) in steps {
        next.push_str(&format!("\n  {command:<width$}   # {why}"));
    }
    anstream::println!("{next}");
    Ok(ExitStatus::Success)
}

fn refuse_overwrite(target: &Path, shown: &str, force: bool) -> Result<(), Error> {
    if !force && std::fs::symlink_metadata(target).is_ok() {
        return Err(Error::Message(format!(
            "{shown} already exists; pass --force to replace it, or add to it with `bulkhead add service NAME`"
        )));
    }
    Ok(())
}

/// What init suggests: the folder's name, and the Git remote when there is one.
struct Guess {
    name: String,
    /// `origin` of the Git repository holding the folder, credentials removed.
    remote: Option<String>,
    /// The organisation in that remote's path (`acme` in `github.com/acme/fleet`).
    org: Option<String>,
}

impl Guess {
    fn new(dir: &Path) -> Self {
        let folder = std::fs::canonicalize(dir)
            .or_else(|_| std::path::absolute(dir))
            .ok()
            .and_then(|d| {
                d.components()
                    .rfind(|c| matches!(c, std::path::Component::Normal(_)))
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        let mut name = slug(&folder, PLATFORM_NAME_MAX);
        if name.is_empty() {
            name = "platform".into();
        }
        let remote = git_remote(dir);
        let org = remote.as_deref().and_then(org_of_remote);
        Self { name, remote, org }
    }

    fn registry(&self, name: &str) -> String {
        format!("ghcr.io/{}", self.org.as_deref().unwrap_or(name))
    }

    fn repository(&self, name: &str, registry: &str) -> String {
        if let Some(remote) = &self.remote {
            return remote.clone();
        }
        let org = registry
            .split_once('/')
            .and_then(|(_, rest)| rest.split('/').next())
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .or_else(|| self.org.clone())
            .unwrap_or_else(|| name.to_string());
        format!("https://github.com/{org}/{name}.git")
    }
}

/// `My Fleet_2` → `my-fleet-2`: lowercase letters and digits joined by `-`, starting with a
/// letter, at most `max` characters.
fn slug(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out
        .trim_start_matches(|c: char| !c.is_ascii_lowercase())
        .chars()
        .take(max)
        .collect();
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn git_remote(dir: &Path) -> Option<String> {
    let at = dir.ancestors().find(|d| d.is_dir())?;
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(at)
        .args(["config", "--get", "remote.origin.url"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let url = String::from_utf8(out.stdout).ok()?.trim().to_string();
    // Never copy a token from `https://user:token@host/...` into a committed file.
    let url = match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}/{path}")
        }
        None => url,
    };
    (!url.is_empty()).then_some(url)
}

/// `acme` from `https://github.com/acme/fleet.git` or `git@github.com:acme/fleet.git`.
fn org_of_remote(url: &str) -> Option<String> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/')?.1,
        None => url.split_once(':')?.1,
    };
    let org = slug(path.split('/').next()?, 39);
    (!org.is_empty()).then_some(org)
}

fn from_flags(args: &InitArgs, guess: &Guess) -> Result<PlatformDraft, Error> {
    let name = args.name.clone().unwrap_or_else(|| guess.name.clone());
    let registry = args
        .registry
        .clone()
        .unwrap_or_else(|| guess.registry(&name));
    let repository = args
        .repository
        .clone()
        .unwrap_or_else(|| guess.repository(&name, &registry));
    let environments = if args.envs.is_empty() {
        DEFAULT_ENVIRONMENTS.map(String::from).to_vec()
    } else {
        split_list(&args.envs)
    };
    if let Some(twice) = listed_twice(&environments) {
        return Err(Error::Message(format!(
            "environment `{twice}` is given twice"
        )));
    }
    let mut services: Vec<ServiceDraft> = args
        .services
        .iter()
        .map(|s| ServiceDraft::new(&s.name, s.runtime))
        .collect();
    let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    if let Some(twice) = listed_twice(&names) {
        return Err(Error::Message(format!("service `{twice}` is given twice")));
    }
    if services.is_empty() {
        services.push(ServiceDraft::new("api", Runtime::Rust));
    }
    Ok(PlatformDraft {
        name: Some(name),
        registry: Some(registry),
        repository: Some(repository),
        domain: args.domain.clone().filter(|d| !d.is_empty()),
        mesh: args.mesh.unwrap_or(Mesh::Istio),
        environments,
        services,
    })
}

fn listed_twice(items: &[String]) -> Option<&str> {
    items
        .iter()
        .enumerate()
        .find(|(i, x)| items[..*i].contains(x))
        .map(|(_, x)| x.as_str())
}

/// The questions, with the flags as suggestions; `None` when the user declines to write.
fn ask(args: &InitArgs, guess: &Guess, shown: &str) -> Result<Option<PlatformDraft>, Error> {
    let theme = theme();
    let theme = &*theme;
    anstream::eprintln!(
        "A few questions about your platform; the answers become {shown}.\n\
         Enter accepts the suggestion in brackets; Ctrl-C stops without writing anything.\n"
    );
    let mut draft = PlatformDraft::empty();

    let name: String = answer(
        Input::with_theme(theme)
            .with_prompt("Platform name (prefixes namespaces)")
            .default(args.name.clone().unwrap_or_else(|| guess.name.clone()))
            .validate_with(|v: &String| draft.check(|d| d.name = Some(v.clone())))
            .interact_text(),
    )?;
    draft.name = Some(name.clone());

    let registry: String = answer(
        Input::with_theme(theme)
            .with_prompt("Container registry (images are REGISTRY/SERVICE)")
            .default(
                args.registry
                    .clone()
                    .unwrap_or_else(|| guess.registry(&name)),
            )
            .validate_with(|v: &String| draft.check(|d| d.registry = Some(v.clone())))
            .interact_text(),
    )?;
    draft.registry = Some(registry.clone());

    let repository: String = answer(
        Input::with_theme(theme)
            .with_prompt("Git repository Argo CD syncs from")
            .default(
                args.repository
                    .clone()
                    .unwrap_or_else(|| guess.repository(&name, &registry)),
            )
            .validate_with(|v: &String| draft.check(|d| d.repository = Some(v.clone())))
            .interact_text(),
    )?;
    draft.repository = Some(repository);

    let mut domain = Input::<String>::with_theme(theme)
        .with_prompt("Public domain (optional, e.g. fleet.example.com)")
        .allow_empty(true);
    if let Some(d) = &args.domain {
        domain = domain.with_initial_text(d.as_str());
    }
    let domain = answer(
        domain
            .validate_with(|v: &String| {
                let v = v.trim();
                draft.check(|d| d.domain = (!v.is_empty()).then(|| v.to_string()))
            })
            .interact_text(),
    )?;
    let domain = domain.trim();
    draft.domain = (!domain.is_empty()).then(|| domain.to_string());

    let meshes = [
        (
            Mesh::Istio,
            "istio: mTLS between services, retries, timeouts, canary routing",
        ),
        (Mesh::None, "none: plain Kubernetes, no mesh objects"),
    ];
    let i = answer(
        Select::with_theme(theme)
            .with_prompt("Service mesh")
            .items(meshes.iter().map(|(_, label)| *label))
            .default(usize::from(args.mesh == Some(Mesh::None)))
            .interact(),
    )?;
    draft.mesh = meshes[i].0;

    let suggested = if args.envs.is_empty() {
        DEFAULT_ENVIRONMENTS.join(", ")
    } else {
        split_list(&args.envs).join(", ")
    };
    let environments: String = answer(
        Input::with_theme(theme)
            .with_prompt(
                "Environments in promotion order, comma-separated (the last is production)",
            )
            .default(suggested)
            .validate_with(|v: &String| {
                let list = split_list(&[v.as_str()]);
                if list.is_empty() {
                    return Err("at least one environment is needed".to_string());
                }
                if let Some(twice) = listed_twice(&list) {
                    return Err(format!("`{twice}` is listed twice"));
                }
                draft.check(|d| d.environments = list)
            })
            .interact_text(),
    )?;
    draft.environments = split_list(&[environments]);

    draft.services = args
        .services
        .iter()
        .map(|s| ServiceDraft::new(&s.name, s.runtime))
        .collect();
    let names: Vec<String> = draft.services.iter().map(|s| s.name.clone()).collect();
    if let Some(twice) = listed_twice(&names) {
        return Err(Error::Message(format!("service `{twice}` is given twice")));
    }
    if !draft.services.is_empty() {
        anstream::eprintln!("Services from --service: {}", names.join(", "));
    }
    loop {
        if !draft.services.is_empty() {
            let more = answer(
                Confirm::with_theme(theme)
                    .with_prompt("Add another service?")
                    .default(false)
                    .interact(),
            )?;
            if !more {
                break;
            }
        }
        anstream::eprintln!(
            "\nService {}: one domain boundary, deployed on its own.",
            draft.services.len() + 1
        );
        let render = |svc: Option<&ServiceDraft>| {
            let mut d = draft.clone();
            d.services.extend(svc.cloned());
            d.text()
        };
        let taken: Vec<String> = draft.services.iter().map(|s| s.name.clone()).collect();
        let svc_name: String = answer(
            Input::with_theme(theme)
                .with_prompt("Service name (e.g. trip-management)")
                .validate_with(|v: &String| {
                    if taken.contains(v) {
                        return Err(format!("a service named `{v}` already exists"));
                    }
                    let problems = new_errors(
                        &render(None),
                        &render(Some(&ServiceDraft::new(v, Runtime::Rust))),
                    );
                    if problems.is_empty() {
                        Ok(())
                    } else {
                        Err(problems.join("; "))
                    }
                })
                .interact_text(),
        )?;
        let svc = ask_service(
            theme,
            ServiceDraft::new(svc_name, Runtime::Rust),
            &super::add::Known::default(),
            &taken,
            &render,
        )?;
        // Each answer was checked; this catches what only their combination breaks.
        let problems = new_errors(&render(None), &render(Some(&svc)));
        if problems.is_empty() {
            draft.services.push(svc);
        } else {
            print_problems(&problems);
            anstream::eprintln!("Service `{}` was not added.", svc.name);
        }
    }

    print_summary(&draft);
    let (source, diagnostics) = diagnose(shown, draft.text());
    let warnings: Vec<Diagnostic> = diagnostics.into_iter().filter(|d| !d.is_error()).collect();
    if !warnings.is_empty() {
        anstream::eprint!("{}", source.render(&warnings, true));
    }
    let write = answer(
        Confirm::with_theme(theme)
            .with_prompt(format!("Write {shown}?"))
            .default(true)
            .interact(),
    )?;
    Ok(write.then_some(draft))
}

fn print_summary(d: &PlatformDraft) {
    let bold = anstyle::Style::new().bold();
    let width = d.services.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = format!("\n{bold}Summary{bold:#}\n");
    let rows = [
        ("platform", d.name.clone().unwrap_or_default()),
        ("registry", d.registry.clone().unwrap_or_default()),
        ("repository", d.repository.clone().unwrap_or_default()),
        (
            "domain",
            d.domain.clone().unwrap_or_else(|| "(none)".into()),
        ),
        ("mesh", d.mesh.to_string()),
        ("environments", d.environments.join(" → ")),
    ];
    for (key, v) in rows {
        out.push_str(&format!("  {key:<13}{v}\n"));
    }
    out.push_str("  services\n");
    for s in &d.services {
        out.push_str(&format!("    {:<width$}  {}\n", s.name, s.summary()));
    }
    anstream::eprintln!("{out}");
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Questions need a person: stdin and stderr (where dialoguer draws) both terminals.
pub(crate) fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// `--color` for the prompts too (they draw with `console`, which honours NO_COLOR).
pub(crate) fn set_colors(global: &GlobalArgs) {
    match global.color {
        ColorWhen::Always => dialoguer::console::set_colors_enabled_stderr(true),
        ColorWhen::Never => dialoguer::console::set_colors_enabled_stderr(false),
        ColorWhen::Auto => {}
    }
}

pub(crate) fn theme() -> Box<dyn Theme> {
    Box::new(ColorfulTheme::default())
}

/// A prompt's result; Ctrl-C becomes "cancelled", with the cursor shown again.
pub(crate) fn answer<T>(result: dialoguer::Result<T>) -> Result<T, Error> {
    result.map_err(|dialoguer::Error::IO(e)| {
        let _ = dialoguer::console::Term::stderr().show_cursor();
        if e.kind() == std::io::ErrorKind::Interrupted {
            Error::Message("cancelled; nothing written".into())
        } else {
            Error::Message(format!("could not read the answer: {e}"))
        }
    })
}

/// Parses and validates `text` exactly like `bulkhead validate`.
pub(crate) fn diagnose(name: &str, text: String) -> (Source, Vec<Diagnostic>) {
    let source = Source {
        name: name.to_string(),
        text,
    };
    let (spec, mut diagnostics) = crate::spec::parse(&source);
    if let Some(spec) = &spec {
        diagnostics.extend(crate::validate::validate(spec));
    }
    (source, diagnostics)
}

/// The errors the rules report on `after` but not on `before`, one line each: what an
/// answer broke, whatever else is still missing.
pub(crate) fn new_errors(before: &str, after: &str) -> Vec<String> {
    let line = |d: &Diagnostic| match &d.label {
        Some(label) => format!("{}: {label}", d.message),
        None => d.message.clone(),
    };
    let errors = |text: &str| -> Vec<String> {
        diagnose(SPEC_FILE, text.to_string())
            .1
            .iter()
            .filter(|d| d.is_error())
            .map(line)
            .collect()
    };
    let mut old = errors(before);
    errors(after)
        .into_iter()
        .filter(|e| match old.iter().position(|o| o == e) {
            Some(i) => {
                old.remove(i);
                false
            }
            None => true,
        })
        .collect()
}

/// Problems shown the way a prompt shows a refused answer.
pub(crate) fn print_problems(problems: &[String]) {
    let red = anstyle::AnsiColor::Red.on_default();
    for p in problems {
        anstream::eprintln!("{red}✘ {p}{red:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_dns_labels() {
        assert_eq!(slug("My Fleet_2", 40), "my-fleet-2");
        assert_eq!(slug("2024 project", 40), "project");
        assert_eq!(slug("---", 40), "");
        assert_eq!(slug(&"a-".repeat(30), 40).len(), 39);
    }

    #[test]
    fn orgs_come_from_remotes() {
        assert_eq!(
            org_of_remote("https://github.com/Acme/fleet.git").as_deref(),
            Some("acme")
        );
        assert_eq!(
            org_of_remote("git@github.com:acme/fleet.git").as_deref(),
            Some("acme")
        );
    }

    #[test]
    fn drafts_from_flags_validate() {
        let draft = PlatformDraft {
            name: Some("demo".into()),
            registry: Some("ghcr.io/acme".into()),
            repository: Some("https://github.com/acme/demo.git".into()),
            domain: None,
            mesh: Mesh::Istio,
            environments: vec!["dev".into(), "prod".into()],
            services: vec![ServiceDraft::new("a \"quoted\"\nname", Runtime::Go)],
        };
        let text = draft.text();
        // toml_edit escapes the key; the rules reject the name, nothing else breaks.
        let (_, diagnostics) = diagnose("t", text);
        assert!(
            diagnostics
                .iter()
                .all(|d| d.message.contains("DNS-1123") || !d.is_error()),
            "{diagnostics:?}"
        );
    }
}
