//! The questions `init` and `add` ask on a terminal (dialoguer, its theme, Ctrl-C), what
//! they suggest, and how typed lists are read. Every answer is checked at once by the real
//! rules (`load`) on the whole file with the answer in it, so a problem is refused at the
//! prompt, with the reason, and asked again. Its own module, apart from the commands,
//! because both commands ask the service questions; it builds drafts (`spec::edit`) and
//! never writes a file.

use std::io::IsTerminal;
use std::path::Path;

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Select};

use crate::cli::{ColorWhen, InitArgs};
use crate::diagnostic::{Diagnostic, Source};
use crate::error::Error;
use crate::spec::defaults::PLATFORM_NAME_MAX;
use crate::spec::edit::{PlatformDraft, ServiceDraft};
use crate::spec::{Choice, Datastore, Mesh, Runtime};

pub const DEFAULT_ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];

/// Questions need a person: stdin and stderr (where dialoguer draws) both terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// `--color` for the prompts too (they draw with `console`, which honours NO_COLOR).
pub fn set_colors(color: ColorWhen) {
    match color {
        ColorWhen::Always => dialoguer::console::set_colors_enabled_stderr(true),
        ColorWhen::Never => dialoguer::console::set_colors_enabled_stderr(false),
        ColorWhen::Auto => {}
    }
}

fn theme() -> ColorfulTheme {
    ColorfulTheme::default()
}

/// A prompt's result; Ctrl-C becomes "cancelled", with the cursor shown again.
fn answer<T>(result: dialoguer::Result<T>) -> Result<T, Error> {
    result.map_err(|dialoguer::Error::IO(e)| {
        let _ = dialoguer::console::Term::stderr().show_cursor();
        if e.kind() == std::io::ErrorKind::Interrupted {
            Error::Message("cancelled; nothing written".into())
        } else {
            Error::Message(format!("could not read the answer: {e}"))
        }
    })
}

/// A yes/no question.
pub fn confirm(prompt: &str, default: bool) -> Result<bool, Error> {
    answer(
        Confirm::with_theme(&theme())
            .with_prompt(prompt)
            .default(default)
            .interact(),
    )
}

/// Problems shown the way a prompt shows a refused answer.
fn print_problems(problems: &[String]) {
    let red = anstyle::AnsiColor::Red.on_default();
    for p in problems {
        anstream::eprintln!("{red}✘ {p}{red:#}");
    }
}

