//! What of a value an error message may show: never a secret, never a whole megabyte.
//!
//! Input: key paths, values and `--set*` flag texts, as text. Output: whether a key or value
//! may hold a secret, and the text to print instead — the value replaced by `***`, or cut.
//!
//! A key may hold a secret when one of its parts names one (`password`, `token`, `apiKey`,
//! `credentials`, `auth`, ... — but not `secretName` or `imagePullSecrets`, which name a
//! Secret); an env entry's `value` may when its `name` does (`API_TOKEN`); a value may when it
//! looks like one (a URL with a password, a PEM block) or names one (`password=...` inside a
//! `--set-literal` value, a JSON object with a `token`). Such values are never printed in an
//! error: the key is, so the user still knows where. Other values are printed, cut to
//! [`SHOWN_CHARS`]. This is a rule of thumb, not a proof: it errs on the side of hiding.
//!
//! Limitation: a flag is judged by its own text, so an env `value` whose `name` was set by
//! another flag is shown unless the value itself looks like a secret; diagnostics, which see
//! the whole tree, judge it by the name.

/// How a `--set*` flag's text is split into assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grammar {
    /// `--set`, `--set-string`, `--set-file`: `a=b,c={d,e}`, backslash escapes.
    Strvals,
    /// `--set-json`: `a={"b":1},c=[2]`.
    Json,
    /// `--set-literal`: one key, and everything after the first `=`.
    Literal,
}

/// How many characters of a value an error shows before cutting it.
pub const SHOWN_CHARS: usize = 80;

/// How many characters of a `--set*` flag an error shows before cutting it.
pub const SHOWN_FLAG_CHARS: usize = 200;

/// What an error prints in place of a value that may be secret.
pub const HIDDEN: &str = "***";

/// Parts of key names that mark a secret (compared lowercase, without `_` and `-`).
const SECRET_WORDS: [&str; 12] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
    "accesskey",
    "privatekey",
    "auth",
    "bearer",
    "cookie",
];

/// Endings of key names that name or point at a secret rather than hold it.
const NAME_ENDINGS: [&str; 7] = ["name", "names", "ref", "path", "file", "dir", "pullsecrets"];

/// Whether a key name (one part of a path, or an env variable's name) may hold a secret.
pub fn sensitive_key(key: &str) -> bool {
    let folded: String = key.chars().filter(|c| !matches!(c, '_' | '-')).flat_map(char::to_lowercase).collect();
    SECRET_WORDS.iter().any(|w| folded.contains(w)) && !NAME_ENDINGS.iter().any(|e| folded.ends_with(e))
}

/// Whether any part of a key path (`a.b[0].c`, or a JSON pointer `/a/b/0/c`) may hold a
/// secret, or the path is the data of an object the user lists (`extraObjects[i].data`).
pub fn sensitive_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split(['.', '/', '[', ']']).filter(|p| !p.is_empty()).collect();
    parts.iter().any(|p| sensitive_key(p))
        || (parts.first() == Some(&"extraObjects") && parts.iter().any(|p| matches!(*p, "data" | "stringData")))
}

/// Whether a value looks like a secret whatever its key: a URL with a password
/// (`https://user:pass@host`), a PEM block, or text that names one (`password=...`, a JSON
/// object with a `token`, a `--set-literal` value that is itself a list of assignments).
pub fn sensitive_text(text: &str) -> bool {
    looks_secret(text) || holds_secret_word(text)
}

/// Whether a value has the shape of a secret: a PEM block, or a URL with a password.
fn looks_secret(text: &str) -> bool {
    if text.contains("-----BEGIN") {
        return true;
    }
    text.match_indices("://").any(|(at, _)| {
        let authority = text[at + 3..].split(['/', '?', '#', ' ']).next().unwrap_or_default();
        authority.split_once('@').is_some_and(|(userinfo, _)| userinfo.contains(':'))
    })
}

/// Whether a text holds any of [`SECRET_WORDS`] anywhere.
fn holds_secret_word(text: &str) -> bool {
    let folded: String = text.chars().filter(|c| !matches!(c, '_' | '-')).flat_map(char::to_lowercase).collect();
    SECRET_WORDS.iter().any(|w| folded.contains(w))
}

