//! Three-way merge of a generated file: the base bulkhead last wrote, the user's file, and
//! the new render. Conflicts are marked the way git does, labelled `yours` / `bulkhead`.

use diffy::{ConflictStyle, IncompleteHunkStyle, MergeOptions};

pub const YOURS: &str = "<<<<<<< yours";
pub const SEPARATOR: &str = "=======";
pub const BULKHEAD: &str = ">>>>>>> bulkhead";

pub enum Merged {
    Clean(String),
    Conflicts(String),
}

pub fn merge(base: &str, yours: &str, bulkhead: &str) -> Merged {
    let mut options = MergeOptions::new();
    options
        .set_conflict_style(ConflictStyle::Merge)
        .set_incomplete_hunk_style(IncompleteHunkStyle::Git);
    match options.merge(base, yours, bulkhead) {
        Ok(text) => Merged::Clean(text),
        Err(text) => Merged::Conflicts(relabel(&text)),
    }
}

/// diffy labels the sides `ours` / `theirs`; name them for the reader.
fn relabel(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        match body {
            "<<<<<<< ours" => out.push_str(YOURS),
            ">>>>>>> theirs" => out.push_str(BULKHEAD),
            _ => out.push_str(body),
        }
        out.push_str(end);
    }
    out
}

/// One stretch of a three-way merge: lines both sides agree on (after the merge), or a
/// region where both changed the same lines of the base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    Clean(String),
    Conflict {
        base: String,
        yours: String,
        bulkhead: String,
    },
}

/// The line merge as chunks, for callers that resolve conflicts themselves. None when
/// the merge is clean, or when a side ends without a newline inside a conflict (its
/// text could not be given back byte for byte).
pub fn chunks(base: &str, yours: &str, bulkhead: &str) -> Option<Vec<Chunk>> {
    // Markers long enough never to be mistaken for lines of a real file.
    const LEN: usize = 41;
    let (open, mid, sep, close) = (
        format!("{} ours", "<".repeat(LEN)),
        format!("{} original", "|".repeat(LEN)),
        "=".repeat(LEN),
        format!("{} theirs", ">".repeat(LEN)),
    );
    let mut options = MergeOptions::new();
    options
        .set_conflict_style(ConflictStyle::Diff3)
        .set_incomplete_hunk_style(IncompleteHunkStyle::Git)
        .set_conflict_marker_length(LEN);
    let text = options.merge(base, yours, bulkhead).err()?;
    if [base, yours, bulkhead]
        .iter()
        .any(|t| !t.is_empty() && !t.ends_with('\n'))
    {
        return None;
    }
    let mut out = Vec::new();
    let mut clean = String::new();
    // 0: clean, 1: yours, 2: base, 3: bulkhead.
    let mut part = 0;
    let mut sides = [String::new(), String::new(), String::new()];
    for line in text.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        match (part, body) {
            (0, b) if b == open => {
                if !clean.is_empty() {
                    out.push(Chunk::Clean(std::mem::take(&mut clean)));
                }
                part = 1;
            }
            (1, b) if b == mid => part = 2,
            (2, b) if b == sep => part = 3,
            (3, b) if b == close => {
                let [yours, base, bulkhead] = std::mem::take(&mut sides);
                out.push(Chunk::Conflict {
                    base,
                    yours,
                    bulkhead,
                });
                part = 0;
            }
            (0, _) => clean.push_str(line),
            (n, _) => sides[n - 1].push_str(line),
        }
    }
    if part != 0 {
        return None;
    }
    if !clean.is_empty() {
        out.push(Chunk::Clean(clean));
    }
    Some(out)
}

/// A file that still holds markers of a conflict bulkhead wrote.
pub fn has_markers(text: &str) -> bool {
    let mut open = false;
    for line in text.lines() {
        if line == YOURS {
            open = true;
        } else if open && line == BULKHEAD {
            return true;
        }
    }
    false
}

/// Both sides in full, for a file bulkhead has never written (no base to merge from).
pub fn whole_file_conflict(yours: &str, bulkhead: &str) -> String {
    let mut out = String::new();
    out.push_str(YOURS);
    out.push('\n');
    out.push_str(yours);
    if !yours.is_empty() && !yours.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(SEPARATOR);
    out.push('\n');
    out.push_str(bulkhead);
    if !bulkhead.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(BULKHEAD);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separate_edits_merge_cleanly() {
        let base = "a\nb\nc\nd\ne\n";
        let yours = "a\nB\nc\nd\ne\n";
        let new = "a\nb\nc\nd\nE\n";
        match merge(base, yours, new) {
            Merged::Clean(t) => assert_eq!(t, "a\nB\nc\nd\nE\n"),
            Merged::Conflicts(t) => panic!("{t}"),
        }
    }

    #[test]
    fn overlapping_edits_are_marked() {
        match merge("a\nb\nc\n", "a\nmine\nc\n", "a\nnew\nc\n") {
            Merged::Conflicts(t) => {
                assert_eq!(
                    t,
                    "a\n<<<<<<< yours\nmine\n=======\nnew\n>>>>>>> bulkhead\nc\n"
                );
                assert!(has_markers(&t));
            }
            Merged::Clean(t) => panic!("{t}"),
        }
    }

    #[test]
    fn chunks_give_each_side_of_a_conflict() {
        let chunks = chunks("a\nb\nc\n", "a\nmine\nc\n", "a\nnew\nc\n").unwrap();
        assert_eq!(
            chunks,
            [
                Chunk::Clean("a\n".into()),
                Chunk::Conflict {
                    base: "b\n".into(),
                    yours: "mine\n".into(),
                    bulkhead: "new\n".into()
                },
                Chunk::Clean("c\n".into()),
            ]
        );
        assert_eq!(chunks_clean_none(), None);
    }

    fn chunks_clean_none() -> Option<Vec<Chunk>> {
        chunks("a\n", "a\n", "b\n")
    }

    #[test]
    fn whole_file() {
        assert_eq!(
            whole_file_conflict("x", "y\n"),
            "<<<<<<< yours\nx\n=======\ny\n>>>>>>> bulkhead\n"
        );
        assert!(!has_markers("<<<<<<< yours\n"));
    }
}
