//! How values from service.toml become text in each kind of output file. Blueprints are
//! auto-escaped by file type, so `{{ value }}` is always inert data: a YAML or JSON scalar
//! that cannot open new structure, a Dockerfile word that cannot expand variables, a
//! workflow string that GitHub Actions cannot evaluate. `| safe` is the one way out.

use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Error, ErrorKind, Output, State};

pub const YAML: &str = "yaml";
pub const JSON: &str = "json";
pub const DOCKERFILE: &str = "dockerfile";
/// YAML that GitHub Actions reads: `${{` must not reach it from data.
pub const WORKFLOW: &str = "workflow";

/// The escaping of a blueprint, from its path.
pub fn auto_escape_for(path: &str) -> AutoEscape {
    let file = path.rsplit('/').next().unwrap_or(path);
    let is_workflow =
        path.starts_with(".github/workflows/") || path.contains("/.github/workflows/");
    if file.ends_with(".yaml") || file.ends_with(".yml") {
        AutoEscape::Custom(if is_workflow { WORKFLOW } else { YAML }.into())
    } else if file.ends_with(".json") {
        AutoEscape::Custom(JSON.into())
    } else if file == "Dockerfile"
        || file.ends_with(".Dockerfile")
        || file.starts_with("Dockerfile.")
    {
        AutoEscape::Custom(DOCKERFILE.into())
    } else {
        AutoEscape::None
    }
}

pub fn formatter(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "undefined value in output",
        ));
    }
    let text = match state.auto_escape() {
        AutoEscape::Custom(name) if !value.is_safe() => match name.as_ref() {
            YAML => yaml_value(value)?,
            WORKFLOW => guard_expressions(&yaml_value(value)?),
            JSON => json_value(value)?,
            DOCKERFILE => dockerfile_word(&plain_string(value)?),
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("unknown escaping {other}"),
                ));
            }
        },
        _ => return minijinja::escape_formatter(out, state, value),
    };
    out.write_str(&text).map_err(Error::from)
}

/// A double-quoted string valid both as JSON and as a YAML (1.1 and 1.2) scalar: every
/// character a YAML parser could treat as a line break or reject is escaped.
pub fn quote(s: &str) -> String {
    use std::borrow::Cow;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    // Runs of characters that need no escape are copied whole: most values are such a run.
    let mut run = 0;
    let mut at = 0;
    let bytes = s.as_bytes();
    while at < bytes.len() {
        let b = bytes[at];
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            at += 1;
            continue;
        }
        let c = s[at..].chars().next().expect("at a character boundary");
        let len = c.len_utf8();
        let escaped = match c {
            '"' => Some(Cow::Borrowed("\\\"")),
            '\\' => Some(Cow::Borrowed("\\\\")),
            '\n' => Some(Cow::Borrowed("\\n")),
            '\t' => Some(Cow::Borrowed("\\t")),
            '\r' => Some(Cow::Borrowed("\\r")),
            c if (c as u32) < 0x20
                || c == '\u{7f}'
                || ('\u{80}'..='\u{9f}').contains(&c)
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                Some(Cow::Owned(format!("\\u{:04x}", c as u32)))
            }
            _ => None,
        };
        if let Some(escaped) = escaped {
            out.push_str(&s[run..at]);
            out.push_str(&escaped);
            run = at + len;
        }
        at += len;
    }
    out.push_str(&s[run..]);
    out.push('"');
    out
}

/// Words YAML 1.1 reads as booleans or null when unquoted.
const YAML_RESERVED: &[&str] = &["true", "false", "yes", "no", "on", "off", "null", "y", "n"];

/// Plain (unquoted) only when it cannot be read as anything but this string.
fn yaml_plain_ok(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !YAML_RESERVED.contains(&s.to_ascii_lowercase().as_str())
}

pub fn yaml_string(s: &str) -> String {
    if yaml_plain_ok(s) {
        s.to_string()
    } else {
        quote(s)
    }
}

fn number(value: &Value) -> Result<String, Error> {
    let text = value.to_string();
    if let Ok(f) = f64::try_from(value.clone())
        && !f.is_finite()
    {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "cannot write a non-finite number",
        ));
    }
    Ok(text)
}

