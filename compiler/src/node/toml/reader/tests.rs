//! The quick reader gives what toml_edit reads, or leaves the file to it: the same values, keys
//! printed with the same quoting, the same top-level edit, and the same error for a file
//! toml_edit refuses.

use proptest::prelude::*;
use toml_edit::{Array, DocumentMut, Item, Table, Value};

use super::super::tests::{configs, table};
use super::super::{Text, emit, plain, tree};

/// A document's text as the drop-in printer gives it: every key as it was read.
fn printed(doc: &DocumentMut) -> Option<String> {
    let mut root = doc.as_table().clone();
    emit::reset_structure(&mut root);
    let mut out = String::new();
    emit::fresh(&mut out, &mut root).then_some(out)
}

/// The values of a text read quickly, in toml_edit's types.
fn values(read: &Text) -> DocumentMut {
    read.tree.as_ref().map_or_else(|| read.doc.clone(), |t| DocumentMut::from(t.to_edit()))
}

/// A tree's text as the drop-in printer gives it.
fn printed_tree(tree: &tree::Table) -> String {
    let mut root = tree.clone();
    root.reset_structure();
    let mut out = String::new();
    emit::tree(&mut out, &root);
    out
}

/// `text` read quickly and parsed give the same document and the same top-level edit; whether
/// the quick reader took it.
fn same_as_toml_edit(name: &str, text: &str) -> Result<bool, TestCaseError> {
    let (read, parsed) = (Text::read(name, text), Text::parse(name, text));
    let (read, parsed) = match (read, parsed) {
        (Ok(read), Ok(parsed)) => (read, parsed),
        (Err(read), Err(parsed)) => {
            prop_assert_eq!(read.to_string(), parsed.to_string(), "{}", name);
            return Ok(false);
        }
        (read, parsed) => {
            return Err(TestCaseError::fail(format!("{name}: read {:?}, parsed {:?}", read.is_ok(), parsed.is_ok())));
        }
    };
    let doc = values(&read);
    prop_assert_eq!(plain(&Item::Table(doc.as_table().clone())), plain(&Item::Table(parsed.doc.as_table().clone())));
    prop_assert_eq!(printed(&doc), printed(&parsed.doc), "{}", name);
    if let Some(tree) = &read.tree {
        // Printed from the tree itself, and the tree made again from toml_edit's types.
        prop_assert_eq!(Some(printed_tree(tree)), printed(&parsed.doc), "{}", name);
        // Compared as printed for debugging: a NaN is not equal to itself.
        let again = tree::Table::from_edit(doc.as_table());
        prop_assert_eq!(format!("{again:?}"), format!("{:?}", Some(tree)), "{}", name);
    }
    let mut imports = parsed.doc.get("imports").and_then(Item::as_array).cloned().unwrap_or_default();
    imports.push("/etc/containerd/conf.d/*.toml");
    for (key, value) in [("imports", Value::Array(imports)), ("new key", Value::Array(Array::new()))] {
        prop_assert_eq!(read.with_root_key(key, &value), parsed.with_root_key(key, &value), "{}: {}", name, key);
    }
    Ok(!read.formatted)
}

/// Files shaped like admins' configs, each valid, some of them not for the quick reader.
const CRAFTED: [&str; 12] = [
    "version = 2\nratio = 0.02\nneg = -0.0\nbig = 1e300\nspelled = -inf\nnot_a_number = nan\n",
    "'literal key' = 1\n\"bare\" = 2\n\"dotted.key\" = 3\n\"\" = 4\n'with \"quotes\"' = 5\n\"tab\\there\" = 6\n",
    "\"ünïcode\" = \"välue\"\n\"escaped\\u00e9\" = 'x'\n",
    "[a.b]\nc = 1\n[a]\nd = 2\n[a.e]\n",
    "[ a . \"b c\" . 'd' ]\nx = [ 1, [ 2, 3 ], [ ], \"s\", ] # after\n",
    "x = [\n  # first\n  \"a\",\n\n  \"b\" # second\n  ,\n]\n[t]\n",
    "hex = 0xff\noct = 0o17\nbin = 0b11\nunder = 1_000\nplus = +5\n",
    "s = \"\"\"\nmulti\nline\"\"\"\nl = '''\nraw\\n'''\n",
    "when = 1979-05-27T07:32:00Z\n",
    "a.b = 1\n",
    "t = { a = 1 }\n",
    "[[a]]\nb = 1\n",
];