/// `a, b c,,d` → `[a, b, c, d]`: how lists are typed at a prompt or in a flag.
pub fn split_list<S: AsRef<str>>(items: &[S]) -> Vec<String> {
    items
        .iter()
        .flat_map(|s| {
            s.as_ref()
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The first item of `items` given twice.
pub fn listed_twice(items: &[String]) -> Option<&str> {
    items
        .iter()
        .enumerate()
        .find(|(i, x)| items[..*i].contains(x))
        .map(|(_, x)| x.as_str())
}

/// The errors the rules report on `after` but not on `before`, one line each: what an
/// answer broke, whatever else is still missing.
fn new_errors(before: &str, after: &str) -> Vec<String> {
    // Only messages and labels are compared: the file's name never shows.
    let diagnose = |text: &str| {
        crate::load::load(&Source {
            name: String::new(),
            text: text.to_string(),
        })
        .diagnostics
    };
    let (before, after) = (diagnose(before), diagnose(after));
    crate::diagnostic::new_since(&before, &after)
        .into_iter()
        .filter(|d| d.is_error())
        .map(|d| match &d.label {
            Some(label) => format!("{}: {label}", d.message),
            None => d.message.clone(),
        })
        .collect()
}

/// Ok when `after` brings no error the rules did not already report on `before`; else
/// the new errors, as a prompt shows why it refuses an answer.
fn refuse_new_errors(before: &str, after: &str) -> Result<(), String> {
    let problems = new_errors(before, after);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Ok when `change` brings no error to `draft` the rules did not already report.
fn check(draft: &PlatformDraft, change: impl FnOnce(&mut PlatformDraft)) -> Result<(), String> {
    let mut candidate = draft.clone();
    change(&mut candidate);
    refuse_new_errors(&draft.text(), &candidate.text())
}

/// What init suggests: the folder's name, and the Git remote when there is one.
pub struct Guess {
    pub name: String,
    /// `origin` of the Git repository holding the folder, credentials removed.
    remote: Option<String>,
    /// The organisation in that remote's path (`acme` in `github.com/acme/fleet`).
    org: Option<String>,
}

impl Guess {
    pub fn new(dir: &Path) -> Self {
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

    pub fn registry(&self, name: &str) -> String {
        format!("ghcr.io/{}", self.org.as_deref().unwrap_or(name))
    }

    pub fn repository(&self, name: &str, registry: &str) -> String {
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

/// The questions of `init`, with the flags as suggestions; `None` when the user declines
/// to write. `shown` is how the file is named to the user.
pub fn ask_platform(
    args: &InitArgs,
    guess: &Guess,
    shown: &str,
) -> Result<Option<PlatformDraft>, Error> {
    let theme = &theme();
    anstream::eprintln!(
        "A few questions about your platform; the answers become {shown}.\n\
         Enter accepts the suggestion in brackets; Ctrl-C stops without writing anything.\n"
    );
    let mut draft = PlatformDraft::empty();

    let name: String = answer(
        Input::with_theme(theme)
            .with_prompt("Platform name (prefixes namespaces)")
            .default(args.name.clone().unwrap_or_else(|| guess.name.clone()))
            .validate_with(|v: &String| check(&draft, |d| d.name = Some(v.clone())))
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
            .validate_with(|v: &String| check(&draft, |d| d.registry = Some(v.clone())))
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
            .validate_with(|v: &String| check(&draft, |d| d.repository = Some(v.clone())))
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
                check(&draft, |d| {
                    d.domain = (!v.is_empty()).then(|| v.to_string())
                })
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
                check(&draft, |d| d.environments = list)
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
                    refuse_new_errors(
                        &render(None),
                        &render(Some(&ServiceDraft::new(v, Runtime::Rust))),
                    )
                })
                .interact_text(),
        )?;
        let svc = ask_service(
            ServiceDraft::new(svc_name, Runtime::Rust),
            &Known::default(),
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
    let source = Source {
        name: shown.to_string(),
        text: draft.text(),
    };
    let warnings: Vec<Diagnostic> = crate::load::load(&source)
        .diagnostics
        .into_iter()
        .filter(|d| !d.is_error())
        .collect();
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

/// Which values of a service are already known (from flags); the others are asked for.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub runtime: Option<Runtime>,
    pub owns: Option<Vec<String>>,
    pub datastore: Option<Datastore>,
    pub apis: Option<Vec<String>>,
    pub calls: Option<Vec<String>>,
}

/// The questions for one service: runtime, owned data, datastore, APIs, calls. Every answer
/// is checked by the rules on the whole file with the answer in it (`render`), so a datum
/// another service owns or a colliding API prefix is refused at the prompt.
pub fn ask_service(
    mut svc: ServiceDraft,
    known: &Known,
    others: &[String],
    render: &dyn Fn(Option<&ServiceDraft>) -> String,
) -> Result<ServiceDraft, Error> {
    let theme = &theme();
    let check = |svc: &ServiceDraft, change: &dyn Fn(&mut ServiceDraft)| {
        let mut candidate = svc.clone();
        change(&mut candidate);
        refuse_new_errors(&render(Some(svc)), &render(Some(&candidate)))
    };
    match known.runtime {
        Some(r) => svc.runtime = r,
        None => {
            let names: Vec<&str> = Runtime::ALL.iter().map(|(n, _)| *n).collect();
            let i = answer(
                Select::with_theme(theme)
                    .with_prompt(format!("Runtime of {}", svc.name))
                    .items(&names)
                    .default(index_of(svc.runtime))
                    .interact(),
            )?;
            svc.runtime = Runtime::ALL[i].1;
        }
    }
    match &known.owns {
        Some(o) => svc.owns.clone_from(o),
        None => {
            let typed: String = answer(
                Input::with_theme(theme)
                    .with_prompt("Data it owns (comma-separated, e.g. trips, routes; empty: none)")
                    .with_initial_text(svc.owns.join(", "))
                    .allow_empty(true)
                    .validate_with(|v: &String| {
                        check(&svc, &|c| c.owns = split_list(&[v.as_str()]))
                    })
                    .interact_text(),
            )?;
            svc.owns = split_list(&[typed]);
        }
    }
    match known.datastore {
        Some(d) => svc.datastore = d,
        None => {
            let names: Vec<&str> = Datastore::ALL.iter().map(|(n, _)| *n).collect();
            let default = if svc.owns.is_empty() {
                Datastore::None
            } else {
                Datastore::Postgres
            };
            loop {
                let i = answer(
                    Select::with_theme(theme)
                        .with_prompt("Its own datastore (database per service)")
                        .items(&names)
                        .default(index_of(default))
                        .interact(),
                )?;
                let chosen = Datastore::ALL[i].1;
                match check(&svc, &|c| c.datastore = chosen) {
                    Ok(()) => {
                        svc.datastore = chosen;
                        break;
                    }
                    Err(problem) => print_problems(&[problem]),
                }
            }
        }
    }
    match &known.apis {
        Some(a) => svc.apis.clone_from(a),
        None => {
            let typed: String = answer(
                Input::with_theme(theme)
                    .with_prompt(
                        "Public API prefixes (comma-separated, e.g. /trips; empty: internal only)",
                    )
                    .with_initial_text(svc.apis.join(", "))
                    .allow_empty(true)
                    .validate_with(|v: &String| {
                        check(&svc, &|c| c.apis = split_list(&[v.as_str()]))
                    })
                    .interact_text(),
            )?;
            svc.apis = split_list(&[typed]);
        }
    }
    match &known.calls {
        Some(c) => svc.calls.clone_from(c),
        None if others.is_empty() => {}
        None => {
            let checked: Vec<bool> = others.iter().map(|o| svc.calls.contains(o)).collect();
            let picked = answer(
                MultiSelect::with_theme(theme)
                    .with_prompt("Services it calls (space selects, enter confirms)")
                    .items(others)
                    .defaults(&checked)
                    .interact(),
            )?;
            svc.calls = picked.into_iter().map(|i| others[i].clone()).collect();
        }
    }
    Ok(svc)
}

fn index_of<T: Choice + PartialEq>(v: T) -> usize {
    T::ALL.iter().position(|(_, x)| *x == v).unwrap_or(0)
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
    fn lists_are_split_on_commas_and_spaces() {
        assert_eq!(split_list(&["a, b c,,d", "e"]), ["a", "b", "c", "d", "e"]);
        let items = split_list(&["a b a"]);
        assert_eq!(listed_twice(&items), Some("a"));
        assert_eq!(listed_twice(&split_list(&["a b"])), None);
    }

    #[test]
    fn only_errors_an_answer_brings_refuse_it() {
        let ok = "[platform]\nname = \"demo\"\n";
        // The file is incomplete already: that alone refuses nothing.
        assert_eq!(refuse_new_errors(ok, ok), Ok(()));
        let bad = "[platform]\nname = \"Not A Label\"\n";
        let refused = refuse_new_errors(ok, bad).expect_err("a bad name is refused");
        assert!(refused.contains("DNS-1123"), "{refused}");
        assert_eq!(refuse_new_errors(bad, bad), Ok(()));
    }
}
