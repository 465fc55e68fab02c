//! The values read into the typed config directly give what their JSON gives ([`de`]).

use gpuplan_compiler::config::Config;
use gpuplan_compiler::values::{Map, Node, Origin, Source, Value, de};
use serde::Deserialize;

/// Every place in a tree of values, as the keys or indexes leading to it.
fn places(value: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    let children: Vec<(String, &Node)> = match value {
        Value::Map(map) => map.iter().map(|(k, n)| (k.clone(), n)).collect(),
        Value::List(items) => items.iter().enumerate().map(|(i, n)| (i.to_string(), n)).collect(),
        _ => Vec::new(),
    };
    for (token, node) in children {
        at.push(token);
        places(&node.value, at, out);
        at.pop();
    }
}

fn set(map: &mut Map, place: &[String], value: Value) {
    let Some((first, rest)) = place.split_first() else { return };
    let Some(mut node) = map.get_mut(first) else { return };
    for token in rest {
        node = match &mut node.value {
            Value::Map(map) => map.get_mut(token).expect("a place found above"),
            Value::List(items) => &mut items[token.parse::<usize>().expect("an index")],
            _ => return,
        };
    }
    node.value = value;
}

/// What the values read into, or whether they failed, both ways.
fn both(map: &Map) -> (Option<Config>, Option<Config>) {
    let direct = de::from_map::<Config>(map).ok();
    let json = serde_json::Value::Object(map.iter().map(|(k, n)| (k.clone(), n.value.to_json())).collect());
    (direct, Config::deserialize(&json).ok())
}

#[test]
fn the_defaults_and_every_change_of_one_value_read_as_their_json_reads() {
    let defaults = gpuplan_compiler::defaults().expect("defaults");
    let (direct, json) = both(&defaults.0);
    assert!(direct.is_some(), "the defaults read directly");
    assert_eq!(direct, json);
    let mut all = Vec::new();
    for (key, node) in &defaults.0 {
        places(&node.value, &mut vec![key.clone()], &mut all);
    }
    let origin = Origin::new(Source::Inline);
    let map = |k: &str, v: Value| Value::Map(Map::from([(k.to_owned(), Node::new(v, origin.clone()))]));
    let replacements = [
        Value::Null,
        Value::Bool(true),
        Value::Int(0),
        Value::Int(-3),
        Value::Int(7),
        Value::Float(2.0),
        Value::Float(-4.0),
        Value::Float(2.5),
        Value::Float(f64::NAN),
        Value::Float(f64::INFINITY),
        Value::Float(1e300),
        Value::Str("x".into()),
        Value::Str("2".into()),
        Value::Str("OnDelete".into()),
        Value::List(Vec::new()),
        Value::List(vec![Node::new(Value::Str("a".into()), origin.clone())]),
        Value::Map(Map::new()),
        map("name", Value::Str("n".into())),
    ];
    let (mut read, mut changes) = (0, 0);
    for place in &all {
        for replacement in &replacements {
            let mut changed = defaults.0.clone();
            set(&mut changed, place, replacement.clone());
            let (direct, json) = both(&changed);
            // Read directly, the same config; refused directly, refused as JSON (or read
            // again from the JSON, which `from_known_values` does).
            // The same config, or refused both ways.
            assert_eq!(direct, json, "/{} = {replacement:?}", place.join("/"));
            read += usize::from(direct.is_some());
            changes += 1;
        }
    }
    // Most replacements break the config's types: those read must still be many.
    assert!(read > 3_000, "only {read} of {changes} changes were read");
}
