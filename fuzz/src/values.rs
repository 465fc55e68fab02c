//! The values targets: `--set*` flags and YAML documents.

use gpuplan_compiler::limits::{MAX_ALIAS_BYTES, MAX_DEPTH, MAX_NODES};
use gpuplan_compiler::values::print::{to_json, to_yaml};
use gpuplan_compiler::values::{FlagKind, Node, Source, Value, Values, load::load};
use gpuplan_compiler::{InputFlag, Inputs};

use super::Gen;

/// A value no error may ever show: it is only written under a key that names a secret.
const SECRET: &str = "hunter2-SECRET";

/// Key path parts: real keys of the values (so inputs reach the schema's and the config's
/// checks), keys that name secrets, and text the strvals grammar treats specially.
const KEYS: [&str; 24] = [
    "toolkit",
    "env",
    "name",
    "value",
    "driver",
    "version",
    "operator",
    "defaultRuntime",
    "daemonsets",
    "labels",
    "tolerations",
    "devicePlugin",
    "cdi",
    "enabled",
    "extraObjects",
    "node-feature-discovery",
    "a",
    "",
    "password",
    "apiToken",
    r"x\.y",
    r"a\,b",
    r"c\=d",
    "ünï",
];

/// Indexes, Helm's limits among them.
const INDEXES: [&str; 10] = ["0", "1", "3", "65536", "65537", "-1", "x", "", "00", "99999999999999999999"];

/// Scalars as `--set` infers them, and text the grammar treats specially.
const SCALARS: [&str; 22] = [
    "true",
    "FALSE",
    "null",
    "010",
    "0",
    "-1",
    "9223372036854775808",
    "1e3",
    "1.5",
    "containerd",
    "crio",
    "/run/containerd/containerd.sock",
    "CONTAINERD_SOCKET",
    "CONTAINERD_SET_AS_DEFAULT",
    "",
    "a,b",
    r"a\,b",
    "{a,b}",
    "{",
    "}",
    "=",
    "http://user:pw@proxy",
];

fn key_path(g: &mut Gen<'_>) -> String {
    let mut path = String::new();
    for i in 0..1 + g.below(6) {
        if i > 0 {
            path.push(if g.below(8) == 0 { ',' } else { '.' });
        }
        path.push_str(g.pick(&KEYS));
        for _ in 0..g.below(3) {
            path.push('[');
            let index = match g.pick(&INDEXES) {
                // 65,537 values each time: kept to one pick in eight, so inputs stay fast.
                "65536" if g.below(8) > 0 => "2",
                index => index,
            };
            path.push_str(index);
            if g.below(10) > 0 {
                path.push(']');
            }
        }
    }
    if g.below(16) == 0 {
        // Deep paths, to reach the nesting limits.
        let depth = g.below(2 * MAX_DEPTH);
        path.push_str(&".k".repeat(depth / 2));
        path.push_str(&"[0]".repeat(depth / 2));
    }
    path
}

