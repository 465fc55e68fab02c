//! Replays Helm v3's own test tables (recorded by running Helm's code) against gpuplan's
//! values engine: strvals parsing, coalescing and YAML decoding. Given a case, running the
//! matching gpuplan function produces Helm's recorded map, number types, warnings and errors.

use std::collections::BTreeMap;

use gpuplan_compiler::values::merge::{self, Chart};
use gpuplan_compiler::values::print::{go_g, go_v, to_yaml};
use gpuplan_compiler::values::{FlagKind, Map, Node, Origin, Source, Value, load, set};
use serde_json::Value as J;

fn data(name: &str) -> Vec<J> {
    let path = format!("{}/tests/data/helm/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("conformance data is checked in");
    serde_json::from_str(&text).expect("conformance data is JSON")
}

fn inline() -> Origin {
    Origin::new(Source::Inline)
}

fn to_map(json: &J) -> Map {
    match Value::from_json(json, &inline()) {
        Value::Map(m) => m,
        _ => Map::new(),
    }
}

/// Compare our value with Helm's JSON: numbers by value, everything else structurally.
fn same(ours: &Value, helm: &J, pointer: &str, diffs: &mut Vec<String>) {
    match (ours, helm) {
        (Value::Null, J::Null) => {}
        (Value::Bool(a), J::Bool(b)) if a == b => {}
        (Value::Int(a), J::Number(b)) if Some(*a as f64) == b.as_f64() => {}
        (Value::Float(a), J::Number(b)) if Some(*a) == b.as_f64() => {}
        (Value::Str(a), J::String(b)) if a == b => {}
        (Value::List(a), J::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same(&x.value, y, &format!("{pointer}/{i}"), diffs);
            }
        }
        (Value::Map(a), J::Object(b)) if a.len() == b.len() && a.keys().all(|k| b.contains_key(k)) => {
            for (k, x) in a {
                same(&x.value, &b[k], &format!("{pointer}/{k}"), diffs);
            }
        }
        _ => diffs.push(format!("{pointer}: ours {} != helm {helm}", go_v(ours))),
    }
}

