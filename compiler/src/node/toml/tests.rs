//! The two shortcuts past toml_edit's printer give its bytes: [`Text::with_root_key`] those of
//! [`set_value`] and a render, [`emit::fresh`] those of a reset document's `Display`.

use std::path::Path;

use proptest::prelude::*;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

use super::{Text, emit, reset, set_value};

/// Every TOML file the node goldens start from, and configs shaped to catch what the
/// shortcuts must get right.
pub(crate) fn configs() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/node");
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("golden dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") && path.to_string_lossy().contains("/in/") {
                found.push((path.display().to_string(), std::fs::read_to_string(&path).expect("read")));
            }
        }
    }
    assert!(found.len() >= 10, "the node goldens' TOML inputs: {found:?}");
    let crafted = [
        "version = 2\n",
        "version = 2",
        "# header\n\n  version = 2 # the version\n\n# above the table\n[plugins]\n  a = 1\n",
        "version = 2\r\nimports = [\"/a/*.toml\"]\r\n\r\n[x]\r\ny = 1\r\n",
        "\u{feff}version = 3\nimports = [\n  \"/a/*.toml\", # first\n  \"/b/*.toml\",\n] # trailing\n[t]\n",
        "version = 2\nimports = []  # none yet\nroot = '/var/lib/containerd'\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n",
        "  version = 2\n  \"quoted key\" = 1\n  [a]\n",
        "version = 2\ntext = \"\"\"\nline\n[not.a.table]\n\"\"\"\n[a]\n",
        "version = 2\nimports = ['/etc/x/*.toml']\n# trailing comment\n",
    ];
    found.extend(crafted.iter().enumerate().map(|(i, t)| (format!("crafted {i}"), (*t).to_owned())));
    found
}

#[test]
fn a_top_level_key_written_into_the_text_is_what_set_value_and_a_render_give() {
    let mut shortcuts = 0;
    for (name, text) in configs() {
        let Ok(parsed) = Text::parse(&name, &text) else { continue };
        if !parsed.exact() {
            continue;
        }
        let mut imports = parsed.doc.get("imports").and_then(Item::as_array).cloned().unwrap_or_default();
        imports.push("/etc/containerd/conf.d/*.toml");
        let cases = [
            ("imports", Value::Array(imports)),
            ("version", Value::from(3)),
            ("new-key", Value::from("it's \"new\"")),
            ("new key", Value::Array(Array::new())),
        ];
        for (key, value) in cases {
            let Some(fast) = parsed.with_root_key(key, &value) else {
                // Only a file without top-level keys (none here has dotted ones) goes the long way.
                assert!(!parsed.doc.iter().any(|(_, item)| item.is_value()), "{name}: `{key}` went the long way");
                continue;
            };
            let mut slow = Text::parse(&name, &text).expect("parsed once");
            set_value(slow.doc.as_table_mut(), key, value.clone());
            assert_eq!(fast, slow.render(), "{name}: `{key}`");
            shortcuts += 1;
        }
    }
    assert!(shortcuts >= 80, "only {shortcuts} edits took the shortcut");
}