#[test]
fn every_file_the_reader_takes_holds_what_toml_edit_reads() {
    let mut taken = 0;
    let configs = configs();
    let goldens = configs.iter().filter(|(name, _)| !name.starts_with("crafted")).count();
    for (name, text) in &configs {
        taken += usize::from(same_as_toml_edit(name, text).expect("same as toml_edit"));
    }
    // The golden inputs are containerd's and CRI-O's shipped configs and admins' edits of them:
    // the reader takes every one.
    assert!(taken >= goldens, "took {taken} of {goldens} golden inputs");
    let mut crafted = Vec::new();
    for (i, text) in CRAFTED.iter().enumerate() {
        crafted.push(same_as_toml_edit(&format!("crafted {i}"), text).expect("same as toml_edit"));
    }
    // Date-times, dotted keys, inline tables and arrays of tables are left to toml_edit.
    assert_eq!(crafted, [true, true, true, true, true, true, true, true, false, false, false, false]);
}

#[test]
fn a_file_toml_edit_refuses_the_reader_refuses_with_toml_edits_error() {
    let refused = [
        "a = 1\na = 2\n",
        "[a]\n[a]\n",
        "[a]\nb = 1\n[a.b]\n",
        "[a.b]\n[a]\nb = 1\n",
        "[a.b]\n[a]\n[a]\n",
        "[x]\n[y]\n[x]\n",
        "[m.a]\n[m.b]\n[m.a]\n",
        "a = 99999999999999999999\n",
        "a = 1e400\n",
        "a = \"\\q\"\n",
        "# a \u{7} bell\n",
        "a = [1, 2\n",
        "a = 1 b = 2\n",
        "[a\n",
        "a = 01\n",
        "\"a\" = 1\na = 2\n",
    ];
    for text in refused {
        assert!(super::read(text).is_none(), "read {text:?}");
        let (read, parsed) = (Text::read("c.toml", text), Text::parse("c.toml", text));
        let read = read.err().unwrap_or_else(|| panic!("read {text:?}"));
        let parsed = parsed.err().unwrap_or_else(|| panic!("parsed {text:?}"));
        assert_eq!(read.to_string(), parsed.to_string());
    }
}

#[test]
fn a_file_read_quickly_is_printed_only_once_parsed() {
    let text = "version = 2 # kept\n\n[plugins]\n  a = 'b'\n";
    let mut read = Text::read("c.toml", text).expect("reads");
    assert!(!read.formatted);
    read.make_printable("c.toml").expect("parses");
    assert_eq!(read.render(), text);
}

/// What the quick scan reads, it reads as toml_parser's events do; whether it read it.
fn scan_as_events(text: &str) -> Result<bool, TestCaseError> {
    let Some(scanned) = super::scan::read(text) else { return Ok(false) };
    let events = super::events::read(text);
    prop_assert!(events.is_some(), "scanned what the events' reader leaves: {:?}", text);
    prop_assert_eq!(format!("{:?}", Some(scanned)), format!("{events:?}"), "{:?}", text);
    Ok(true)
}

#[test]
fn the_scan_reads_as_the_events_do_and_takes_the_shipped_configs() {
    let mut scanned = Vec::new();
    for (name, text) in configs() {
        if scan_as_events(&text).expect("same as the events") {
            scanned.push(name);
        }
    }
    // containerd's shipped configs are made only of what the scan takes (1.7's has an array
    // of tables, which only toml_edit reads).
    for version in ["containerd-1.6-default", "containerd-2-default"] {
        assert!(scanned.iter().any(|name| name.contains(version)), "{version} not scanned: {scanned:?}");
    }
    let taken = |texts: &[&str]| -> Vec<bool> {
        texts.iter().map(|text| scan_as_events(text).expect("same as the events")).collect()
    };
    // Of the crafted files, those with only headers, plain keys, integers and arrays.
    assert_eq!(taken(&CRAFTED), [false, false, false, true, true, true, false, false, false, false, false, false]);
    assert_eq!(taken(&SCAN_EDGES), [[true; 4].as_slice(), &[false; 8]].concat());
}