/// Check the Go number type of every numeric leaf Helm recorded.
fn types(map: &Map, types: Option<&J>, diffs: &mut Vec<String>) {
    let root = Node::new(Value::Map(map.clone()), inline());
    let mut found = BTreeMap::new();
    root.walk(&mut String::new(), &mut |pointer, node| {
        let kind = match node.value {
            Value::Int(_) => "int64",
            Value::Float(_) => "float64",
            _ => return,
        };
        found.insert(pointer.to_owned(), kind);
    });
    let want: BTreeMap<String, &str> = types
        .and_then(J::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    for (pointer, kind) in &want {
        let kind = if *kind == "int" { "int64" } else { kind };
        if found.get(pointer) != Some(&kind) {
            diffs.push(format!("{pointer}: type {:?}, helm {kind}", found.get(pointer)));
        }
    }
    for pointer in found.keys() {
        if !want.contains_key(pointer) {
            diffs.push(format!("{pointer}: numeric here, not in Helm's types"));
        }
    }
}

fn apply_line(map: &mut Map, kind: FlagKind, line: &str, stub_files: bool) -> Result<(), String> {
    let mut reader = |path: &str| -> Result<String, String> {
        if stub_files {
            Ok(format!("<contents of {path}>"))
        } else if path == "path1" {
            Ok("value1".into())
        } else {
            Err(format!("open {path}: no such file or directory"))
        }
    };
    set::apply(map, kind, 1, line, &mut reader).map_err(|e| match e {
        gpuplan_compiler::Error::Flag { message, .. } => message,
        other => other.to_string(),
    })
}

fn run_strvals(case: &J) -> Result<Map, String> {
    let func = case["func"].as_str().unwrap_or_default();
    let input = case["input"].as_str().unwrap_or_default();
    let kind = match func {
        "ParseSet" | "ParseInto" | "ToYAML" => FlagKind::Set,
        "ParseSetString" | "ParseIntoString" => FlagKind::SetString,
        "ParseJSON" => FlagKind::SetJson,
        "ParseFile" | "ParseIntoFile" => FlagKind::SetFile,
        "ParseLiteral" | "ParseLiteralInto" => FlagKind::SetLiteral,
        other => panic!("unknown strvals function {other}"),
    };
    let mut map = to_map(&case["base"]);
    let stub = case["test"].as_str().is_some_and(|t| t.contains("derived"));
    let result = apply_line(&mut map, kind, input, stub);
    if case.get("base") == Some(&J::Null) && func == "ParseJSON" && !map.is_empty() {
        // Go passed a nil map: its first assignment panics before anything later is parsed.
        return Err("unable to parse key: assignment to entry in nil map".into());
    }
    result?;
    if let Some(second) = case["input2"].as_str() {
        apply_line(&mut map, kind, second, stub)?;
    }
    Ok(map)
}

fn run_set_index(case: &J) -> Result<Vec<Node>, String> {
    let input = &case["input"];
    let mut list: Vec<Node> = input["list"]
        .as_array()
        .map(|a| a.iter().map(|v| Node::new(Value::Int(v.as_i64().unwrap_or(0)), inline())).collect())
        .unwrap_or_default();
    let value = Node::new(Value::Int(input["value"].as_i64().unwrap_or(0)), inline());
    set::set_index(&mut list, input["index"].as_i64().unwrap_or(0), value, &inline())?;
    Ok(list)
}

#[test]
fn strvals_cases_match_helm() {
    let mut failures = Vec::new();
    let cases = data("strvals.json");
    for (n, case) in cases.iter().enumerate() {
        let label = format!("#{n} {} {} ({})", case["func"], case["input"], case["source"]);
        let want_error = case["error"].as_bool().unwrap_or(false);
        let mut diffs = Vec::new();
        if case["func"] == "setIndex" {
            match (run_set_index(case), want_error) {
                (Ok(list), false) => {
                    let value = Value::List(list);
                    same(&value, &case["expected"], "", &mut diffs);
                }
                (Err(e), true) => {
                    if Some(e.as_str()) != case["error_message"].as_str() {
                        diffs.push(format!("error text {e:?}"));
                    }
                }
                (got, _) => diffs.push(format!("got {got:?}")),
            }
        } else {
            match (run_strvals(case), want_error) {
                (Ok(map), false) if case["func"] == "ToYAML" => {
                    let yaml = to_yaml(&map);
                    if yaml.trim_end() != case["expected"].as_str().unwrap_or_default().trim_end() {
                        diffs.push(format!("yaml {yaml:?}"));
                    }
                }
                (Ok(map), false) => {
                    same(&Value::Map(map.clone()), &case["expected"], "", &mut diffs);
                    types(&map, case.get("types"), &mut diffs);
                }
                (Err(e), true) => {
                    let want = case["error_message"].as_str().unwrap_or_default();
                    if e != want {
                        diffs.push(format!("error text {e:?}, helm {want:?}"));
                    }
                }
                (Ok(map), true) => diffs.push(format!("no error; got {}", go_v(&Value::Map(map)))),
                (Err(e), false) => diffs.push(format!("error {e:?}")),
            }
        }
        if !diffs.is_empty() {
            failures.push(format!("{label}: {}", diffs.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} strvals cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn values_yaml_cases_match_helm() {
    let mut failures = Vec::new();
    let cases = data("values_yaml.json");
    for (n, case) in cases.iter().enumerate() {
        let input = case["input"].as_str().unwrap_or_default();
        let want_error = case["error_message"].is_string();
        let mut diffs = Vec::new();
        match (load::load(input, &Source::File("values.yaml".into())), want_error) {
            (Ok(values), false) => {
                same(&Value::Map(values.0.clone()), &case["expected"], "", &mut diffs);
                types(&values.0, case.get("types"), &mut diffs);
                if let Some(prints) = case["template_prints"].as_object() {
                    for (pointer, want) in prints {
                        let got = values.pointer(pointer).map(|n| match n.value {
                            Value::Float(f) => go_g(f),
                            ref other => go_v(other),
                        });
                        if got.as_deref() != want.as_str() {
                            diffs.push(format!("{pointer} prints {got:?}, helm {want}"));
                        }
                    }
                }
            }
            (Err(_), true) => {}
            (Ok(values), true) => diffs.push(format!("no error; got {}", go_v(&Value::Map(values.0)))),
            (Err(e), false) => diffs.push(format!("error {e}")),
        }
        if !diffs.is_empty() {
            failures.push(format!("#{n} {input:?}: {}", diffs.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} YAML cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

fn chart(json: &J) -> Chart<'static> {
    Chart {
        name: json["name"].as_str().unwrap_or_default().to_owned(),
        values: std::borrow::Cow::Owned(to_map(&json["values"])),
        dependencies: json["dependencies"].as_array().map(|d| d.iter().map(chart).collect()).unwrap_or_default(),
    }
}

/// `{{.a.b}}` as Go's text/template prints it: `<no value>` for a missing or nil value.
fn template(map: &Map, template: &str) -> String {
    let path = template.trim_start_matches("{{.").trim_end_matches("}}");
    let mut node: Option<&Node> = None;
    let mut current = Some(map);
    for key in path.split('.') {
        node = current.and_then(|m| m.get(key));
        current = node.and_then(Node::as_map);
    }
    match node {
        None | Some(Node { value: Value::Null, .. }) => "<no value>".into(),
        Some(n) => go_v(&n.value),
    }
}

#[test]
fn coalesce_cases_match_helm() {
    let mut failures = Vec::new();
    let cases = data("coalesce.json");
    for (n, case) in cases.iter().enumerate() {
        let func = case["func"].as_str().unwrap_or_default();
        let user = to_map(&case["overrides"]);
        let (out, warnings) = if func.starts_with("CoalesceValues") || func.starts_with("coalesce(") {
            merge::coalesce(&chart(&case["defaults"]), user).expect("coalesces")
        } else if func.starts_with("MergeValues") {
            merge::merge_values(&chart(&case["defaults"]), user).expect("merges")
        } else if func.starts_with("CoalesceTables") {
            merge::coalesce_tables(user, &to_map(&case["defaults"]))
        } else if func.starts_with("MergeTables") {
            merge::merge_tables(user, &to_map(&case["defaults"]))
        } else if func.starts_with("mergeMaps") {
            (merge::merge_maps(to_map(&case["defaults"]), user), Vec::new())
        } else {
            panic!("unknown coalesce function {func}");
        };
        let mut diffs = Vec::new();
        same(&Value::Map(out.clone()), &case["expected"], "", &mut diffs);
        if let Some(want) = case["warnings"].as_array() {
            let mut got: Vec<String> = warnings.iter().map(|w| format!("warning: {}", w.message)).collect();
            got.sort();
            let want: Vec<String> = want.iter().filter_map(|w| w.as_str().map(str::to_owned)).collect();
            if got != want {
                diffs.push(format!("warnings {got:?}, helm {want:?}"));
            }
        }
        for check in case["template_checks"].as_array().into_iter().flatten() {
            let (tpl, want) = (check[0].as_str().unwrap_or_default(), check[1].as_str().unwrap_or_default());
            let got = template(&out, tpl);
            if got != want {
                diffs.push(format!("{tpl} prints {got:?}, helm {want:?}"));
            }
        }
        if !diffs.is_empty() {
            failures.push(format!("#{n} {func} ({}): {}", case["test"], diffs.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} coalesce cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
