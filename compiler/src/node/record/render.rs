//! The record file's text, written directly.
//!
//! Input: a [`Record`]. Output: the bytes `serde_json::to_string_pretty` gives for the record
//! file (two-space indentation, `previous` left out when absent) and a final newline. The
//! texts before and after are nearly all of a record, and serde_json escapes them a byte at a
//! time; here the next byte to escape is found a word (8 bytes) at a time, and the runs
//! between are copied whole. The tests hold the bytes to serde_json's.

use super::{COMMENT, Entry, KIND, Record, Role, VERSION};

/// The record file's text.
pub fn render(record: &Record) -> String {
    let texts: usize = record.entries.iter().map(|e| e.path.len() + e.after.len() + text_len(e)).sum();
    // Escapes add a little: a `\n` per line, a `\"` per quote. Bytes, not a `String`: pushing
    // an ASCII byte is cheaper than pushing a `char`, and escapes are dense.
    let mut out = Vec::with_capacity(texts + texts / 8 + COMMENT.len() + 512);
    out.extend_from_slice(b"{\n  \"kind\": ");
    quote(&mut out, KIND);
    out.extend_from_slice(format!(",\n  \"version\": {VERSION},\n  \"comment\": ").as_bytes());
    quote(&mut out, COMMENT);
    out.extend_from_slice(b",\n  \"files\": [");
    for (i, entry) in record.entries.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n    {" } else { b",\n    {" });
        write_entry(&mut out, entry);
        out.extend_from_slice(b"\n    }");
    }
    if !record.entries.is_empty() {
        out.extend_from_slice(b"\n  ");
    }
    out.extend_from_slice(b"]\n}\n");
    // Only whole `str`s and ASCII are written: always UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

fn text_len(entry: &Entry) -> usize {
    entry.before.as_ref().map_or(0, String::len) + entry.previous.as_ref().map_or(0, String::len)
}

fn write_entry(out: &mut Vec<u8>, entry: &Entry) {
    out.extend_from_slice(b"\n      \"role\": ");
    quote(
        out,
        match entry.role {
            Role::Config => "config",
            Role::DropIn => "drop-in",
            Role::Hook => "hook",
        },
    );
    out.extend_from_slice(b",\n      \"path\": ");
    quote(out, &entry.path);
    out.extend_from_slice(b",\n      \"before\": ");
    match &entry.before {
        Some(text) => quote(out, text),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\n      \"after\": ");
    quote(out, &entry.after);
    if let Some(previous) = &entry.previous {
        out.extend_from_slice(b",\n      \"previous\": ");
        quote(out, previous);
    }
}

/// `text` as a JSON string, escaped as serde_json escapes it: `"`, `\` and the control
/// characters below U+0020, the common ones by letter, the others as `\u00xx`.
fn quote(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        match bytes[at..].first_chunk::<8>() {
            Some(word) => match escapes(u64::from_le_bytes(*word)) {
                0 => {
                    at += 8;
                    continue;
                }
                // The lowest flag is exact: the first byte to escape.
                flags => at += flags.trailing_zeros() as usize / 8,
            },
            None if needs_escape(bytes[at]) => {}
            None => {
                at += 1;
                continue;
            }
        }
        out.extend_from_slice(&bytes[copied..at]);
        push_escape(out, bytes[at]);
        at += 1;
        copied = at;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

fn needs_escape(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// For 8 bytes (little-endian), bit 7 of each byte set where it may need escaping: the
/// zero-byte test of Mycroft, as serde_json's reader uses. No byte that needs escaping is
/// missed, and the lowest bit set is always one that does (a false flag needs a borrow from a
/// lower byte, which only a flagged byte gives).
fn escapes(word: u64) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & (ONES << 7)
}

fn push_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'\\');
    match byte {
        b'"' | b'\\' => out.push(byte),
        0x08 => out.push(b'b'),
        0x09 => out.push(b't'),
        0x0a => out.push(b'n'),
        0x0c => out.push(b'f'),
        0x0d => out.push(b'r'),
        _ => {
            out.extend_from_slice(&[b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Entry, File};
    use super::*;

    fn serde(record: &Record) -> String {
        let file = File { kind: KIND.into(), version: VERSION, comment: COMMENT.into(), files: record.entries.clone() };
        let mut text = serde_json::to_string_pretty(&file).expect("serialises");
        text.push('\n');
        text
    }

    fn entry(role: Role, before: Option<&str>, after: &str, previous: Option<&str>) -> Entry {
        Entry {
            role,
            path: "/etc/containerd/config.toml".into(),
            before: before.map(str::to_owned),
            after: after.into(),
            previous: previous.map(str::to_owned),
        }
    }

    #[test]
    fn given_every_byte_that_needs_escaping_the_text_is_serde_jsons() {
        let mut every: String = (0u8..0x80).map(char::from).collect();
        every.push_str("é — \u{feff}\u{7f}\r\n\"quoted\" back\\slash, and a long run of plain text to skip");
        let awkward = ["", "\"", "\\", "\n", "12345678\n", "1234567\"", "a\u{1}b", "\u{1f}\u{0}"];
        let mut entries = vec![entry(Role::Config, None, &every, Some(&every[3..]))];
        for (i, text) in awkward.iter().enumerate() {
            let role = [Role::DropIn, Role::Hook][i % 2];
            entries.push(entry(role, Some(text), &format!("{text}{every}{text}"), None));
        }
        let record = Record { entries };
        assert_eq!(render(&record), serde(&record));
    }

    proptest::proptest! {
        #[test]
        fn given_any_text_the_text_is_serde_jsons(
            chars in proptest::collection::vec(proptest::sample::select(
                vec!['a', ' ', '=', '"', '\\', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{7f}', 'é', '—', '\u{feff}', '😀'],
            ), 0..64),
        ) {
            let text: String = chars.into_iter().collect();
            let record = Record { entries: vec![entry(Role::Config, Some(&text), &text, None)] };
            proptest::prop_assert_eq!(render(&record), serde(&record));
        }
    }

    #[test]
    fn given_no_entries_the_text_is_serde_jsons() {
        let record = Record::default();
        assert_eq!(render(&record), serde(&record));
    }
}
