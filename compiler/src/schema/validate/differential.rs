//! The interpreter against the `jsonschema` crate, the validator it replaced: the built-in
//! defaults broken in hundreds of seeded random ways, both run over each, and what they find
//! compared as sets of (instance pointer, error kind and its data, message).
//!
//! Half the cases check every section (the whole schema); the other half the sections a user
//! who set `operator` and `toolkit` gets, against a jsonschema wrapper built as `check` built
//! it before. Breakages are random leaves replaced by values of every type, unknown keys,
//! removed keys, strings bent out of their pattern or enum, duplicated list items, and, at the
//! places the schema has a keyword the random ones rarely reach, values made to break it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value as J, json};

use super::{Kind, message, validate};

/// How many broken variants of the defaults are compared.
const CASES: u64 = 1000;

/// SplitMix64: small, deterministic, so a failing case replays from its number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values of every type, and strings near what the schema's patterns and enums accept.
fn values() -> Vec<J> {
    vec![
        J::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(-1),
        json!(2.0),
        json!(1.5),
        json!(65535),
        json!(65536),
        json!(u64::MAX),
        json!(-1e300),
        json!(""),
        json!("a"),
        json!("Always"),
        json!("IfNotPresent "),
        json!("10%"),
        json!("x".repeat(300)),
        json!("nvidia/cuda"),
        json!("/abs/path"),
        json!("rel/path"),
        json!("Foo"),
        json!("1h30m"),
        json!("5"),
        json!("debug"),
        json!("µs"),
        json!("line\nbreak"),
        json!([]),
        json!([1, 1.0]),
        json!(["a"]),
        json!([{"name": "X", "value": "y"}]),
        json!([{"value": 3}]),
        json!({}),
        json!({"key": "v"}),
        json!({"name": "n"}),
    ]
}

const KEYS: [&str; 10] =
    ["foo", "imagee", "repository", "Name", "enabled", "a/b", "x~y", "FeatureGate", "bad-name", "env"];