/// A value as an error may show it: cut to [`SHOWN_CHARS`] characters.
pub fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}… ({} characters)", &text[..at], text.chars().count()),
        None => text.to_owned(),
    }
}

/// A `--set*` flag's text as an error may show it: each assignment's value replaced by
/// [`HIDDEN`] where its key (or, for an env `value`, the `name` the same flag gives it) or
/// the value itself may be secret, values cut to [`SHOWN_CHARS`], the whole cut to
/// [`SHOWN_FLAG_CHARS`]. The flag is split leniently, so a flag that does not parse is
/// shown the same way.
pub fn flag(grammar: Grammar, text: &str) -> String {
    let assignments = split(grammar, text);
    let name_of = |key: &str| -> Option<&str> {
        let prefix = key.strip_suffix(".value")?;
        assignments.iter().find(|(k, _)| k.strip_suffix(".name") == Some(prefix)).and_then(|(_, v)| *v)
    };
    let mut out = String::new();
    for (i, (key, value)) in assignments.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A "key" with JSON in it means the split went wrong (malformed JSON before it): what
        // follows cannot be told apart, so none of it is shown.
        if grammar == Grammar::Json && key.contains(['"', '{', '}', ':']) {
            out.push_str(HIDDEN);
            break;
        }
        out.push_str(key);
        let Some(value) = value else { continue };
        out.push('=');
        // The value of a `...name` key is a name (`env[0].name=API_TOKEN`), shown unless it looks
        // like a secret itself — and unless it holds an assignment, as a `--set-literal` value
        // may (`name=1,x.password=...`: the rest of the flag is the value), which is no name.
        let names = key.rsplit(['.', ']']).next().is_some_and(|last| last.to_ascii_lowercase().ends_with("name"))
            && !value.contains('=');
        let value_hidden = if names { looks_secret(value) } else { sensitive_text(value) };
        let hidden = sensitive_path(key) || value_hidden || name_of(key).is_some_and(sensitive_key);
        if hidden {
            out.push_str(HIDDEN);
        } else {
            out.push_str(&cut(value, SHOWN_CHARS));
        }
    }
    cut(&out, SHOWN_FLAG_CHARS)
}

/// The flag's assignments as (key, value) texts, escapes kept as written.
fn split(grammar: Grammar, text: &str) -> Vec<(&str, Option<&str>)> {
    if grammar == Grammar::Literal {
        return vec![match text.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (text, None),
        }];
    }
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let key_end = scan(bytes, at, |b| matches!(b, b'=' | b','));
        if key_end >= bytes.len() || bytes[key_end] == b',' {
            out.push((&text[at..key_end], None));
            at = key_end + 1;
            continue;
        }
        let from = key_end + 1;
        let end = match (grammar, bytes.get(from)) {
            // Malformed JSON: its end is unknown, so the rest of the flag is its value.
            (Grammar::Json, Some(b'{' | b'[' | b'"')) => json_end(bytes, from).unwrap_or(bytes.len()),
            (_, Some(b'{')) => scan(bytes, from, |b| b == b'}').saturating_add(1).min(bytes.len()),
            _ => scan(bytes, from, |b| b == b','),
        };
        let end = scan(bytes, end, |b| b == b',').min(bytes.len());
        out.push((&text[at..key_end], Some(&text[from..end])));
        at = end + 1;
    }
    out
}

