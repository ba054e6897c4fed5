//! Merging YAML and JSON by structure where the line merge found conflicts: both sides
//! adding different keys to one mapping, or differently keyed items to one keyed list, is
//! no conflict at all. The merge of the data decides; the text keeps every line of the
//! user's file and is accepted only when it parses to exactly that merged data.
//! Anything else stays a conflict with markers.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::merge::Chunk;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    pub fn of(path: &str) -> Option<Self> {
        let name = path.rsplit('/').next()?;
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            Some(Self::Yaml)
        } else if name.ends_with(".json") {
            Some(Self::Json)
        } else {
            None
        }
    }
}

/// What each side added where both changed the same mapping or keyed list: why the
/// merge needed the structure.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Added {
    pub yours: Vec<String>,
    pub bulkhead: Vec<String>,
}

/// The documents of a file, or none when it is not strictly valid (a duplicate key, a
/// key that is not a string, a tag or value JSON cannot hold).
pub fn parse(format: Format, text: &str) -> Option<Vec<Value>> {
    match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let Strict(value) = Strict::deserialize(&mut de).ok()?;
            de.end().ok()?;
            Some(vec![value])
        }
        Format::Yaml => serde_yaml_ng::Deserializer::from_str(text)
            .map(|doc| Strict::deserialize(doc).ok().map(|Strict(v)| v))
            .collect(),
    }
}

/// A merge of conflicting lines settled by structure: the text to write and why.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub text: String,
    pub added: Added,
}

/// Settles the conflicts of a line merge when the structure decides them; none when it
/// does not (a true conflict, a file that does not parse, or no text that keeps all of
/// the user's lines and equals the merged data).
pub fn resolve(format: Format, base: &str, yours: &str, bulkhead: &str) -> Option<Resolved> {
    let docs = |text: &str| parse(format, text);
    let (b, y, n) = (docs(base)?, docs(yours)?, docs(bulkhead)?);
    let mut added = Added::default();
    let want = merge_documents(&b, &y, &n, &mut added).ok()?;
    let accept = |text: &str| docs(text).as_ref() == Some(&want);
    let text = super::merge::chunks(base, yours, bulkhead)
        .and_then(|chunks| resolve_text(&chunks, accept))
        .or_else(|| {
            // JSON: an item appended after the last one puts a comma on that line; merged
            // without the commas at line ends, then written with them where JSON needs them.
            (format == Format::Json).then_some(())?;
            let [b, y, n] = [base, yours, bulkhead].map(strip_commas);
            let fixed = match super::merge::merge(&b, &y, &n) {
                super::merge::Merged::Clean(text) => Some(place_commas(&text)),
                super::merge::Merged::Conflicts(_) => {
                    let chunks = super::merge::chunks(&b, &y, &n)?;
                    resolve_text(&chunks, |t| accept(&place_commas(t))).map(|t| place_commas(&t))
                }
            }?;
            accept(&fixed).then_some(fixed)
        })?;
    Some(Resolved { text, added })
}

