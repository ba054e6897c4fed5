//! Long text for a person at a terminal goes through their pager: `BULKHEAD_PAGER`, else
//! `PAGER`, else `less` (with `LESS=FRX` unless `LESS` is set, as Git does: a text that
//! fits the screen is printed and stays there). Knows nothing of what the text says;
//! callers decide whether paging is wanted (`--no-pager`, `-q`) and print plainly when
//! [`show`] did not.

use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};

/// A buffer to write coloured text into, with colours decided as for stdout (`--color`,
/// `NO_COLOR`, whether stdout is a terminal): the pager gets what the terminal would.
pub fn buffer() -> anstream::AutoStream<Vec<u8>> {
    let choice = anstream::AutoStream::choice(&std::io::stdout());
    anstream::AutoStream::new(Vec::new(), choice)
}

/// Shows `text` through the pager when stdout is a terminal and a pager is configured
/// and starts. Returns whether it did; when not, the caller prints `text` itself.
pub fn show(text: &[u8]) -> bool {
    if !std::io::stdout().is_terminal() {
        return false;
    }
    let Some(mut command) = command() else {
        return false;
    };
    let Ok(mut child) = command.stdin(Stdio::piped()).spawn() else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A pager quit before the end closes the pipe: that is the reader's choice, not
        // an error. Dropping stdin tells the pager the text is complete.
        let _ = stdin.write_all(text).and_then(|()| stdin.flush());
    }
    match child.wait() {
        // The shell found no such command (127) or could not run it (126): it never
        // showed anything.
        Ok(status) => !matches!(status.code(), Some(126 | 127)),
        Err(_) => true,
    }
}

/// The pager to run; none when the chosen variable is set but empty.
fn command() -> Option<Command> {
    for var in ["BULKHEAD_PAGER", "PAGER"] {
        if let Some(value) = std::env::var_os(var) {
            let value = value.to_string_lossy().trim().to_string();
            return (!value.is_empty()).then(|| user_command(&value));
        }
    }
    let mut less = Command::new("less");
    if std::env::var_os("LESS").is_none() {
        less.env("LESS", "FRX");
    }
    Some(less)
}

/// A pager given as text: words run directly; anything a shell must read (quotes,
/// pipes, variables) runs through `sh -c`.
fn user_command(text: &str) -> Command {
    let needs_shell = text.contains(|c: char| "|&;<>()$`\\\"'*?[#~=%{}".contains(c));
    if needs_shell && cfg!(unix) {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(text);
        return sh;
    }
    let mut words = text.split_whitespace();
    let mut command = Command::new(words.next().unwrap_or("less"));
    command.args(words);
    command
}
