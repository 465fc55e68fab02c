use serde_json::{Value as J, json};

use super::{Error, KEYWORDS, Kind, message, pattern, validate};

fn committed() -> J {
    serde_json::from_str(crate::schema::SCHEMA).expect("the committed schema is JSON")
}

/// Every schema object of a schema document, with its path, through every keyword that holds
/// subschemas.
fn schemas<'a>(schema: &'a J, path: String, out: &mut Vec<(String, &'a J)>) {
    out.push((path.clone(), schema));
    let Some(map) = schema.as_object() else { return };
    for (keyword, value) in map {
        let at = format!("{path}/{keyword}");
        match keyword.as_str() {
            "$defs" | "properties" => {
                for (name, child) in value.as_object().into_iter().flatten() {
                    schemas(child, format!("{at}/{name}"), out);
                }
            }
            "anyOf" => {
                for (i, child) in value.as_array().into_iter().flatten().enumerate() {
                    schemas(child, format!("{at}/{i}"), out);
                }
            }
            "items" | "additionalProperties" | "not" | "propertyNames" => schemas(value, at, out),
            _ => {}
        }
    }
}

#[test]
fn the_committed_schema_uses_only_known_keywords() {
    let schema = committed();
    let mut all = Vec::new();
    schemas(&schema, String::new(), &mut all);
    assert!(all.len() > 500, "the walk reaches the whole schema");
    let mut unknown = Vec::new();
    for (path, s) in all {
        for keyword in s.as_object().into_iter().flat_map(|m| m.keys()) {
            if !KEYWORDS.contains(&keyword.as_str()) {
                unknown.push(format!("{path}/{keyword}"));
            }
        }
    }
    assert_eq!(unknown, Vec::<String>::new(), "keywords the interpreter does not know: teach it them");
}

