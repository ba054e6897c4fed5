//! How plan and apply show a plan to a person: the summary and the list of files first,
//! new files as a list with their line counts (their contents with `--diff`), diffs of
//! existing files after the list; on a terminal through the pager, and apply's question
//! only after the pager has exited.

use std::path::{Path, PathBuf};
use std::time::Duration;

use expectrl::session::OsSession as Session;
use expectrl::{Eof, Expect};

use crate::common::{bulkhead, example, minimal, platform, read_tree};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run(dir: &Path, args: &[&str]) -> String {
    let out = bulkhead(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

/// The index of the first line starting with `prefix`.
fn line_of(text: &str, prefix: &str) -> Option<usize> {
    text.lines().position(|l| l.starts_with(prefix))
}

#[test]
fn a_first_plan_is_a_summary_and_a_list_of_new_files_with_their_sizes() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let spec = example("fleet");
    let spec = spec.to_str().unwrap();
    let text = run(
        work.path(),
        &["plan", "-f", spec, "-o", out.to_str().unwrap()],
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("Plan: ") && lines[0].contains(" to create, "),
        "the summary comes first: {}",
        lines[0]
    );
    assert!(
        !text.contains("+++ b/"),
        "no contents of new files:\n{text}"
    );
    assert!(
        text.contains("`--diff` shows their contents"),
        "says how to see them:\n{text}"
    );

    // Every generated file is on the list with the number of lines apply writes.
    bulkhead(work.path())
        .args(["apply", "--yes", "-q", "-f", spec, "-o"])
        .arg(&out)
        .assert()
        .success();
    let tree = read_tree(&out);
    let generated: Vec<_> = tree
        .iter()
        .filter(|(p, _)| !p.starts_with(".bulkhead/"))
        .collect();
    for (path, content) in &generated {
        let n = content.lines().count();
        let entry = format!("create {path} ({n} line{})", if n == 1 { "" } else { "s" });
        assert!(
            lines.iter().any(|l| l.trim_start() == entry),
            "{entry:?} missing"
        );
    }
    // One line per file and a few more: a screen's worth of reading, not thousands.
    assert!(
        lines.len() <= generated.len() + 4,
        "{} lines for {} files",
        lines.len(),
        generated.len()
    );
}

#[test]
fn changed_files_show_their_diffs_after_the_summary_and_the_list() {
    let dir = platform(&minimal(""));
    run(dir.path(), &["apply", "--yes", "-q"]);
    std::fs::write(
        dir.path().join("service.toml"),
        minimal("port = 9000\n\n[services.worker]\nruntime = \"python\"\n"),
    )
    .unwrap();
    let text = run(dir.path(), &["plan"]);
    let summary = line_of(&text, "Plan: ").expect("a summary");
    let entry = line_of(&text, "   update deploy/base/api/service.yaml (+").expect("listed");
    let new = line_of(&text, "   create deploy/base/worker/service.yaml (").expect("listed");
    let diff = line_of(&text, "--- a/deploy/base/api/service.yaml").expect("its diff");
    let last_entry = text
        .lines()
        .collect::<Vec<_>>()
        .iter()
        .rposition(|l| l.starts_with("   create ") || l.starts_with("   update "))
        .unwrap();
    let first_diff = line_of(&text, "--- a/").unwrap();
    assert_eq!(summary, 0, "{text}");
    assert!(summary < entry && entry < diff && new < diff, "{text}");
    assert!(
        last_entry < first_diff,
        "the whole list before any diff:\n{text}"
    );
    assert!(
        text[text.find("--- a/deploy/base/api/service.yaml").unwrap()..]
            .contains("-      targetPort: 8080\n+      targetPort: 9000\n"),
        "{text}"
    );
    assert!(
        !text.contains("+++ b/deploy/base/worker/service.yaml"),
        "a new file is listed, not shown:\n{text}"
    );
    assert!(
        text.lines().last().unwrap().starts_with("Plan: "),
        "after the diffs, the summary again:\n{text}"
    );
}

#[test]
fn diff_shows_the_contents_of_new_files() {
    let dir = platform(&minimal(""));
    let text = run(dir.path(), &["plan", "--diff"]);
    let content = bulkhead::render::Renderer::new(bulkhead::render::Blueprints::builtin())
        .unwrap()
        .render(&crate::common::model_of_file(
            &dir.path().join("service.toml"),
        ))
        .unwrap();
    let dockerfile = &content["services/api/Dockerfile"];
    let shown: String = dockerfile.lines().map(|l| format!("+{l}\n")).collect();
    assert!(text.contains(&shown), "the whole new file:\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    let last_entry = lines
        .iter()
        .rposition(|l| l.starts_with("   create "))
        .unwrap();
    assert!(last_entry < line_of(&text, "+++ b/").unwrap(), "{text}");
    assert!(!text.contains("`--diff` shows"), "{text}");
    // apply takes the flag too.
    let applied = run(dir.path(), &["apply", "--yes", "--diff"]);
    assert!(applied.contains(&shown), "{applied}");
}

#[test]
fn quiet_lists_actions_and_the_summary_only() {
    let dir = platform(&minimal(""));
    let text = run(dir.path(), &["plan", "-q"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.last().unwrap().starts_with("Plan: "), "{text}");
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| l.starts_with("   create ") && !l.contains('(')),
        "{text}"
    );
}

#[test]
fn json_gives_the_line_count_of_what_apply_writes() {
    let dir = platform(&minimal(""));
    let out = bulkhead(dir.path())
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    run(dir.path(), &["apply", "--yes", "-q"]);
    for change in plan["changes"].as_array().unwrap() {
        let path = change["path"].as_str().unwrap();
        let text = std::fs::read_to_string(dir.path().join(path)).unwrap();
        assert_eq!(change["lines"], text.lines().count(), "{path}");
        assert!(change["diff"].as_str().unwrap().contains("+++ b/"));
    }
}

/// A pager that records what it is given in `record`, then says it is done on the
/// terminal, a moment later.
fn recording_pager(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let record = dir.join(format!("{name}.txt"));
    let script = dir.join(format!("{name}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > '{}'\nsleep 0.3\necho PAGER-EXITED\n",
            record.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (script, record)
}

/// The binary in a pseudo-terminal of its own, with `env` set.
fn spawn(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Session {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("bulkhead"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm-256color")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("PAGER")
        .env_remove("BULKHEAD_PAGER")
        .env_remove("LESS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut session = Session::spawn(cmd).expect("spawn in a pty");
    let _ = session.get_process_mut().set_window_size(120, 40);
    session.set_expect_timeout(Some(Duration::from_secs(60)));
    session
}

/// Everything the terminal showed until the end, and the exit status.
fn finish(mut p: Session) -> (String, String) {
    let out = p.expect(Eof).expect("the command ends");
    let status = p.get_process().wait().expect("exit status");
    let mut all = out.before().to_vec();
    all.extend(out.get(0).unwrap_or_default());
    (
        String::from_utf8_lossy(&all).into_owned(),
        format!("{status:?}"),
    )
}

#[cfg(unix)]
#[test]
fn on_a_terminal_the_plan_goes_through_the_pager() {
    let dir = platform(&minimal(""));
    let tools = tempfile::tempdir().unwrap();
    let (pager, record) = recording_pager(tools.path(), "pager");
    let p = spawn(dir.path(), &["plan"], &[("PAGER", &pager)]);
    let (screen, status) = finish(p);
    assert!(status.ends_with(", 0)"), "{status}: {screen}");
    assert!(screen.contains("PAGER-EXITED"), "{screen}");
    assert!(
        !screen.contains("Plan: "),
        "the plan went to the pager only:\n{screen}"
    );
    let paged = std::fs::read_to_string(&record).expect("the pager ran");
    assert!(paged.starts_with("Plan: "), "{paged}");
    assert!(
        paged.contains("create services/api/Dockerfile ("),
        "{paged}"
    );

    // BULKHEAD_PAGER comes first; colours reach the pager as they would the terminal.
    let (own, own_record) = recording_pager(tools.path(), "own");
    let missing = tools.path().join("no-such-pager");
    let p = spawn(
        dir.path(),
        &["plan", "--color", "always"],
        &[("PAGER", &missing), ("BULKHEAD_PAGER", &own)],
    );
    finish(p);
    let paged = std::fs::read_to_string(&own_record).expect("BULKHEAD_PAGER ran");
    assert!(paged.contains("\x1b["), "coloured: {paged:?}");

    // --no-pager and -q print straight to the terminal.
    for flag in ["--no-pager", "-q"] {
        let _ = std::fs::remove_file(&record);
        let p = spawn(dir.path(), &["plan", flag], &[("PAGER", &pager)]);
        let (screen, status) = finish(p);
        assert!(status.ends_with(", 0)"), "{status}: {screen}");
        assert!(screen.contains("Plan: "), "{flag}: {screen}");
        assert!(!record.exists(), "{flag}: no pager");
    }

    // A pager that cannot start: the plan is printed as it is.
    for broken in [missing.to_str().unwrap(), "no-such-pager 'quoted words'"] {
        let p = spawn(dir.path(), &["plan"], &[("PAGER", Path::new(broken))]);
        let (screen, status) = finish(p);
        assert!(status.ends_with(", 0)"), "{broken}: {status}: {screen}");
        assert!(
            screen.contains("create services/api/Dockerfile ("),
            "{broken}: {screen}"
        );
    }
}

#[cfg(unix)]
#[test]
fn without_a_terminal_there_is_no_pager() {
    let dir = platform(&minimal(""));
    let tools = tempfile::tempdir().unwrap();
    let (pager, record) = recording_pager(tools.path(), "pager");
    let text = stdout(
        &bulkhead(dir.path())
            .env("PAGER", &pager)
            .arg("plan")
            .output()
            .unwrap(),
    );
    assert!(text.starts_with("Plan: "), "{text}");
    assert!(!record.exists());
}

#[cfg(unix)]
#[test]
fn the_default_pager_is_less_with_frx_unless_less_is_set() {
    let dir = platform(&minimal(""));
    let tools = tempfile::tempdir().unwrap();
    let seen = tools.path().join("less-env.txt");
    let less = tools.path().join("less");
    std::fs::write(
        &less,
        format!(
            "#!/bin/sh\necho \"LESS=$LESS\" > '{}'\ncat >> '{}'\n",
            seen.display(),
            seen.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&less, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let path = PathBuf::from(path);
    finish(spawn(dir.path(), &["plan"], &[("PATH", &path)]));
    let got = std::fs::read_to_string(&seen).expect("less ran");
    assert!(got.starts_with("LESS=FRX\nPlan: "), "{got}");
    finish(spawn(
        dir.path(),
        &["plan"],
        &[("PATH", &path), ("LESS", Path::new("-S"))],
    ));
    let got = std::fs::read_to_string(&seen).unwrap();
    assert!(got.starts_with("LESS=-S\nPlan: "), "{got}");
}

#[cfg(unix)]
#[test]
fn apply_asks_only_after_the_pager_has_exited() {
    let dir = platform(&minimal(""));
    let tools = tempfile::tempdir().unwrap();
    let (pager, record) = recording_pager(tools.path(), "pager");
    let mut p = spawn(dir.path(), &["apply"], &[("PAGER", &pager)]);
    let before = p.expect("PAGER-EXITED").expect("the pager runs");
    let shown = String::from_utf8_lossy(before.before()).into_owned();
    assert!(
        !shown.contains("Write these changes"),
        "no question while the pager runs: {shown}"
    );
    let paged = std::fs::read_to_string(&record).expect("the pager ran");
    assert!(paged.starts_with("Plan: "), "{paged}");
    assert!(
        paged.contains("create deploy/base/api/deployment.yaml ("),
        "{paged}"
    );
    p.expect("Write these changes to")
        .expect("then the question");
    p.send("y").unwrap();
    let (screen, status) = finish(p);
    assert!(status.ends_with(", 0)"), "{status}: {screen}");
    assert!(screen.contains("Wrote "), "{screen}");
    assert!(dir.path().join("deploy/base/api/deployment.yaml").is_file());
}