/// JSON text without the comma at the end of any line.
fn strip_commas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end();
        match body.strip_suffix(',') {
            Some(kept) => {
                out.push_str(kept);
                out.push_str(&line[body.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// A comma at the end of every line JSON needs one on: followed by another value or
/// member, not by the end of its object or array.
fn place_commas(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len() + 64);
    for (i, line) in lines.iter().enumerate() {
        let body = line.trim_end();
        let next = lines[i + 1..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty());
        let needs = next.is_some_and(|n| !n.starts_with(['}', ']']))
            && !body.is_empty()
            && !body.ends_with(['{', '[', ',', ':']);
        out.push_str(body);
        if needs {
            out.push(',');
        }
        out.push_str(&line[body.len()..]);
    }
    out
}

/// Tries the ways of joining each conflict's two sides that keep all of the user's
/// lines in order, and returns the first text `accept` takes.
fn resolve_text(chunks: &[Chunk], accept: impl Fn(&str) -> bool) -> Option<String> {
    const MAX_TRIES: usize = 1024;
    let options: Vec<Vec<String>> = chunks
        .iter()
        .map(|c| match c {
            Chunk::Clean(text) => vec![text.clone()],
            Chunk::Conflict {
                base,
                yours,
                bulkhead,
            } => joins(base, yours, bulkhead),
        })
        .collect();
    let tries: usize = options
        .iter()
        .map(Vec::len)
        .try_fold(1usize, |n, k| n.checked_mul(k))
        .unwrap_or(usize::MAX);
    if tries <= MAX_TRIES {
        // Every combination, first options first.
        let mut pick = vec![0; options.len()];
        loop {
            let text: String = pick.iter().zip(&options).map(|(&i, o)| &*o[i]).collect();
            if accept(&text) {
                return Some(text);
            }
            let mut i = options.len();
            loop {
                if i == 0 {
                    return None;
                }
                i -= 1;
                pick[i] += 1;
                if pick[i] < options[i].len() {
                    break;
                }
                pick[i] = 0;
            }
        }
    }
    // Too many: the same way of joining for every conflict.
    let ways = options.iter().map(Vec::len).max().unwrap_or(0);
    (0..ways).find_map(|way| {
        let text: String = options.iter().map(|o| &*o[way.min(o.len() - 1)]).collect();
        accept(&text).then_some(text)
    })
}

/// The candidate texts for one conflict: the same change once; both sides' line edits
/// of the base applied together (where they touch different lines); yours then
/// bulkhead's; and the same with the lines both sides share at the start and/or end
/// written once. All keep the user's new lines in their order.
fn joins(base: &str, yours: &str, bulkhead: &str) -> Vec<String> {
    if yours == bulkhead {
        return vec![yours.to_string()];
    }
    // Yours first, then bulkhead's first (an item appended to a nested list at the end of
    // its parent, beside a key the user added to the parent).
    let mut out = one_way(base, yours, bulkhead);
    out.extend(one_way(base, bulkhead, yours));
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.clone()));
    out
}

fn one_way(base: &str, yours: &str, bulkhead: &str) -> Vec<String> {
    let y: Vec<&str> = yours.split_inclusive('\n').collect();
    let n: Vec<&str> = bulkhead.split_inclusive('\n').collect();
    let prefix = y.iter().zip(&n).take_while(|(a, b)| a == b).count();
    let rest = y.len().min(n.len()) - prefix;
    let suffix = y
        .iter()
        .rev()
        .zip(n.iter().rev())
        .take(rest)
        .take_while(|(a, b)| a == b)
        .count();
    let join = |p: usize, s: usize| -> String {
        let mut out = String::new();
        out.extend(y[..y.len() - s].iter().copied());
        out.extend(n[p..n.len() - s].iter().copied());
        out.extend(y[y.len() - s..].iter().copied());
        out
    };
    let mut out = both_edits(base, yours, bulkhead);
    out.extend([
        join(0, 0),
        join(prefix, suffix),
        join(prefix, 0),
        join(0, suffix),
    ]);
    // JSON: both appended to one array, the user's last item lacking the comma that now
    // separates it from bulkhead's.
    if let Some(last) = y.last().map(|l| l.trim_end())
        && !last.ends_with(',')
        && !last.is_empty()
    {
        let mut text = y[..y.len() - 1].concat();
        text.push_str(last);
        text.push_str(",\n");
        out.push(text + &n[prefix..].concat());
    }
    // Bulkhead's lines between two of the user's (a list item the user's new key follows).
    for k in 1..y.len() {
        out.push(y[..k].concat() + bulkhead + &y[k..].concat());
    }
    out
}

/// The base with both sides' line edits applied, when no base line is rewritten by both:
/// at each place, the lines the user inserted come first, then bulkhead's, then the base
/// line (or what replaces it).
fn both_edits(base: &str, yours: &str, bulkhead: &str) -> Vec<String> {
    use similar::{DiffOp, TextDiff};

    let lines: Vec<&str> = base.split_inclusive('\n').collect();
    // For each side: lines inserted before base line i (i = len: at the end); and for a
    // base line it removes, what replaces the stretch starting there (possibly nothing).
    struct Edits<'a> {
        before: Vec<Vec<&'a str>>,
        removed: Vec<bool>,
        replaced: Vec<Vec<&'a str>>,
    }
    fn edits<'a>(base: &str, count: usize, side: &'a str) -> Edits<'a> {
        let lines = vec![(); count];
        let mut e = Edits {
            before: vec![Vec::new(); lines.len() + 1],
            removed: vec![false; lines.len()],
            replaced: vec![Vec::new(); lines.len()],
        };
        let new: Vec<&str> = side.split_inclusive('\n').collect();
        for op in TextDiff::from_lines(base, side).ops() {
            let (old, added) = (op.old_range(), &new[op.new_range()]);
            match op {
                DiffOp::Equal { .. } => {}
                DiffOp::Insert { .. } => e.before[old.start].extend(added),
                DiffOp::Delete { .. } | DiffOp::Replace { .. } => {
                    // More lines than it replaces: the first ones count as inserted.
                    let extra = added.len().saturating_sub(old.len());
                    e.before[old.start].extend(&added[..extra]);
                    e.removed[old.clone()].fill(true);
                    e.replaced[old.start].extend(&added[extra..]);
                }
            }
        }
        e
    }
    let (y, n) = (
        edits(base, lines.len(), yours),
        edits(base, lines.len(), bulkhead),
    );
    // Where both insert at one place, bulkhead's lines go after the first `k` of the
    // user's (all of them first, then each earlier split).
    let most = y.before.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for k in (0..=most).rev() {
        let mut text = String::new();
        for i in 0..=lines.len() {
            let (mine, new) = (&y.before[i], &n.before[i]);
            let split = k.min(mine.len());
            text.extend(mine[..split].iter().copied());
            if new != mine {
                text.extend(new.iter().copied());
            }
            text.extend(mine[split..].iter().copied());
            if i == lines.len() {
                break;
            }
            match (y.removed[i], n.removed[i]) {
                (false, false) => text.push_str(lines[i]),
                (true, true) if y.replaced[i] != n.replaced[i] => return out,
                (true, _) => text.extend(y.replaced[i].iter().copied()),
                (false, true) => text.extend(n.replaced[i].iter().copied()),
            }
        }
        out.push(text);
    }
    out
}