/// A value as YAML: scalars plain where unambiguous, collections in flow style.
pub fn yaml_value(value: &Value) -> Result<String, Error> {
    Ok(match value.kind() {
        ValueKind::None | ValueKind::Undefined => "null".into(),
        ValueKind::Bool => value.is_true().to_string(),
        ValueKind::Number => number(value)?,
        ValueKind::String => yaml_string(value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Result<Vec<String>, Error> =
                value.try_iter()?.map(|v| yaml_value(&v)).collect();
            format!("[{}]", items?.join(", "))
        }
        ValueKind::Map => {
            let mut parts = Vec::new();
            for key in value.try_iter()? {
                let v = value.get_item(&key)?;
                parts.push(format!("{}: {}", quote(&key.to_string()), yaml_value(&v)?));
            }
            format!("{{{}}}", parts.join(", "))
        }
        _ => quote(&value.to_string()),
    })
}

/// Any value as block-style YAML, every line indented by `indent` spaces (a mapping's keys
/// and a sequence's dashes start there), without a final newline. Scalars and empty
/// collections are written as `yaml_value` writes them, so data stays data.
pub fn yaml_block(value: &Value, indent: usize) -> Result<String, Error> {
    let mut out = String::new();
    block_into(&mut out, value, indent)?;
    Ok(out.trim_end_matches('\n').to_string())
}

fn is_nested(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::Map | ValueKind::Seq | ValueKind::Iterable
    ) && value.len().is_some_and(|n| n > 0)
}

fn block_into(out: &mut String, value: &Value, indent: usize) -> Result<(), Error> {
    let pad = " ".repeat(indent);
    match value.kind() {
        ValueKind::Map if is_nested(value) => {
            for key in value.try_iter()? {
                let v = value.get_item(&key)?;
                out.push_str(&format!("{pad}{}:", yaml_string(&key.to_string())));
                if is_nested(&v) {
                    out.push('\n');
                    block_into(out, &v, indent + 2)?;
                } else {
                    out.push_str(&format!(" {}\n", yaml_value(&v)?));
                }
            }
        }
        ValueKind::Seq | ValueKind::Iterable if is_nested(value) => {
            for item in value.try_iter()? {
                if is_nested(&item) {
                    // The item's first line goes after the dash.
                    let mut inner = String::new();
                    block_into(&mut inner, &item, indent + 2)?;
                    out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                } else {
                    out.push_str(&format!("{pad}- {}\n", yaml_value(&item)?));
                }
            }
        }
        _ => out.push_str(&format!("{pad}{}\n", yaml_value(value)?)),
    }
    Ok(())
}

pub fn json_value(value: &Value) -> Result<String, Error> {
    Ok(match value.kind() {
        ValueKind::None | ValueKind::Undefined => "null".into(),
        ValueKind::Bool => value.is_true().to_string(),
        ValueKind::Number => number(value)?,
        ValueKind::String => quote(value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Result<Vec<String>, Error> =
                value.try_iter()?.map(|v| json_value(&v)).collect();
            format!("[{}]", items?.join(", "))
        }
        ValueKind::Map => {
            let mut parts = Vec::new();
            for key in value.try_iter()? {
                let v = value.get_item(&key)?;
                parts.push(format!("{}: {}", quote(&key.to_string()), json_value(&v)?));
            }
            format!("{{{}}}", parts.join(", "))
        }
        _ => quote(&value.to_string()),
    })
}

fn plain_string(value: &Value) -> Result<String, Error> {
    match value.kind() {
        ValueKind::String | ValueKind::Number | ValueKind::Bool => Ok(value.to_string()),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            "only strings and numbers can be written into a Dockerfile",
        )),
    }
}

/// A Dockerfile word: bare when harmless, else double-quoted with `\`, `"` and `$`
/// escaped (no variable expansion) and line breaks written as `\n` text.
pub fn dockerfile_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | ':' | '@' | '+' | '=')
        })
    {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::from("\"");
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let run = chars[i..].iter().take_while(|&&c| c == '\\').count();
                let escaped = "\\\\".repeat(run);
                // hadolint cannot parse a backslash right before a closing or escaped
                // quote: such a run goes between two quoted parts instead (adjacent
                // words join, so the value is the same for BuildKit).
                if matches!(chars.get(i + run), None | Some('"')) {
                    out.push('"');
                    out.push_str(&escaped);
                    out.push('"');
                } else {
                    out.push_str(&escaped);
                }
                i += run;
                continue;
            }
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
        i += 1;
    }
    out.push('"');
    out
}

