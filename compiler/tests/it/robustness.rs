//! Bad input never panics, and what gpuplan prints reads back as what it holds.
//!
//! Given random and truncated text, the `--set` parsers and the YAML loader return a value or
//! an error, never a panic. Given random values, the YAML and JSON printers produce text that
//! reads back (in gpuplan's YAML 1.1 loader, and in a JSON parser) as the same values.

use gpuplan_compiler::DEFAULT_VALUES;
use gpuplan_compiler::values::print::{to_json, to_yaml};
use gpuplan_compiler::values::{FlagKind, Map, Node, Origin, Source, Value, load::load, set};
use proptest::prelude::*;

/// Text rich in the characters the strvals grammar and YAML treat specially.
fn tricky_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![
                '=', '[', ']', ',', '.', '{', '}', '\\', '"', '\'', ':', '-', '#', '&', '*', '!', '|', '>', '%', '@',
                ' ', '\t', '\n', '0', '1', '9', 'a', 'x', 'y', 'n', 'e', '~', '+', 'é', '😀',
            ]),
            1 => any::<char>(),
        ],
        0..60,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn set_parsers_never_panic(text in tricky_text()) {
        for kind in FlagKind::ORDER {
            let mut map = Map::new();
            let _ = set::apply(&mut map, kind, 1, &text, &mut |p: &str| Ok(p.to_owned()));
        }
    }

    #[test]
    fn set_parsers_never_panic_on_valid_looking_assignments(key in "[a-z]{1,3}(\\[[0-9]{1,6}\\])?(\\.[a-z]{1,3})?", value in tricky_text()) {
        for kind in FlagKind::ORDER {
            let mut map = Map::new();
            let _ = set::apply(&mut map, kind, 1, &format!("{key}={value}"), &mut |p: &str| Ok(p.to_owned()));
        }
    }

    #[test]
    fn yaml_loader_never_panics(text in tricky_text()) {
        let _ = load(&text, &Source::Inline);
    }

    #[test]
    fn yaml_loader_never_panics_on_truncated_values(cut in 0..DEFAULT_VALUES.len()) {
        let end = (0..=cut).rev().find(|&i| DEFAULT_VALUES.is_char_boundary(i)).unwrap_or(0);
        let _ = load(&DEFAULT_VALUES[..end], &Source::Inline);
    }

    #[test]
    fn printed_yaml_reads_back_identically(tree in values_tree()) {
        let text = to_yaml(&tree);
        let back = load(&text, &Source::Inline).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(Value::Map(back.0.clone()).same(&floats_only(&Value::Map(tree.clone()))), "{text}");
    }

    #[test]
    fn printed_json_reads_back_identically(tree in values_tree()) {
        let text = to_json(&tree);
        let back: serde_json::Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(json_eq(&back, &Value::Map(tree).to_json()), "{text}");
    }
}

/// YAML numbers read back as floats (Helm's rule), so integers compare as floats.
fn floats_only(value: &Value) -> Value {
    match value {
        Value::Int(i) => Value::Float(*i as f64),
        Value::List(items) => {
            Value::List(items.iter().map(|n| Node::new(floats_only(&n.value), n.origin.clone())).collect())
        }
        Value::Map(map) => Value::Map(
            map.iter().map(|(k, n)| (k.clone(), Node::new(floats_only(&n.value), n.origin.clone()))).collect(),
        ),
        other => other.clone(),
    }
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::Int),
        any::<f64>().prop_filter("JSON holds finite numbers", |f| f.is_finite()).prop_map(Value::Float),
        tricky_text().prop_map(Value::Str),
        prop::sample::select(vec![
            "yes",
            "On",
            "010",
            "0x1F",
            "1e3",
            "~",
            "null",
            "1:20",
            "2001-12-14",
            "-",
            "- a",
            "a: b",
            "#c",
            "",
            " ",
            "\n",
            "a\n",
            "a\n\n",
            " a\nb"
        ])
        .prop_map(|s| Value::Str(s.into())),
    ]
}

fn node(value: Value) -> Node {
    Node::new(value, Origin::new(Source::Inline))
}

fn values_tree() -> impl Strategy<Value = Map> {
    let value = leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| Value::List(items.into_iter().map(node).collect())),
            proptest::collection::btree_map(tricky_text(), inner, 0..5)
                .prop_map(|m| Value::Map(m.into_iter().map(|(k, v)| (k, node(v))).collect())),
        ]
    });
    proptest::collection::btree_map(tricky_text(), value, 0..6)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k, node(v))).collect())
}

/// JSON equality with numbers compared as numbers (`-0` equals `0`, `1.0` equals `1`).
fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        (x, y) => x == y,
    }
}