/// A structural conflict: where both sides changed the same thing differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict(pub String);

/// The three-way merge of a file's documents, matched by kind and metadata.name (or by
/// position when they have none).
pub fn merge_documents(
    base: &[Value],
    yours: &[Value],
    bulkhead: &[Value],
    added: &mut Added,
) -> Result<Vec<Value>, Conflict> {
    let single = base.len() <= 1 && yours.len() <= 1 && bulkhead.len() <= 1;
    if single && !yours.is_empty() && !bulkhead.is_empty() {
        let merged = merge_value("", base.first(), yours.first(), bulkhead.first(), added)?;
        return Ok(merged.into_iter().collect());
    }
    if let Some(merged) = merge_keyed("", base, yours, bulkhead, &document_key, added) {
        return merged;
    }
    if base.len() == yours.len() && yours.len() == bulkhead.len() {
        let mut out = Vec::new();
        for ((b, y), n) in base.iter().zip(yours).zip(bulkhead) {
            let path = format!("[{}]", out.len());
            out.extend(merge_value(&path, Some(b), Some(y), Some(n), added)?);
        }
        return Ok(out);
    }
    whole(base, yours, bulkhead).ok_or_else(|| Conflict("documents".into()))
}

/// The side that changed, when at most one did.
fn whole<T: PartialEq + Clone>(base: &[T], yours: &[T], bulkhead: &[T]) -> Option<Vec<T>> {
    if yours == bulkhead || bulkhead == base {
        Some(yours.to_vec())
    } else if yours == base {
        Some(bulkhead.to_vec())
    } else {
        None
    }
}