/// Lines at the edge of what the scan takes; the first four it takes.
const SCAN_EDGES: [&str; 12] = [
    "a = \"\"\nb = -0\nc = [ ]\n\"\" = 'c:\\dir'\n",
    "[ a . \"b\" ]  # c\n  x = [\n  1, # one\n  [true, false],\n\n]\n",
    "\"bare\" = \"tab\there\"\n\"ü\" = \"é\"\n",
    "x = -9223372036854775808\n",
    "x = 9223372036854775808\n",
    "x = 01\n",
    "x = '''\n",
    "\"a\tb\" = 1\n",
    "x = [1,,2]\n",
    "x = 1\r\n",
    "x = \"\u{7f}\"\n",
    "x = true1\n",
];

/// A line of a config as the scan may meet it: taken, near what it takes, or not TOML.
fn scan_line() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("a".to_owned()),
        "[a-z0-9_-]{1,4}",
        "\"[a-z. \t\\\\'-]{0,4}\"",
        "'[a-z.]{0,3}'",
        Just("a.b".to_owned()),
        Just("ü".to_owned()),
    ];
    let scalar = prop_oneof![
        "\"[a-z \t\\\\'#\\]\\[,ü\u{7f}\u{1}-]{0,5}\"",
        "'[a-z \\\\\"#,]{0,4}'",
        Just("\"\"\"x\"\"\"".to_owned()),
        Just("'''x'''".to_owned()),
        "-?[0-9_]{1,4}",
        "[+-]?[0-9]{1,3}[.e][0-9]{1,2}",
        prop_oneof![Just("true"), Just("false"), Just("tru"), Just("truex"), Just("inf"), Just("nan")]
            .prop_map(str::to_owned),
        Just("1979-05-27".to_owned()),
        Just("{ a = 1 }".to_owned()),
    ];
    let separator = prop_oneof![Just(","), Just(", "), Just(",\n"), Just(" # c\n,"), Just("")];
    let value = prop_oneof![
        scalar.clone(),
        prop::collection::vec((scalar, separator), 0..4)
            .prop_map(|items| format!("[{}]", items.into_iter().map(|(v, sep)| v + sep).collect::<String>())),
    ];
    let header = prop::collection::vec(key.clone(), 1..4).prop_map(|keys| format!("[{}]", keys.join(".")));
    let blank = prop_oneof![Just(""), Just(" "), Just("\t"), Just("  ")];
    let end = prop_oneof![Just(""), Just(" # note"), Just("#\t ü"), Just(" x"), Just("\r"), Just("# \u{7}")];
    prop_oneof![
        (blank.clone(), key, blank.clone(), value, end.clone())
            .prop_map(|(b, k, b2, v, e)| format!("{b}{k}{b2}={b2}{v}{e}\n")),
        (blank.clone(), header, end.clone()).prop_map(|(b, h, e)| format!("{b}{h}{e}\n")),
        (blank, end).prop_map(|(b, e)| format!("{b}{e}\n")),
        Just("[[a]]\n".to_owned()),
    ]
}

proptest! {
    #[test]
    fn any_text_the_scan_reads_it_reads_as_the_events_do(lines in prop::collection::vec(scan_line(), 1..8)) {
        scan_as_events(&lines.concat())?;
    }
}

proptest! {
    #[test]
    fn any_printed_table_reads_as_toml_edit_reads_it(root in table()) {
        let text = DocumentMut::from(root).to_string();
        same_as_toml_edit("generated", &text)?;
    }

    #[test]
    fn any_key_is_quoted_by_default_as_toml_writer_quotes_it(key in "\\PC{0,4}|[a-z.\"' \\\\\t-]{0,5}") {
        let mut fast = String::new();
        let mut t = Table::new();
        t.insert(&key, Item::Value(Value::from(1)));
        emit::fresh(&mut fast, &mut t);
        prop_assert_eq!(fast, DocumentMut::from(t).to_string());
    }
}
