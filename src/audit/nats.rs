//! Reads the broker's permissions back out of nats.conf. bulkhead writes the
//! `authorization` block as JSON whose passwords are unquoted variable references
//! (`$PASSWORD_X`, NATS syntax); quoting those makes it plain JSON.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct User {
    pub user: String,
    pub permissions: Permissions,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Permissions {
    pub publish: Allow,
    pub subscribe: Allow,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Allow {
    pub allow: Vec<String>,
}

#[derive(Deserialize)]
struct Authorization {
    users: Vec<User>,
}

/// Every user of the `authorization` block and what it may publish and subscribe to.
pub fn users(conf: &str) -> Result<Vec<User>, String> {
    let start = conf
        .find("\nauthorization:")
        .ok_or("no `authorization:` block")?;
    let block = &conf[start + "\nauthorization:".len()..];
    let json = quote_variables(block);
    let mut values = serde_json::Deserializer::from_str(&json).into_iter::<Authorization>();
    match values.next() {
        Some(Ok(a)) => Ok(a.users),
        Some(Err(e)) => Err(format!(
            "the `authorization` block is not what bulkhead writes: {e}"
        )),
        None => Err("an empty `authorization` block".into()),
    }
}

/// `$NAME` outside strings becomes `"$NAME"`.
fn quote_variables(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '$' => {
                out.push_str("\"$");
                while let Some(&n) = chars
                    .peek()
                    .filter(|n| n.is_ascii_alphanumeric() || **n == '_')
                {
                    out.push(n);
                    chars.next();
                }
                out.push('"');
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_quoted_and_strings_kept() {
        let conf = "port: 1\nauthorization: {\n  \"users\": [\n    {\"user\": \"a\\\"$b\", \"password\": $PASSWORD_A, \"permissions\": {\"publish\": {\"allow\": [\"$JS.API.>\"]}, \"subscribe\": {\"allow\": []}}}\n  ]\n}\n";
        let found = users(conf).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].user, "a\"$b");
        assert_eq!(found[0].permissions.publish.allow, ["$JS.API.>"]);
        assert!(users("port: 1\n").is_err());
    }
}