/// Every pointer of a value, with the value.
fn pointers(value: &J, at: &mut String, out: &mut Vec<(String, J)>) {
    out.push((at.clone(), value.clone()));
    let len = at.len();
    match value {
        J::Object(map) => {
            for (key, child) in map {
                at.push('/');
                crate::values::push_pointer_token(at, key);
                pointers(child, at, out);
                at.truncate(len);
            }
        }
        J::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push_str(&format!("/{i}"));
                pointers(child, at, out);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

/// A string bent a little: out of its pattern or enum, most of the time.
fn bend(s: &str, rng: &mut Rng) -> J {
    let bent = match rng.below(7) {
        0 => format!("{s}!"),
        1 => format!(" {s}"),
        2 => s.to_uppercase(),
        3 => String::new(),
        4 => format!("-{s}"),
        5 => s.repeat(40),
        _ => s.chars().rev().collect(),
    };
    J::String(bent)
}

/// Keywords random breakage rarely reaches, each with the places where it applies.
type Targets = BTreeMap<&'static str, Vec<String>>;

/// One random breakage of `doc`.
fn mutate(doc: &mut J, rng: &mut Rng, pool: &[J], targets: &Targets) {
    let mut all = Vec::new();
    pointers(doc, &mut String::new(), &mut all);
    let of = |pred: fn(&J) -> bool| -> Vec<&(String, J)> { all.iter().filter(|(_, v)| pred(v)).collect() };
    let (pointer, new) = match rng.below(9) {
        0 | 1 => {
            let (p, _) = rng.pick(&all[1..]);
            (p.clone(), rng.pick(pool).clone())
        }
        2 => {
            let (p, v) = rng.pick(&of(J::is_object));
            let mut v = v.clone();
            v[*rng.pick(&KEYS)] = rng.pick(pool).clone();
            (p.clone(), v)
        }
        3 => {
            let objects: Vec<_> = of(|v| v.as_object().is_some_and(|m| !m.is_empty()));
            let (p, v) = rng.pick(&objects);
            let mut v = v.clone();
            let map = v.as_object_mut().expect("an object");
            let key = rng.pick(&map.keys().cloned().collect::<Vec<_>>()).clone();
            map.remove(&key);
            (p.clone(), v)
        }
        4 => {
            let strings = of(J::is_string);
            let (p, v) = rng.pick(&strings);
            (p.clone(), bend(v.as_str().unwrap_or_default(), rng))
        }
        5 => {
            let (p, v) = rng.pick(&of(J::is_array));
            let mut v = v.clone();
            let items = v.as_array_mut().expect("an array");
            let item =
                if items.is_empty() || rng.below(2) == 0 { rng.pick(pool).clone() } else { rng.pick(items).clone() };
            items.push(item);
            (p.clone(), v)
        }
        6 => {
            let (p, _) = rng.pick(&of(J::is_number));
            (p.clone(), rng.pick(&[json!(-1), json!(0), json!(1.0), json!(0.5), json!(65536), json!(1e20)]).clone())
        }
        _ => {
            let keyword = *rng.pick(&targets.keys().collect::<Vec<_>>());
            let p = rng.pick(&targets[keyword]);
            let current = doc.pointer(p).cloned().unwrap_or(J::Null);
            (p.clone(), targeted(keyword, current, rng, pool))
        }
    };
    if pointer.is_empty() {
        *doc = new;
    } else if let Some(slot) = doc.pointer_mut(&pointer) {
        *slot = new;
    }
}

/// A value that breaks `keyword`, or nearly does.
fn targeted(keyword: &str, current: J, rng: &mut Rng, pool: &[J]) -> J {
    match keyword {
        "not" => json!({"minAvailable": rng.pick(pool).clone(), "maxUnavailable": 1, "enable": true}),
        "uniqueItems" => json!([current.get(0).cloned().unwrap_or(json!("pod")), "pod", rng.pick(pool).clone()]),
        "propertyNames" => json!({ *rng.pick(&KEYS): rng.pick(pool).clone(), "Good": true }),
        "minimum" | "maximum" => {
            rng.pick(&[json!(-1), json!(0), json!(1), json!(65535), json!(65536), json!(0.5)]).clone()
        }
        "minLength" | "maxLength" => json!([String::new(), "x".repeat(64), "y".repeat(254)][rng.below(3)]),
        _ => match current.as_str() {
            Some(s) if rng.below(2) == 0 => bend(s, rng),
            _ => rng.pick(pool).clone(),
        },
    }
}

/// What a finding is, for comparing: the kind, its data and its message.
fn ours(doc: &J, pointer: &str, kind: &Kind<'_>) -> String {
    let data = match kind {
        Kind::AdditionalProperties { unexpected } => format!("additionalProperties {unexpected:?}"),
        Kind::Type { expected } => format!("type {}", expected.join(",")),
        Kind::Enum { options } => format!("enum {options}"),
        Kind::Pattern { pattern } => format!("pattern {pattern}"),
        Kind::Required { property } => format!("required {property}"),
        Kind::AnyOf => "anyOf".into(),
        Kind::Other { .. } => "other".into(),
        Kind::Schema { .. } => "schema".into(),
    };
    format!("{data} | {}", message(kind, doc.pointer(pointer).unwrap_or(&J::Null)))
}

fn theirs(error: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::{TypeKind, ValidationErrorKind as K};
    let data = match error.kind() {
        K::AdditionalProperties { unexpected } => format!("additionalProperties {unexpected:?}"),
        K::Type { kind: TypeKind::Single(t) } => format!("type {t}"),
        K::Type { kind: TypeKind::Multiple(ts) } => {
            format!("type {}", ts.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(","))
        }
        K::Enum { options } => format!("enum {options}"),
        K::Pattern { pattern } => format!("pattern {pattern}"),
        K::Required { property } => format!("required {}", property.as_str().unwrap_or_default()),
        K::AnyOf { .. } => "anyOf".into(),
        _ => "other".into(),
    };
    format!("{data} | {error}")
}

/// The label a finding counts under, to show the cases reach every keyword.
fn label(kind: &Kind<'_>) -> &'static str {
    match kind {
        Kind::AdditionalProperties { .. } => "additionalProperties",
        Kind::Type { .. } => "type",
        Kind::Enum { .. } => "enum",
        Kind::Pattern { .. } => "pattern",
        Kind::Required { .. } => "required",
        Kind::AnyOf => "anyOf",
        Kind::Other { keyword, .. } => keyword,
        Kind::Schema { .. } => "schema",
    }
}

#[test]
fn the_interpreter_finds_what_jsonschema_finds() {
    let schema: &'static J = Box::leak(Box::new(serde_json::from_str(crate::schema::SCHEMA).expect("JSON")));
    let def = |name: &str| schema.get("$defs")?.get(name);
    let whole = jsonschema::options().with_draft(jsonschema::Draft::Draft202012).build(schema).expect("compiles");
    let sections = ["operator", "toolkit"];
    let id = schema["$id"].as_str().expect("the schema has an $id");
    let registry: &'static _ =
        Box::leak(Box::new(jsonschema::Registry::new().add(id, schema).and_then(|b| b.prepare()).expect("indexes")));
    let properties: serde_json::Map<String, J> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(|k| {
            let section = match sections.contains(&k.as_str()) {
                true => json!({"$ref": format!("{id}#/properties/{k}")}),
                false => json!(true),
            };
            (k.clone(), section)
        })
        .collect();
    let wrapper = json!({"type": "object", "properties": properties,
        "additionalProperties": schema["additionalProperties"], "required": schema["required"]});
    let some = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_registry(registry)
        .build(&wrapper)
        .expect("compiles");

    let base = crate::defaults().expect("defaults").to_json();
    let pool = values();
    let mut targets = Targets::new();
    let mut all = Vec::new();
    pointers(&base, &mut String::new(), &mut all);
    for (pointer, _) in &all {
        for s in crate::schema::subschemas(pointer) {
            for keyword in
                ["not", "uniqueItems", "propertyNames", "minimum", "maximum", "minLength", "maxLength", "enum"]
            {
                if s.get(keyword).is_some() {
                    targets.entry(keyword).or_default().push(pointer.clone());
                }
            }
        }
    }
    assert_eq!(targets.len(), 8, "every keyword has a place in the defaults: {:?}", targets.keys());

    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut clean = 0;
    for case in 0..CASES {
        let mut rng = Rng(case);
        let mut doc = base.clone();
        for _ in 0..=rng.below(3) {
            mutate(&mut doc, &mut rng, &pool, &targets);
        }
        let everything = case % 2 == 0;
        let walked: J =
            sections.iter().map(|key| ((*key).to_owned(), J::Null)).collect::<serde_json::Map<_, _>>().into();
        let found = validate(schema, &doc, (!everything).then_some(&walked), &def);
        let ours: BTreeSet<(String, String)> =
            found.iter().map(|e| (e.pointer.clone(), ours(&doc, &e.pointer, &e.kind))).collect();
        let reference = if everything { &whole } else { &some };
        let theirs: BTreeSet<(String, String)> =
            reference.iter_errors(&doc).map(|e| (e.instance_path().as_str().to_owned(), theirs(&e))).collect();
        let only_ours: Vec<_> = ours.difference(&theirs).collect();
        let only_theirs: Vec<_> = theirs.difference(&ours).collect();
        assert!(
            only_ours.is_empty() && only_theirs.is_empty(),
            "case {case} (all sections: {everything}): only the interpreter found {only_ours:#?}\nonly jsonschema found {only_theirs:#?}"
        );
        for e in &found {
            *seen.entry(label(&e.kind)).or_default() += 1;
        }
        clean += usize::from(found.is_empty());
    }
    // The cases are worth something only if they break every keyword, and not every time
    // (half the cases check two sections, so a breakage elsewhere is rightly not found).
    for keyword in [
        "additionalProperties",
        "type",
        "enum",
        "pattern",
        "required",
        "anyOf",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "not",
        "uniqueItems",
        "propertyNames",
    ] {
        assert!(seen.get(keyword).copied().unwrap_or(0) >= 3, "too few `{keyword}` errors: {seen:?}");
    }
    assert!(clean >= 50 && clean < CASES as usize * 3 / 5, "{clean} clean cases of {CASES}: {seen:?}");
}

/// Every pattern of the schema against jsonschema's regex engine, on random strings made of
/// the pattern's own characters and a few others (so that many match and many nearly do).
#[test]
fn patterns_match_what_jsonschema_matches() {
    let schema: J = serde_json::from_str(crate::schema::SCHEMA).expect("JSON");
    let mut patterns = BTreeSet::new();
    let mut all = Vec::new();
    pointers(&schema, &mut String::new(), &mut all);
    for (pointer, value) in &all {
        if let (true, Some(p)) = (pointer.ends_with("/pattern"), value.as_str()) {
            patterns.insert(p.to_owned());
        }
    }
    assert!(patterns.len() > 15, "{patterns:?}");
    let (mut matched, mut refused) = (0, 0);
    let mut rng = Rng(7);
    for p in &patterns {
        let program = super::pattern::compile(p).expect("compiles");
        let reference = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&json!({ "pattern": p }))
            .expect("compiles");
        let mut alphabet: Vec<char> = p.chars().filter(|c| !"^$()[]{}|*+?\\".contains(*c)).collect();
        alphabet.extend("aZ09 .-_/:%\nµ😀".chars());
        for _ in 0..400 {
            let len = rng.below(14);
            let text: String = (0..len).map(|_| *rng.pick(&alphabet)).collect();
            let expected = reference.is_valid(&J::String(text.clone()));
            assert_eq!(program.is_match(&text), expected, "{p} on {text:?}");
            matched += usize::from(expected);
            refused += usize::from(!expected);
        }
    }
    assert!(matched > 1000 && refused > 1000, "{matched} matched, {refused} did not");
}