fn document_key(doc: &Value) -> Option<String> {
    let kind = doc.get("kind")?.as_str()?;
    let name = doc.get("metadata")?.get("name")?.as_str()?;
    Some(format!("{kind}/{name}"))
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Three-way merge of one value (absent on a side: deleted there, or never there).
fn merge_value(
    path: &str,
    base: Option<&Value>,
    yours: Option<&Value>,
    bulkhead: Option<&Value>,
    added: &mut Added,
) -> Result<Option<Value>, Conflict> {
    if yours == bulkhead || bulkhead == base {
        return Ok(yours.cloned());
    }
    if yours == base {
        return Ok(bulkhead.cloned());
    }
    let conflict = || Conflict(if path.is_empty() { "." } else { path }.to_string());
    match (base, yours, bulkhead) {
        (None | Some(Value::Object(_)), Some(Value::Object(y)), Some(Value::Object(n))) => {
            let empty = Map::new();
            let b = base.and_then(Value::as_object).unwrap_or(&empty);
            merge_maps(path, b, y, n, added).map(|m| Some(Value::Object(m)))
        }
        (None | Some(Value::Array(_)), Some(Value::Array(y)), Some(Value::Array(n))) => {
            let b = base
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            let key = list_key([b, y, n]).ok_or_else(conflict)?;
            let key_of = |item: &Value| item.get(key).and_then(scalar_key);
            let merged = merge_keyed(path, b, y, n, &key_of, added).ok_or_else(conflict)??;
            Ok(Some(Value::Array(merged)))
        }
        _ => Err(conflict()),
    }
}

fn merge_maps(
    path: &str,
    base: &Map<String, Value>,
    yours: &Map<String, Value>,
    bulkhead: &Map<String, Value>,
    added: &mut Added,
) -> Result<Map<String, Value>, Conflict> {
    let mut out = Map::new();
    let keys = yours
        .keys()
        .chain(bulkhead.keys().filter(|k| !yours.contains_key(*k)))
        .chain(
            base.keys()
                .filter(|k| !yours.contains_key(*k) && !bulkhead.contains_key(*k)),
        );
    for key in keys {
        let at = child(path, key);
        let (b, y, n) = (base.get(key), yours.get(key), bulkhead.get(key));
        note_added(&at, b.is_some(), y.is_some(), n.is_some(), added);
        if let Some(v) = merge_value(&at, b, y, n, added)? {
            out.insert(key.clone(), v);
        }
    }
    Ok(out)
}

fn note_added(at: &str, base: bool, yours: bool, bulkhead: bool, added: &mut Added) {
    match (base, yours, bulkhead) {
        (false, true, false) => added.yours.push(at.to_string()),
        (false, false, true) => added.bulkhead.push(at.to_string()),
        _ => {}
    }
}

/// Keys Kubernetes and Grafana lists are identified by, in order of preference.
const LIST_KEYS: [&str; 5] = ["name", "containerPort", "mountPath", "id", "title"];

/// The field identifying every item of all three lists, unique within each.
fn list_key(lists: [&[Value]; 3]) -> Option<&'static str> {
    if lists.iter().all(|l| l.is_empty()) {
        return None;
    }
    LIST_KEYS.into_iter().find(|key| {
        lists.iter().all(|list| {
            let mut seen = std::collections::HashSet::new();
            list.iter().all(|item| {
                item.get(key)
                    .and_then(scalar_key)
                    .is_some_and(|k| seen.insert(k))
            })
        })
    })
}

fn scalar_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Merges lists whose items `key_of` identifies; none when some item has no key or a
/// key repeats. Items keep the user's order; an item only bulkhead added follows the
/// item it follows in bulkhead's list, after any the user added there.
fn merge_keyed(
    path: &str,
    base: &[Value],
    yours: &[Value],
    bulkhead: &[Value],
    key_of: &dyn Fn(&Value) -> Option<String>,
    added: &mut Added,
) -> Option<Result<Vec<Value>, Conflict>> {
    let index = |list: &[Value]| -> Option<indexmap::IndexMap<String, Value>> {
        let mut map = indexmap::IndexMap::new();
        for item in list {
            if map.insert(key_of(item)?, item.clone()).is_some() {
                return None;
            }
        }
        Some(map)
    };
    let (b, y, n) = (index(base)?, index(yours)?, index(bulkhead)?);
    Some((|| {
        let mut merged: Vec<(String, Value, bool)> = Vec::new();
        for (key, item) in &y {
            let at = format!("{path}[{key}]");
            note_added(&at, b.contains_key(key), true, n.contains_key(key), added);
            if let Some(v) = merge_value(&at, b.get(key), Some(item), n.get(key), added)? {
                merged.push((key.clone(), v, !b.contains_key(key)));
            }
        }
        let mut previous: Option<&String> = None;
        for (key, item) in &n {
            if !y.contains_key(key) {
                let at = format!("{path}[{key}]");
                note_added(&at, b.contains_key(key), false, true, added);
                if let Some(v) = merge_value(&at, b.get(key), None, Some(item), added)? {
                    let mut at = previous
                        .and_then(|p| merged.iter().position(|(k, ..)| k == p))
                        .map_or(0, |i| i + 1);
                    while at < merged.len() && merged[at].2 {
                        at += 1;
                    }
                    merged.insert(at, (key.clone(), v, false));
                }
            }
            previous = Some(key);
        }
        Ok(merged.into_iter().map(|(_, v, _)| v).collect())
    })())
}