/// The first byte from `at` that `stop` accepts, skipping backslash escapes; the length when
/// there is none. Only ASCII bytes stop, so the result is a character boundary.
fn scan(bytes: &[u8], mut at: usize, stop: impl Fn(u8) -> bool) -> usize {
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b if stop(b) => return at,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// Where a JSON array, object or string starting at `from` ends (after its last byte); `None`
/// when it does not end, or a bracket closes one of the other kind.
fn json_end(bytes: &[u8], from: usize) -> Option<usize> {
    let (mut open, mut in_string, mut at) = (Vec::new(), false, from);
    while at < bytes.len() {
        let b = bytes[at];
        at += 1;
        match b {
            b'\\' if in_string => at += 1,
            b'"' => {
                in_string = !in_string;
                if !in_string && open.is_empty() {
                    return Some(at);
                }
            }
            b'{' | b'[' if !in_string => open.push(b),
            b'}' | b']' if !in_string => {
                let opened = if b == b'}' { b'{' } else { b'[' };
                if open.pop() != Some(opened) {
                    return None;
                }
                if open.is_empty() {
                    return Some(at);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_key_names_tells_secrets_from_names_of_secrets() {
        for key in ["password", "registryPassword", "API_TOKEN", "apiKey", "basicAuth", "aws-secret-access-key"] {
            assert!(sensitive_key(key), "{key}");
        }
        for key in ["secretName", "imagePullSecrets", "tokenFile", "key", "version", "CONTAINERD_SOCKET"] {
            assert!(!sensitive_key(key), "{key}");
        }
        assert!(sensitive_path("/extraObjects/0/stringData/x"));
        assert!(sensitive_path("driver.repo.password"));
        assert!(!sensitive_path("/toolkit/env/0/value"));
    }

    #[test]
    fn given_values_finds_urls_with_passwords_and_pem_blocks() {
        assert!(sensitive_text("http://user:hunter2@proxy:3128"));
        assert!(sensitive_text("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(sensitive_text("[{\"token\": \"x\"}]"));
        assert!(sensitive_text(",x.registry.password=y"), "a literal value that assigns a secret (found by fuzzing)");
        assert!(!sensitive_text("https://nvcr.io/nvidia"));
        assert!(!sensitive_text("http://user@proxy"));
    }

    #[test]
    fn given_flags_hides_secret_values_and_keeps_the_rest() {
        let shown = flag(Grammar::Strvals, "driver.version=550,registry.password=hunter2,x[0=1");
        assert_eq!(shown, "driver.version=550,registry.password=***,x[0=1");
        let env = "toolkit.env[0].name=API_TOKEN,toolkit.env[0].value=hunter2,toolkit.env[1].value=/run/x.sock";
        assert_eq!(
            flag(Grammar::Strvals, env),
            "toolkit.env[0].name=API_TOKEN,toolkit.env[0].value=***,toolkit.env[1].value=/run/x.sock"
        );
        assert_eq!(flag(Grammar::Json, r#"a={"password":"x,y"},b=[1,2]"#), "a=***,b=[1,2]");
        assert_eq!(flag(Grammar::Json, r#"a={"image":"x"}"#), r#"a={"image":"x"}"#);
        assert_eq!(flag(Grammar::Json, r#"auth={"u":"x","p":"y"},b=1"#), "auth=***,b=1");
        assert_eq!(flag(Grammar::Strvals, "a={x,y},token=z"), "a={x,y},token=***");
        assert_eq!(flag(Grammar::Literal, "db.password=a,b=c"), "db.password=***");
        assert_eq!(flag(Grammar::Strvals, r"a\,password=1"), r"a\,password=***");
        assert_eq!(flag(Grammar::Strvals, "proxy=http://u:p@h:1"), "proxy=***");
        assert_eq!(flag(Grammar::Literal, "a=,x.registry.password=y"), "a=***");
        // Found by fuzzing: a `name` key's value is shown as a name, but a literal's holds the rest.
        assert_eq!(flag(Grammar::Literal, "name=9,x.registry.password=hunter2"), "name=***");
        assert_eq!(flag(Grammar::Strvals, "env[0].name=API_TOKEN"), "env[0].name=API_TOKEN");
        // Found by fuzzing: malformed JSON that closes early must not expose what follows.
        let broken = r#"k={"a":x=,"b":[null,]],"password":{"c":[["hunter2"]]}},d=1"#;
        assert_eq!(flag(Grammar::Json, broken), "k=***");
    }

    #[test]
    fn given_long_values_cuts_them_and_counts_what_was_cut() {
        let long = format!("a={}", "x".repeat(300));
        let shown = flag(Grammar::Strvals, &long);
        assert!(shown.starts_with(&format!("a={}…", "x".repeat(SHOWN_CHARS))), "{shown}");
        assert!(shown.ends_with("(300 characters)"), "{shown}");
        let many: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
        assert!(flag(Grammar::Strvals, &many.join(",")).chars().count() < SHOWN_FLAG_CHARS + 30);
    }
}