#[test]
fn every_pattern_of_the_committed_schema_compiles() {
    let schema = committed();
    let mut all = Vec::new();
    schemas(&schema, String::new(), &mut all);
    let patterns: Vec<&str> = all.iter().filter_map(|(_, s)| s.get("pattern")?.as_str()).collect();
    assert!(patterns.len() > 100);
    for p in patterns {
        pattern::compile(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
}

#[test]
fn patterns_keep_their_ecma_meaning() {
    let matches = |p: &str, text: &str| pattern::compile(p).expect("compiles").is_match(text);
    // `.` does not match a line terminator; the search is not anchored.
    assert!(matches("^(/.*)?$", "/etc/x"));
    assert!(matches("^(/.*)?$", ""));
    assert!(!matches("^(/.*)?$", "/etc\nx"));
    assert!(!matches("^(/.*)?$", "/etc\u{2028}x"));
    assert!(matches("b", "abc"));
    assert!(matches("c$", "abc"));
    assert!(!matches("^b", "abc"));
    assert!(matches("", "abc"));
    // Class members are themselves, `-` at either end included.
    assert!(matches("^[a-zA-Z0-9._/:@-]*$", "a-b/c:d@e"));
    assert!(matches(r"^[-._a-zA-Z0-9\[\]]+$", "[x]-"));
    assert!(!matches("^[+-]$", ","));
    assert!(matches("^[^a-c]$", "\n"));
    assert!(!matches("^[^a-c]$", "b"));
    // Quantifiers, counted or not, and alternation inside groups.
    assert!(matches("^a{1,2}$", "aa"));
    assert!(!matches("^a{1,2}$", "aaa"));
    assert!(matches("^a{2}$", "aa"));
    assert!(matches("^a{2,}$", "aaaa"));
    assert!(!matches("^a{2,}$", "a"));
    assert!(matches("^(ab|c)+?d?$", "abcab"));
    assert!(matches("^(0|([0-9]+(ms|s))+)$", "1s20ms"));
    assert!(!matches("^(0|([0-9]+(ms|s))+)$", "1s20"));
    assert!(matches("^(a*)*$", "aaaa"));
    // A brace that is no quantifier is itself (ECMA Annex B).
    assert!(matches("^{x}$", "{x}"));
    assert!(matches("^a{,2}$", "a{,2}"));
    assert!(matches("^(?:µs|ms)$", "µs"));
    // Linear time: this takes forever for a backtracking matcher.
    assert!(!matches("^(a|a)*(a*)*b$", &"a".repeat(10_000)));
    for refused in [
        r"^\d+$", r"(?=a)", r"(?!a)", r"(?<=a)", r"\1", r"\bword", "[]", "[a", "a\\", "(a", "a)", "*a", "a**", "^*",
        "{1}", "a{3,2}", "a{99999}", "[z-a]",
    ] {
        assert!(pattern::compile(refused).is_err(), "{refused} must be refused");
    }
}

fn check(schema: &J, instance: &J) -> Vec<Error<'static>> {
    let schema: &'static J = Box::leak(Box::new(schema.clone()));
    let defs = |name: &str| schema.get("$defs")?.get(name);
    validate(schema, instance, None, &defs)
}

/// `pointer: message` of every error, sorted.
fn messages(schema: J, instance: J) -> Vec<String> {
    let mut all: Vec<String> = check(&schema, &instance)
        .iter()
        .map(|e| format!("{}: {}", e.pointer, message(&e.kind, instance.pointer(&e.pointer).unwrap_or(&J::Null))))
        .collect();
    all.sort();
    all
}

#[test]
fn numbers_compare_by_value() {
    let integer = json!({"type": "integer", "minimum": 1, "maximum": 3});
    assert_eq!(messages(integer.clone(), json!(1.0)), Vec::<String>::new());
    assert_eq!(messages(integer.clone(), json!(3)), Vec::<String>::new());
    assert_eq!(
        messages(integer.clone(), json!(0.5)),
        [": 0.5 is less than the minimum of 1", r#": 0.5 is not of type "integer""#]
    );
    assert_eq!(messages(integer, json!(3.0000001)).len(), 2);
    assert_eq!(messages(json!({"maximum": 18446744073709551615u64}), json!(1.8446744073709552e19)).len(), 1);
    assert_eq!(messages(json!({"enum": [1, "a"]}), json!(1.0)), Vec::<String>::new());
    assert_eq!(messages(json!({"uniqueItems": true}), json!([1, 1.0])), [": [1,1.0] has non-unique elements"]);
    assert_eq!(messages(json!({"uniqueItems": true}), json!([{"a": 1}, {"a": 2}, [1], "1"])), Vec::<String>::new());
}

#[test]
fn lengths_count_code_points() {
    let short = json!({"maxLength": 2, "minLength": 2});
    assert_eq!(messages(short.clone(), json!("µµ")), Vec::<String>::new());
    assert_eq!(messages(short.clone(), json!("µµµ")), [r#": "µµµ" is longer than 2 characters"#]);
    assert_eq!(messages(short, json!("µ")), [r#": "µ" is shorter than 2 characters"#]);
}

#[test]
fn objects_report_each_key_where_it_is() {
    let schema = json!({
        "$defs": {"Name": {"type": "string", "pattern": "^[a-z]+$"}},
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "size"],
        "properties": {
            "name": {"$ref": "#/$defs/Name"},
            "size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "labels": {"type": "object", "additionalProperties": {"type": "string"},
                       "propertyNames": {"pattern": "^[A-Z]"}},
            "limits": {"not": {"required": ["a", "b"]}}
        }
    });
    let instance = json!({"name": "Ab", "size": "x", "labels": {"Ok": "v", "bad": 1}, "limits": {"a": 1, "b": 2},
                          "zz": 1, "a/b": 2});
    assert_eq!(
        messages(schema, instance),
        [
            r#"/labels/bad: 1 is not of type "string""#,
            r#"/labels: "bad" does not match "^[A-Z]""#,
            r#"/limits: {"required":["a","b"]} is not allowed for {"a":1,"b":2}"#,
            r#"/name: "Ab" does not match "^[a-z]+$""#,
            r#"/size: "x" is not valid under any of the schemas listed in the 'anyOf' keyword"#,
            ": Additional properties are not allowed ('a/b', 'zz' were unexpected)",
        ]
    );
}

#[test]
fn only_the_sections_asked_for_are_walked() {
    let schema: &'static J = Box::leak(Box::new(json!({
        "type": "object", "additionalProperties": false, "required": ["a", "b"],
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}}
    })));
    let instance = json!({"a": 1, "b": 2, "c": 3});
    let errors = validate(schema, &instance, Some(&json!({"b": null})), &|_| None);
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    // `a` is known but not checked; `c` is unknown whatever was asked.
    assert_eq!(pointers, ["/b", ""]);
    assert!(matches!(&errors[1].kind, Kind::AdditionalProperties { unexpected } if unexpected == &["c"]));
}