/// GitHub Actions evaluates `${{ … }}` anywhere in a workflow string, so data must never
/// contain it: the opener is rewritten as an expression that yields the literal text.
pub fn guard_expressions(s: &str) -> String {
    s.replace("${{", "${{ '${{' }}")
}

/// A POSIX shell word: single-quoted, with `'` closed, escaped and reopened.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | ':' | '@' | '+' | '=')
        })
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Text for Markdown (CommonMark and GitHub's dialect), in prose or a table cell: characters
/// that could open markup (emphasis, links, images, code, HTML, tables, math) are
/// backslash-escaped, and so are the line-start markers (`#`, `-`, `+`, `=`, `>`, `1.`, `1)`) when
/// the text starts with one; line breaks and other control characters become spaces and
/// the ends are trimmed, so the text can never start a new block.
pub fn markdown_text(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect();
    let text = flat.trim();
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.chars().enumerate() {
        let at_start = i == 0 && matches!(c, '-' | '+' | '=');
        let list_number = i == digits && digits > 0 && matches!(c, '.' | ')');
        if at_start
            || list_number
            || matches!(
                c,
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!' | '~' | '$' | '&'
            )
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_strings_that_could_be_misread_are_quoted() {
        assert_eq!(yaml_string("fleet"), "fleet");
        assert_eq!(yaml_string("/vehicles"), "/vehicles");
        for s in [
            "yes", "No", "null", "8080", "3s", "a: b", "#x", "", " x", "x\ny", "{{ x }}", "-x", "é",
        ] {
            assert!(yaml_string(s).starts_with('"'), "{s}");
        }
    }

    #[test]
    fn block_yaml_reads_back_as_the_same_data() {
        let data = serde_json::json!({
            "canary": {
                "steps": [
                    {"setWeight": 10},
                    {"pause": {"duration": "5m"}},
                    {"analysis": {"templates": [{"templateName": "a: b # c"}], "args": []}},
                ],
                "empty": {},
                "flag": true,
                "text": "yes\n- not a list",
            },
            "list": [[1, 2], ["x"]],
        });
        let text = yaml_block(&Value::from(minijinja::value::Serde(&data)), 4).unwrap();
        assert!(text.lines().all(|l| l.starts_with("    ")), "{text}");
        assert!(text.contains("\n        - setWeight: 10\n"), "{text}");
        let back: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, data, "{text}");
        // A scalar stays one scalar.
        assert_eq!(yaml_block(&Value::from("8080"), 2).unwrap(), "  \"8080\"");
    }

    #[test]
    fn quote_escapes_yaml_line_breaks() {
        assert_eq!(quote("a\u{2028}b\u{85}"), "\"a\\u2028b\\u0085\"");
        assert_eq!(quote("\"\\"), r#""\"\\""#);
    }

    #[test]
    fn markdown_text_cannot_open_markup() {
        assert_eq!(markdown_text("Orders and payments"), "Orders and payments");
        assert_eq!(
            markdown_text("Sign-in, JWT issuance"),
            "Sign-in, JWT issuance"
        );
        assert_eq!(markdown_text("refresh_tokens"), "refresh\\_tokens");
        assert_eq!(
            markdown_text("a | b <script> [x](javascript:y) `c` *d* $e$"),
            r"a \| b \<script\> \[x\](javascript:y) \`c\` \*d\* \$e\$"
        );
        assert_eq!(
            markdown_text("# title\n- item\r\n> quote"),
            r"\# title - item  \> quote"
        );
        assert_eq!(markdown_text("  - x  "), r"\- x");
        assert_eq!(markdown_text("1. first"), r"1\. first");
        assert_eq!(markdown_text("12) x (y)"), r"12\) x (y)");
        assert_eq!(markdown_text("a\u{2028}b &amp; c\\"), r"a b \&amp; c\\");
        assert_eq!(markdown_text("=== ~~x~~ !"), r"\=== \~\~x\~\~ \!");
    }

    #[test]
    fn words() {
        assert_eq!(dockerfile_word("a b$HOME\""), r#""a b\$HOME\"""#);
        assert_eq!(dockerfile_word("a\\"), r#""a"\\"""#);
        assert_eq!(dockerfile_word("a\\\"b"), r#""a"\\"\"b""#);
        assert_eq!(dockerfile_word("c:\\temp x"), r#""c:\\temp x""#);
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(
            guard_expressions("${{ secrets.X }}"),
            "${{ '${{' }} secrets.X }}"
        );
    }
}