/// A JSON value (or something close to one); [`SECRET`] only where `secret` says the key
/// names a secret.
fn json_value(g: &mut Gen<'_>, depth: usize, secret: bool) -> String {
    match g.below(if depth > 6 { 6 } else { 10 }) {
        0 => "null".into(),
        1 => g.pick(&["true", "false", "1", "-0.5e3", "1e999", "01", "\"\\ud83d\\ude00\"", "\"\\ud800\""]).to_string(),
        2 => format!("\"{}\"", g.pick(&SCALARS).replace('"', "\\\"")),
        3 if secret => format!("\"{SECRET}\""),
        3 => "\"not a secret\"".into(),
        4 => g.text(8),
        5 => g.pick(&["{", "[", "\"", "}", "]", ",", ":", "tru"]).to_string(),
        6 | 7 => {
            let items: Vec<String> = (0..g.below(4)).map(|_| json_value(g, depth + 1, secret)).collect();
            format!("[{}]", items.join(","))
        }
        _ => {
            let items: Vec<String> = (0..g.below(4))
                .map(|_| {
                    let key = if g.below(4) == 0 { "password" } else { g.pick(&KEYS) };
                    let secret = secret || key == "password";
                    format!("\"{key}\":{}", json_value(g, depth + 1, secret))
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

/// One flag's text: assignments joined by commas, or raw text.
fn flag_text(g: &mut Gen<'_>, kind: FlagKind) -> String {
    if g.below(8) == 0 {
        return g.text(64);
    }
    let mut parts = Vec::new();
    for _ in 0..1 + g.below(4) {
        let key = key_path(g);
        if g.below(6) == 0 {
            // A secret, under a key that says so.
            parts.push(format!("{}registry.password={SECRET}", if key.is_empty() { "" } else { "x." }));
            continue;
        }
        let value = match kind {
            FlagKind::SetJson => json_value(g, 0, false),
            _ if g.below(5) == 0 => {
                let items: Vec<&str> = (0..g.below(4)).map(|_| g.pick(&SCALARS)).collect();
                format!("{{{}}}", items.join(","))
            }
            _ if g.below(8) == 0 => g.text(16),
            _ => g.pick(&SCALARS).to_string(),
        };
        match g.below(12) {
            0 => parts.push(key),
            1 => parts.push(format!("{key}=")),
            _ => parts.push(format!("{key}={value}")),
        }
    }
    parts.join(",")
}

/// The flags [`set_flags`] builds from `data`, and whether it checks their values too.
pub fn set_flags_input(data: &[u8]) -> (Inputs, bool) {
    let mut g = Gen::new(data);
    let kinds = FlagKind::ORDER;
    let mut flags = Vec::new();
    for _ in 0..1 + g.below(4) {
        let kind = g.pick(&kinds);
        flags.push(InputFlag { kind, text: flag_text(&mut g, kind) });
    }
    (Inputs { files: Vec::new(), flags }, g.below(4) == 0)
}

/// `--set*` flags: loaded, checked, their diagnostics rendered.
pub fn set_flags(data: &[u8]) {
    let (inputs, check) = set_flags_input(data);
    // --set-file reads "files" of a few bytes; an error names no path.
    let mut read_file = |path: &str| {
        if path.len().is_multiple_of(3) {
            Err("no such file".to_owned())
        } else {
            Ok(format!("contents of a file\n{}", path.len()))
        }
    };
    match gpuplan_compiler::load(&inputs, &mut read_file) {
        Err(e) => {
            let shown = format!("{e}\n{}", e.detail().unwrap_or_default());
            assert!(!shown.contains(SECRET), "an error shows a secret: {shown}\nflags: {:#?}", inputs.flags);
        }
        Ok(user) => {
            within_limits(&user, usize::MAX);
            if check {
                let Ok(effective) = gpuplan_compiler::coalesce(user) else { return };
                for d in gpuplan_compiler::check(&effective, false) {
                    let shown = d.render(&|_, _| None);
                    assert!(!shown.contains(SECRET), "a diagnostic shows a secret: {shown}");
                }
            }
        }
    }
}

/// Every value of a tree within the nesting limit, the tree within the budget of values, and
/// its text within `max_bytes`.
fn within_limits(values: &Values, max_bytes: usize) {
    fn walk(node: &Node, depth: usize, count: &mut (usize, usize)) {
        count.0 += 1;
        match &node.value {
            Value::Map(map) => {
                assert!(depth <= MAX_DEPTH, "values nest {depth} levels");
                for (key, child) in map {
                    count.0 += 1;
                    count.1 += key.len();
                    walk(child, depth + 1, count);
                }
            }
            Value::List(items) => {
                assert!(depth <= MAX_DEPTH, "values nest {depth} levels");
                for child in items {
                    walk(child, depth + 1, count);
                }
            }
            Value::Str(s) => count.1 += s.len(),
            _ => {}
        }
    }
    let mut count = (1, 0);
    for (key, node) in &values.0 {
        count.0 += 1;
        count.1 += key.len();
        walk(node, 2, &mut count);
    }
    assert!(count.0 <= MAX_NODES + 1, "{} values", count.0);
    assert!(count.1 <= max_bytes, "{} bytes of text", count.1);
}

/// YAML 1.1 scalars, in every style gpuplan must read as Helm does.
const YAML_SCALARS: [&str; 32] = [
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "~",
    "null",
    "010",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "+1",
    "-0",
    "1e3",
    ".5",
    ".inf",
    "-.Inf",
    ".nan",
    "2001-12-14",
    "1:20",
    "'quoted'",
    "\"dq \\u00e9 \\x41\"",
    "\"\"",
    "plain text",
    "a: b",
    "- a",
    "#c",
    "!!str 010",
    "!!int 12",
    "!!binary aGVsbG8=",
    "!custom x",
];

struct Doc<'g, 'a> {
    g: &'g mut Gen<'a>,
    out: String,
    anchors: usize,
}

impl Doc<'_, '_> {
    fn scalar(&mut self) -> String {
        match self.g.below(12) {
            0 if self.anchors > 0 => {
                let a = self.g.below(self.anchors);
                format!("*a{a}")
            }
            1 => self.g.text(12).replace(['\n', '\r'], " "),
            2 => "|\n  block\n   text\n".into(),
            _ => self.g.pick(&YAML_SCALARS).to_string(),
        }
    }

    fn anchor(&mut self) -> String {
        if self.g.below(4) == 0 {
            self.anchors += 1;
            format!("&a{} ", self.anchors - 1)
        } else {
            String::new()
        }
    }

    fn flow(&mut self, depth: usize) -> String {
        match self.g.below(if depth > 8 { 2 } else { 4 }) {
            0 | 1 => self.scalar(),
            2 => {
                let items: Vec<String> = (0..self.g.below(4)).map(|_| self.flow(depth + 1)).collect();
                format!("{}[{}]", self.anchor(), items.join(", "))
            }
            _ => {
                let items: Vec<String> =
                    (0..self.g.below(4)).map(|_| format!("{}: {}", self.g.pick(&KEYS), self.flow(depth + 1))).collect();
                format!("{}{{{}}}", self.anchor(), items.join(", "))
            }
        }
    }

    fn block(&mut self, indent: usize, depth: usize) {
        let pad = " ".repeat(indent);
        for _ in 0..1 + self.g.below(4) {
            let key = match self.g.below(10) {
                0 => "<<".to_owned(),
                1 => self.g.pick(&["yes", "1", "~", "? complex", "\"quoted\"", "dup"]).to_string(),
                _ => self.g.pick(&KEYS).to_string(),
            };
            match self.g.below(if depth > 6 { 2 } else { 5 }) {
                0 | 1 => {
                    let value = self.flow(depth + 1);
                    self.out.push_str(&format!("{pad}{key}: {value}\n"));
                }
                2 => {
                    let anchor = self.anchor();
                    self.out.push_str(&format!("{pad}{key}: {anchor}\n"));
                    self.block(indent + 2, depth + 1);
                }
                3 => {
                    self.out.push_str(&format!("{pad}{key}:\n"));
                    for _ in 0..1 + self.g.below(3) {
                        let item = self.flow(depth + 1);
                        self.out.push_str(&format!("{pad}- {item}\n"));
                    }
                }
                _ => {
                    let noise =
                        self.g.pick(&["# comment", "\t", "---", "...", "%YAML 1.1", "  bad: indent", "- x", "? "]);
                    self.out.push_str(&format!("{pad}{noise}\n"));
                }
            }
        }
    }
}

/// A YAML document: loaded as a values file, printed and read back; read as a plan.
pub fn yaml(data: &[u8]) {
    check_yaml(&yaml_input(data));
}

/// The document [`yaml`] builds from `data`.
pub fn yaml_input(data: &[u8]) -> String {
    let mut g = Gen::new(data);
    match g.below(6) {
        0 => g.rest(),
        1 => {
            // A "billion laughs": levels of lists of aliases of the level before.
            let (levels, fan) = (1 + g.below(12), 1 + g.below(12));
            let mut text = format!("l0: &l0 [{}]\n", vec!["x"; fan].join(", "));
            for i in 1..levels {
                text.push_str(&format!("l{i}: &l{i} [{}]\n", vec![format!("*l{}", i - 1); fan].join(", ")));
            }
            text
        }
        _ => {
            let mut doc = Doc { g: &mut g, out: String::new(), anchors: 0 };
            if doc.g.below(8) == 0 {
                doc.out.push_str("%YAML 1.1\n---\n");
            }
            doc.block(0, 1);
            let mut text = doc.out;
            if g.bool() {
                text = text.replace('\n', "\r\n");
            }
            if g.below(8) == 0 {
                text.insert(0, '\u{feff}');
            }
            text
        }
    }
}

fn check_yaml(text: &str) {
    let _ = gpuplan_compiler::plan::read::read(text, "fuzz.yaml");
    let Ok(values) = load(text, &Source::File("fuzz.yaml".into())) else { return };
    within_limits(&values, text.len() + MAX_ALIAS_BYTES);
    // What gpuplan prints reads back as the same values (numbers from YAML are floats).
    let printed = to_yaml(&values.0);
    let back =
        load(&printed, &Source::Inline).unwrap_or_else(|e| panic!("printed YAML does not read back: {e}\n{printed}"));
    assert!(Value::Map(back.0).same(&Value::Map(values.0.clone())), "printed YAML reads back differently:\n{printed}");
    let json = to_json(&values.0);
    assert!(serde_json_ok(&json), "printed JSON does not parse:\n{json}");
}

/// Whether JSON text parses (through gpuplan's own `--set-json` reader, which takes any value).
fn serde_json_ok(json: &str) -> bool {
    let origin = gpuplan_compiler::values::Origin::new(Source::Inline);
    let mut budget = gpuplan_compiler::limits::Budget::new(usize::MAX);
    gpuplan_compiler::values::json::decode(json, &origin, usize::MAX, &mut budget)
        .is_ok_and(|(_, used)| used == json.trim_end().len())
}