/// The pointers of the errors `instance` has where `touched` says to walk.
fn walked(schema: &J, instance: &J, touched: &J) -> Vec<String> {
    let schema: &'static J = Box::leak(Box::new(schema.clone()));
    let defs = |name: &str| schema.get("$defs")?.get(name);
    let mut pointers: Vec<String> =
        validate(schema, instance, Some(touched), &defs).into_iter().map(|e| e.pointer).collect();
    pointers.sort();
    pointers
}

#[test]
fn only_the_members_set_are_walked_and_every_key_still_counts() {
    let schema = json!({
        "$defs": {"Inner": {
            "type": "object", "additionalProperties": false, "required": ["x"], "not": {"required": ["x", "y"]},
            "properties": {"x": {"type": "string"}, "y": {"type": "string"}, "z": {"type": "string"}}
        }},
        "type": "object",
        "properties": {"s": {"$ref": "#/$defs/Inner"}, "o": {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}]}, "t": {"type": "string"}}
    });
    let instance = json!({"s": {"x": 1, "y": 2, "z": "ok", "w": 0}, "t": 5});
    // `x`, `y` and `t` are left out: their values are not checked, but `w` is still unknown
    // and `x` with `y` still breaks the `not`, at the object, through the `$ref`.
    assert_eq!(walked(&schema, &instance, &json!({"s": {"z": null}})), ["/s", "/s"]);
    assert_eq!(walked(&schema, &instance, &json!({"s": {"x": null}})), ["/s", "/s", "/s/x"]);
    // Below a member walked whole (not an object in `touched`), everything is checked.
    assert_eq!(walked(&schema, &instance, &json!({"s": null, "t": null})), ["/s", "/s", "/s/x", "/s/y", "/t"]);
    // Through `anyOf`: the unchecked `x` does not fail the branch; a checked bad `z` does.
    let instance = json!({"o": {"x": 1, "z": "ok"}});
    assert_eq!(walked(&schema, &instance, &json!({"o": {"z": null}})), Vec::<String>::new());
    let instance = json!({"o": {"x": 1, "z": 3}});
    assert_eq!(walked(&schema, &instance, &json!({"o": {"z": null}})), ["/o"]);
}

#[test]
fn what_the_interpreter_does_not_know_is_an_error_not_a_pass() {
    for schema in [
        json!({"multipleOf": 2}),
        json!({"$ref": "#/$defs/Missing"}),
        json!({"$ref": "https://elsewhere/schema.json"}),
        json!({"pattern": "(?=lookahead)"}),
        json!({"anyOf": [{"type": "string"}, {"oneOf": []}]}),
        json!({"$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"}),
    ] {
        let errors = check(&schema, &json!("text"));
        assert!(errors.iter().any(|e| matches!(e.kind, Kind::Schema { .. })), "{schema}: {errors:?}");
    }
}