#[test]
fn toml_edit_gives_back_every_text_without_a_carriage_return_byte_for_byte() {
    let odd = [
        "a = 1 \t\n\t[t] \n",
        "a.b . c = 1\n[ x . y ]\n  [[ z ]]\n",
        "x = {a=1,b=2, c = { d = [ 1 ,2 ] } }\n",
        "x = 1_000\nf = 1e3\nd = 1979-05-27T07:32:00-08:00\nl = 07:32:00\n",
        "s = \"\"\"\n  multi \\\n  line\"\"\"\nt = '''\nraw\n'''\n",
        "# only a comment",
        "\n\n\n",
        "a = [ # c\n  1, # d\n\n  2,\n] # e\n",
        "'quoted'.\"key\" = true\n",
    ];
    let mut checked = 0;
    for (name, text) in configs().into_iter().chain(odd.iter().map(|t| ("odd".to_owned(), (*t).to_owned()))) {
        let Ok(parsed) = Text::parse(&name, &text) else { continue };
        if !parsed.body.contains('\r') {
            assert_eq!(parsed.doc.to_string(), parsed.body, "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} texts");
    // With a carriage return left in the body, the text is printed to compare.
    let mixed = Text::parse("mixed", "a = 1\r\nb = 2\n").expect("parses");
    assert!(!mixed.exact());
}

#[test]
fn a_top_level_key_is_left_to_the_document_when_the_keys_are_not_plain_lines() {
    let dotted = Text::parse("x", "version = 2\na.b = 1\n").expect("parses");
    assert_eq!(dotted.with_root_key("imports", &Value::from("x")), None);
    let tables_only = Text::parse("x", "[a]\nb = 1\n").expect("parses");
    assert_eq!(tables_only.with_root_key("version", &Value::from(2)), None);
}

/// What toml_edit prints for `doc` once its formatting is reset, and what [`emit::fresh`]
/// prints after resetting only the structure, with some tables made implicit after the reset;
/// `None` for a document with an array of tables, which only toml_edit prints.
fn both_printers(doc: &DocumentMut, implicit: &[&str]) -> Option<(String, String)> {
    // What follows the last table (a document's trailing comments) is not in what is reset.
    let doc = DocumentMut::from(doc.as_table().clone());
    let mut slow = doc.clone();
    reset(slow.as_table_mut());
    mark_implicit(slow.as_table_mut(), implicit);
    let mut fast = doc.clone();
    emit::reset_structure(fast.as_table_mut());
    mark_implicit(fast.as_table_mut(), implicit);
    let mut printed = String::new();
    emit::fresh(&mut printed, fast.as_table_mut()).then(|| (printed, slow.to_string()))
}

fn mark_implicit(table: &mut Table, names: &[&str]) {
    for (key, item) in table.iter_mut() {
        if let Item::Table(t) = item {
            if names.contains(&key.get()) {
                t.set_implicit(true);
            }
            mark_implicit(t, names);
        }
    }
}

#[test]
fn a_reset_document_prints_as_toml_edit_prints_it() {
    let mut printed = 0;
    for (name, text) in configs() {
        let Ok(doc) = text.parse::<DocumentMut>() else { continue };
        for implicit in [&[][..], &["plugins", "containerd", "runtimes", "mirrors", "registry"]] {
            let Some((fast, slow)) = both_printers(&doc, implicit) else { continue };
            assert_eq!(fast, slow, "{name}, implicit {implicit:?}");
            printed += 1;
        }
    }
    assert!(printed >= 20, "only {printed} configs printed");
    let edge = r#"
        f = [1.5, -0.0, inf, -inf, nan, 1e300, 3.0e-5]
        d = [1979-05-27T07:32:00Z, 1979-05-27, 07:32:00]
        s = ["it's", 'say "hi"', "tab\there", "new\nline", "ünïcödé", "\u007f", '''a\b''', """x"""]
        i = [0x1f, 0o7, -17, 9223372036854775807]
        'literal key' = { a.b = 1, "c d" = [{}, { e = true }] }
        a.b.c = "dotted"
        "" = "empty key"
        [t.u]
        x = 1
        [t.'v w'.x]
        [t."y"]
        z.w = [[1, 2], []]
    "#;
    let doc = edge.parse::<DocumentMut>().expect("edge cases parse");
    for implicit in [&[][..], &["t", "u", "v w", "x"]] {
        let (fast, slow) = both_printers(&doc, implicit).expect("no array of tables");
        assert_eq!(fast, slow, "implicit {implicit:?}");
    }
}

#[test]
fn an_array_of_tables_is_left_to_toml_edit() {
    let mut doc = "[[a]]\nb = 1\n".parse::<DocumentMut>().expect("parses");
    let mut printed = String::from("kept");
    assert!(!emit::fresh(&mut printed, doc.as_table_mut()));
    assert_eq!(printed, "kept");
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "\\PC{0,6}|[\"'\\\\\n\t\u{7f}a ]{0,6}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![any::<f64>(), Just(f64::NAN), Just(-0.0), Just(f64::INFINITY)].prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| Value::Array(v.into_iter().collect())),
            prop::collection::vec((key(), inner), 0..3)
                .prop_map(|kv| Value::InlineTable(kv.into_iter().collect::<InlineTable>())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]{1,4}", "[a-z.\" '-]{0,4}", "\\PC{0,3}"]
}

/// A table of values and sub-tables, some implicit, some dotted (holding values only).
pub(super) fn table() -> impl Strategy<Value = Table> {
    let leaf = prop::collection::vec((key(), value()), 0..4).prop_map(|kv| {
        let mut t = Table::new();
        for (k, v) in kv {
            t.insert(&k, Item::Value(v));
        }
        t
    });
    leaf.prop_recursive(3, 24, 4, |inner| {
        (prop::collection::vec((key(), value()), 0..3), prop::collection::vec((key(), inner, 0..3u8), 0..3)).prop_map(
            |(values, tables)| {
                let mut t = Table::new();
                for (k, v) in values {
                    t.insert(&k, Item::Value(v));
                }
                for (k, mut sub, kind) in tables {
                    let only_values = sub.iter().all(|(_, i)| i.is_value());
                    sub.set_implicit(kind == 1);
                    sub.set_dotted(kind == 2 && only_values && !sub.is_empty());
                    t.insert(&k, Item::Table(sub));
                }
                t
            },
        )
    })
}

proptest! {
    #[test]
    fn any_table_prints_as_toml_edit_prints_it_once_reset(root in table()) {
        let doc = DocumentMut::from(root);
        let (fast, slow) = both_printers(&doc, &[]).expect("no array of tables");
        prop_assert_eq!(fast, slow);
    }
}

/// One top-level `key = value` line as an admin may write it: indented or not, quoted key or
/// bare, values over several lines, comments after it and blank lines or comments above.
fn root_line() -> impl Strategy<Value = String> {
    let key = prop_oneof![Just("version".to_owned()), "[a-z_]{1,8}", "\"[a-z. ]{1,6}\"", "'[a-z.]{1,6}'"];
    let value = prop_oneof![
        Just("2".to_owned()),
        "\"[a-z/*.]{0,8}\"",
        "'[a-z\"]{0,6}'",
        Just("\"\"\"\nline\n[not.a.table]\n\"\"\"".to_owned()),
        Just("[\n  \"a\", # first\n  'b',\n] ".to_owned()),
        Just("[]".to_owned()),
        Just("{ a = 1, b = [2] }".to_owned()),
    ];
    let above = prop_oneof![Just(""), Just("\n"), Just("# about it\n"), Just("\n  # indented comment\n")];
    let after = prop_oneof![Just(""), Just("  "), Just(" # said after"), Just("\t#")];
    let indent = prop_oneof![Just(""), Just("  "), Just("\t")];
    (above, indent, key, value, after)
        .prop_map(|(above, indent, key, value, after)| format!("{above}{indent}{key} = {value}{after}\n"))
}

proptest! {
    #[test]
    fn any_top_level_layout_takes_a_key_as_set_value_and_a_render_do(
        lines in prop::collection::vec(root_line(), 1..5),
        tables in prop_oneof![Just(""), Just("\n[plugins]\n  a = 1\n"), Just("# before the table\n[t]\n[[u]]\n")],
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        let mut text = lines.concat() + tables;
        if !final_newline {
            text.pop();
        }
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        // Lines that repeat a key make no config: drawn again (too many, and the test fails).
        let parsed = Text::parse("generated", &text);
        prop_assume!(parsed.is_ok());
        let parsed = parsed.expect("assumed");
        let mut imports = parsed.doc.get("imports").and_then(Item::as_array).cloned().unwrap_or_default();
        imports.push("/etc/containerd/conf.d/*.toml");
        let existing = parsed.doc.iter().find(|(_, item)| item.is_value()).map(|(k, _)| k.to_owned());
        let cases = [("imports".to_owned(), Value::Array(imports))].into_iter().chain(existing.map(|k| (k, Value::from(3))));
        for (key, value) in cases {
            let fast = parsed.with_root_key(&key, &value).expect("plain top-level lines take the shortcut");
            let mut slow = Text::parse("generated", &text).expect("parsed once");
            set_value(slow.doc.as_table_mut(), &key, value);
            prop_assert_eq!(&fast, &slow.render(), "`{}` in\n{}", key, text);
            prop_assert!(Text::parse("generated", &fast).is_ok());
        }
    }
}
