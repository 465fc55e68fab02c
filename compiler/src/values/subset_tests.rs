//! The hand reader against the values loader: same JSON wherever it answers, and it answers
//! for everything the templates write.

use serde_json::{Value as J, json};

use super::*;
use crate::values::Source;
use crate::values::load::load_document;

fn full(text: &str) -> Option<J> {
    load_document(text, &Source::Inline).ok().map(|v| v.to_json())
}

/// `read` either declines or agrees with the loader (which must then accept the text).
fn agrees(text: &str) -> Option<J> {
    let fast = read(text)?;
    assert_eq!(Some(&fast), full(text).as_ref(), "{text:?}");
    Some(fast)
}

#[test]
fn given_what_the_templates_write_the_hand_reader_reads_it_as_the_loader_does() {
    for text in [
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: \"x\"\n  labels: {\"a\":\"b\",\"c\":\"d\"}\n",
        "a: 1\nb: [yes, no, ~, 0x1F, 1_000, 3.5, .5, '010', \"x\", 010, 1e3]\nc: {d: e}\n",
        "kind: ConfigMap\ndata:\n  config.toml: |\n    [a]\n    b = 1\n\n    # not a comment\n  empty: \"\"\n",
        "a: |-\n  x\n\n  y\n\n\nb: |+\n  z\n\n\nc: 1\n",
        "a: |\n  x\n  y",
        "a: |+\n  x\n",
        "a: |  # a comment\n    deeper\n     and more\n",
        "a: 1\na: 2\n",
        "list:\n- name: A\n  value: \"true\"\n- {name: B, value: null}\n",
        "spec:\n  containers:\n    - name: c # a comment\n      env:\n        - {name: X, value: \"a \\\"b\\\" \\u003c\\n\"}\n      args: [\"-c\", 'it''s']\n    -\n      name: d\n",
        "# only comments\n\n  # here\n",
        "\n",
        "a:\n  - - x\n",
        "a:\nb:\n  c:\n",
        "url: http://x:80/a#frag\nport: 8080\nempty: {}\nnone: []\nnested: {a: [1, {b: c}], 'q': \"r\"}\n",
        "a: -1\nb: -c\nc: 'x'  # c\nd: \"y\" #d\n",
        "a: {\"k\": \"v\" , \"w\" :1}\n",
        "key with spaces: value with spaces\n",
    ] {
        let json = agrees(text);
        if !text.starts_with("a:\n  - - ") {
            assert!(json.is_some(), "the hand reader declined {text:?}");
        }
    }
    assert_eq!(read("\n"), Some(json!({})));
}

#[test]
fn given_what_only_a_general_reader_handles_the_hand_reader_declines() {
    for text in [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "<<: {a: 1}\n",
        "yes: 1\n",
        "1: a\n",
        "- a\n",
        "a: [\n  1]\n",
        "a: >-\n  folded\n",
        "a: |2\n   x\n",
        "a: \"multi\n  line\"\n",
        "a: plain\n  continued\n",
        "a:\n\tb: 1\n",
        "a: 1\r\n",
        "a: {b}\n",
        "a: [b: c]\n",
        "a: [1, ]\n",
        "? a\n: b\n",
        "a: b: c\n",
        "  a: 1\nb: 2\n",
        "a: 1\n---\nb: 2\n",
        "a: \"\\ud83d\"\n",
        "a: \"\\u+abc\"\n",
        "a: |\n\n  x\n",
    ] {
        assert_eq!(read(text), None, "{text:?}");
    }
}

/// A tiny deterministic generator (xorshift), so the cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 16] =
    ["plain", "true", "010", "0x1F", "null", "~", "1.5", "-c", "a b", "a: b", "it's", "#x", "x #y", "é\"\\", "", "<>&"];

fn scalar(rng: &mut Rng, flow: bool) -> String {
    let word = WORDS[rng.below(WORDS.len() as u64) as usize];
    match rng.below(3) {
        0 => serde_json::to_string(word).expect("a string"),
        1 => format!("'{}'", word.replace('\'', "''")),
        // Plain where the word may be plain; the reader or the loader sorts out the rest.
        _ if flow && word.contains([',', ':', '#']) => serde_json::to_string(word).expect("a string"),
        _ => word.to_owned(),
    }
}

fn flow(rng: &mut Rng, depth: u32) -> String {
    match rng.below(if depth > 2 { 1 } else { 3 }) {
        0 => scalar(rng, true),
        1 => {
            let items: Vec<String> = (0..rng.below(3)).map(|_| flow(rng, depth + 1)).collect();
            format!("[{}]", items.join(", "))
        }
        _ => {
            let items: Vec<String> = (0..rng.below(3)).map(|i| format!("k{i}: {}", flow(rng, depth + 1))).collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

fn block(rng: &mut Rng, out: &mut String, indent: usize, depth: u32) {
    let pad = " ".repeat(indent);
    let entries = 1 + rng.below(3);
    let list = depth > 0 && rng.below(3) == 0;
    for i in 0..entries {
        let lead = if list { format!("{pad}- k{i}:") } else { format!("{pad}k{i}:") };
        let column = if list { indent + 2 } else { indent };
        match rng.below(if depth > 3 { 3 } else { 5 }) {
            0 => out.push_str(&format!("{lead} {}\n", scalar(rng, false))),
            1 => out.push_str(&format!("{lead} {}\n", flow(rng, 0))),
            2 => {
                let chomp = ["", "-", "+"][rng.below(3) as usize];
                out.push_str(&format!("{lead} |{chomp}\n"));
                for _ in 0..1 + rng.below(3) {
                    let line = WORDS[rng.below(WORDS.len() as u64) as usize];
                    out.push_str(&format!("{}  {line}\n", " ".repeat(column)));
                }
                if rng.below(2) == 0 {
                    out.push('\n');
                }
            }
            3 => {
                out.push_str(&format!("{lead}\n"));
                block(rng, out, column + 2, depth + 1);
            }
            _ => {
                out.push_str(&format!("{lead}  # a comment\n"));
                for _ in 0..1 + rng.below(3) {
                    out.push_str(&format!("{}  - {}\n", " ".repeat(column), flow(rng, 1)));
                }
            }
        }
        if list {
            // The rest of the item's map, at its first key's column.
            out.push_str(&format!("{pad}  more: {}\n", scalar(rng, false)));
        }
    }
}

#[test]
fn given_generated_documents_the_hand_reader_agrees_with_the_loader() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut read_by_hand, mut cases) = (0, 0);
    for _ in 0..3000 {
        let mut text = String::new();
        block(&mut rng, &mut text, 0, 0);
        cases += 1;
        if agrees(&text).is_some() {
            read_by_hand += 1;
        }
    }
    // Most generated documents are the templates' own forms: the hand reader must take them.
    assert!(read_by_hand * 2 > cases, "the hand reader took only {read_by_hand} of {cases}");
}
