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
    fn whole_file() {
        assert_eq!(
            whole_file_conflict("x", "y\n"),
            "<<<<<<< yours\nx\n=======\ny\n>>>>>>> bulkhead\n"
        );
        assert!(!has_markers("<<<<<<< yours\n"));
    }
}