/// A value as JSON sees it, with every mapping's keys unique.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-compatible value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Strict::deserialize(d).map(|Strict(v)| v)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(v) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key}")));
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn yaml(base: &str, yours: &str, bulkhead: &str) -> Option<Resolved> {
        resolve(Format::Yaml, base, yours, bulkhead)
    }

    #[test]
    fn new_keys_of_one_mapping_are_both_kept() {
        let base = "metadata:\n  labels:\n    a: \"1\"\nspec: {}\n";
        let yours = "metadata:\n  labels:\n    a: \"1\"\n    team: books # ours\nspec: {}\n";
        let new = "metadata:\n  labels:\n    a: \"1\"\n    tier: api\nspec: {}\n";
        let r = yaml(base, yours, new).unwrap();
        assert_eq!(
            r.text,
            "metadata:\n  labels:\n    a: \"1\"\n    team: books # ours\n    tier: api\nspec: {}\n"
        );
        assert_eq!(r.added.yours, ["metadata.labels.team"]);
        assert_eq!(r.added.bulkhead, ["metadata.labels.tier"]);
    }

    #[test]
    fn a_new_parent_both_sides_add_is_written_once() {
        let base = "a: 1\n";
        let yours = "a: 1\nb:\n  x: 1\n";
        let new = "a: 1\nb:\n  y: 2\n";
        assert_eq!(
            yaml(base, yours, new).unwrap().text,
            "a: 1\nb:\n  x: 1\n  y: 2\n"
        );
    }

    #[test]
    fn keyed_list_items_both_sides_add_are_both_kept() {
        let base = "env:\n  - name: A\n    value: a\n";
        let yours = "env:\n  - name: A\n    value: a\n  - name: MINE\n    value: m\n";
        let new = "env:\n  - name: A\n    value: a\n  - name: NEW\n    value: n\n";
        let r = yaml(base, yours, new).unwrap();
        assert_eq!(
            r.text,
            "env:\n  - name: A\n    value: a\n  - name: MINE\n    value: m\n  - name: NEW\n    value: n\n"
        );
        assert_eq!(r.added.yours, ["env[MINE]"]);
    }

    #[test]
    fn true_conflicts_stay_conflicts() {
        // The same key, two values.
        assert!(yaml("a: 1\n", "a: 1\nb: 2\n", "a: 1\nb: 3\n").is_none());
        // Deleted on one side, changed on the other.
        assert!(yaml("a: 1\nb: 1\n", "a: 1\n", "a: 1\nb: 2\n").is_none());
        // An unkeyed list edited on both sides.
        assert!(yaml("l:\n  - 1\n", "l:\n  - 1\n  - 2\n", "l:\n  - 1\n  - 3\n").is_none());
        // A duplicate key is never written.
        assert!(yaml("a: 1\n", "a: 1\nb: 2\n", "a: 1\nb: 2\nc: 3\nb: 2\n").is_none());
    }

    #[test]
    fn documents_merge_by_kind_and_name() {
        let base = "kind: A\nmetadata:\n  name: x\n---\nkind: B\nmetadata:\n  name: y\n";
        let yours = "kind: A\nmetadata:\n  name: x\n  labels:\n    mine: m\n---\nkind: B\nmetadata:\n  name: y\n";
        let new = "kind: A\nmetadata:\n  name: x\n  labels:\n    new: n\n---\nkind: B\nmetadata:\n  name: y\n";
        let r = yaml(base, yours, new).unwrap();
        assert!(r.text.contains("    mine: m\n    new: n\n"), "{}", r.text);
        assert_eq!(r.added.yours, ["[A/x].metadata.labels.mine"]);
    }

    #[test]
    fn json_panels_appended_by_both() {
        let base = "{\n  \"panels\": [\n    {\n      \"id\": 1\n    }\n  ]\n}\n";
        let yours = "{\n  \"panels\": [\n    {\n      \"id\": 1\n    },\n    {\n      \"id\": 9\n    }\n  ]\n}\n";
        let new = "{\n  \"panels\": [\n    {\n      \"id\": 1\n    },\n    {\n      \"id\": 2\n    }\n  ]\n}\n";
        let r = resolve(Format::Json, base, yours, new).unwrap();
        let v: Value = serde_json::from_str(&r.text).unwrap();
        assert_eq!(v, json!({"panels": [{"id": 1}, {"id": 9}, {"id": 2}]}));
    }

    /// A mapping with scalar keys k0.. and a keyed list `items`, as the tests edit it.
    #[derive(Debug, Clone)]
    struct Doc {
        keys: Vec<(String, u32)>,
        items: Vec<(String, u32)>,
    }

    impl Doc {
        fn value(&self) -> Value {
            let mut map = Map::new();
            let mut items: Vec<Value> = Vec::new();
            for (name, v) in &self.items {
                items.push(json!({"name": name, "value": v}));
            }
            for (k, v) in &self.keys {
                map.insert(k.clone(), json!(v));
                if k == "k0" {
                    map.insert("items".into(), Value::Array(items.clone()));
                }
            }
            Value::Object(map)
        }
    }

    /// One side's edits: keys and items added (at positions), values changed.
    #[derive(Debug, Clone)]
    struct Edits {
        add_keys: Vec<(usize, u32)>,
        add_items: Vec<(usize, u32)>,
        change: Vec<usize>,
    }

    fn edits() -> impl Strategy<Value = Edits> {
        (
            prop::collection::vec((0usize..8, 0u32..100), 0..4),
            prop::collection::vec((0usize..8, 0u32..100), 0..3),
            prop::collection::vec(0usize..8, 0..3),
        )
            .prop_map(|(add_keys, add_items, change)| Edits {
                add_keys,
                add_items,
                change,
            })
    }

    /// Applies edits; `side` names what it adds, and `owned` picks which of the base's
    /// keys it may change (the other side changes the rest).
    fn apply(base: &Doc, e: &Edits, side: &str, owned: impl Fn(usize) -> bool) -> Doc {
        let mut d = base.clone();
        for &i in &e.change {
            let i = i % d.keys.len();
            if owned(i) {
                d.keys[i].1 += 1000;
            }
        }
        for (n, &(at, v)) in e.add_keys.iter().enumerate() {
            let at = (at % (d.keys.len() + 1)).max(1);
            d.keys.insert(at, (format!("{side}{n}"), v));
        }
        for (n, &(at, v)) in e.add_items.iter().enumerate() {
            let at = at % (d.items.len() + 1);
            d.items.insert(at, (format!("{side}-item{n}"), v));
        }
        d
    }

    fn base_doc() -> impl Strategy<Value = Doc> {
        (1usize..6, 1usize..4).prop_map(|(k, i)| Doc {
            keys: (0..k).map(|n| (format!("k{n}"), n as u32)).collect(),
            items: (0..i).map(|n| (format!("i{n}"), n as u32)).collect(),
        })
    }

    fn texts(format: Format, docs: [&Doc; 3]) -> [String; 3] {
        docs.map(|d| match format {
            Format::Yaml => serde_yaml_ng::to_string(&d.value()).unwrap(),
            Format::Json => serde_json::to_string_pretty(&d.value()).unwrap() + "\n",
        })
    }

    /// The line merge, then the structure where lines collide: what bulkhead writes.
    fn regenerate(format: Format, [b, y, n]: &[String; 3]) -> Result<String, String> {
        match super::super::merge::merge(b, y, n) {
            super::super::merge::Merged::Clean(text) => Ok(text),
            super::super::merge::Merged::Conflicts(marked) => match resolve(format, b, y, n) {
                Some(r) => Ok(r.text),
                None => Err(marked),
            },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn separate_edits_merge_and_equal_the_structural_merge(
            base in base_doc(), mine in edits(), new in edits(), json in any::<bool>()
        ) {
            let format = if json { Format::Json } else { Format::Yaml };
            let yours = apply(&base, &mine, "mine", |i| i % 2 == 0);
            let bulkhead = apply(&base, &new, "new", |i| i % 2 == 1);
            let t = texts(format, [&base, &yours, &bulkhead]);
            let text = regenerate(format, &t).map_err(|m| TestCaseError::fail(format!("conflict:\n{m}")))?;
            let want = merge_documents(
                &[base.value()], &[yours.value()], &[bulkhead.value()], &mut Added::default(),
            ).unwrap();
            prop_assert_eq!(parse(format, &text), Some(want));
        }

        #[test]
        fn overlapping_edits_conflict_and_lose_neither_side(
            base in base_doc(), key in 0usize..8, json in any::<bool>()
        ) {
            let format = if json { Format::Json } else { Format::Yaml };
            let i = key % base.keys.len();
            let (mut yours, mut bulkhead) = (base.clone(), base.clone());
            yours.keys[i].1 = 5000;
            bulkhead.keys[i].1 = 6000;
            // And the same new key with different values.
            yours.keys.push(("shared".into(), 1));
            bulkhead.keys.push(("shared".into(), 2));
            let t = texts(format, [&base, &yours, &bulkhead]);
            let marked = regenerate(format, &t).expect_err("a conflict");
            prop_assert!(super::super::merge::has_markers(&marked));
            for side in [&t[1], &t[2]] {
                for line in side.lines() {
                    prop_assert!(marked.contains(line), "{} lost:\n{}", line, marked);
                }
            }
        }
    }
}
