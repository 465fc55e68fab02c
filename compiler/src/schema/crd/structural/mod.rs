//! The conversion of a JSON Schema into a *structural* OpenAPI v3 schema, the only kind a
//! CustomResourceDefinition may carry.
//!
//! Input: a JSON Schema document (draft 2020-12, with its `$defs`). Output: the structural
//! schema ([`structural`]), `required` kept.
//!
//! What the conversion changes, and why (the rules are Kubernetes' "structural schema" rules:
//! every node has a `type` unless it is `x-kubernetes-int-or-string` or
//! `x-kubernetes-preserve-unknown-fields`; no `type`, `description`, `default`, `nullable` or
//! `additionalProperties` inside `anyOf`/`oneOf`/`allOf`/`not`; and only the keywords of
//! `JSONSchemaProps`):
//!
//! - `$ref`s to `#/$defs/...` (or `#/definitions/...`) are inlined; a reference back into a
//!   definition being inlined (recursion) becomes "any value" (preserve unknown fields).
//!   `$schema`, `$id`, `$defs`, `definitions` and `$comment` go.
//! - `type: [X, "null"]` and `anyOf: [X, {type: null}]` become `X` with `nullable: true`.
//!   A nullable `enum` loses the enum: the API server checks a null against it and rejects
//!   it, even with `null` listed (found against apiextensions-apiserver 1.36).
//! - `const: v` becomes `enum: [v]`; an `enum` without a `type` gets the type of its values.
//! - `additionalProperties: false` goes: the API server rejects it next to `properties`.
//!   Unknown fields are still not kept: the API server *prunes* fields a structural schema
//!   does not declare, and rejects them under strict field validation (`kubectl`'s default,
//!   `fieldValidation=Strict`). `additionalProperties: true`, and an object with no
//!   `properties`, become `x-kubernetes-preserve-unknown-fields: true` (free-form objects such
//!   as `affinity` would otherwise be pruned to `{}`). Open maps (`additionalProperties:
//!   {schema}`) are kept.
//! - `anyOf`/`oneOf` of an integer and a string (`IntOrPercent`, `LogLevel`) become
//!   `x-kubernetes-int-or-string: true` with the two bare types in `anyOf`, the only shape
//!   with types inside a junctor that the API server allows; each branch's type-specific
//!   keywords (`minimum` of the integer, `pattern` of the string) move up to the node, where
//!   they still only apply to values of their type. Other mixes (`Quantity`: number or
//!   string; `extraObjects` items: object or string) cannot be expressed and become "any
//!   value" (`x-kubernetes-preserve-unknown-fields: true`, no type), keeping what moves up
//!   the same way: the API server accepts a superset, and gpuplan's own check, which the
//!   operator runs on the spec, is exact. `oneOf`'s exclusivity is not expressed.
//! - `allOf` branches are merged into their parent when they do not conflict; otherwise the
//!   node becomes "any value" of the parent's type.
//! - `uniqueItems: true` is forbidden in CRDs (quadratic to check); a list of scalars gets
//!   `x-kubernetes-list-type: set`, which means the same, and others lose it.
//! - `default` goes: defaults are the compiler's (the built-in values and the config's own),
//!   and server-side defaulting would store fields nobody applied, so the spec would no
//!   longer equal the values that were applied. `format`s the API server does not know
//!   (`uint32`, `uint16`) go; their `minimum` stays. `propertyNames` (no `JSONSchemaProps`
//!   equivalent), `x-gpuplan-*` and every other keyword `JSONSchemaProps` lacks go.
//! - `not` is kept when it only says `required` (NFD's "not both `minAvailable` and
//!   `maxUnavailable`"), which is structural.

mod keywords;

use serde_json::{Map, Value as J, json};

use keywords::{NUMBER_ONLY, STRING_ONLY, exclusive_bounds, keywords};

/// Convert a JSON Schema document (with its `$defs`) into a structural OpenAPI v3 schema; see
/// the module documentation for every change.
pub fn structural(document: &J) -> J {
    let mut converter = Converter { document, inlining: Vec::new() };
    J::Object(converter.node(document))
}

struct Converter<'a> {
    /// The document `$ref`s point into.
    document: &'a J,
    /// The definitions being inlined, outermost first (for recursion).
    inlining: Vec<String>,
}

/// "Any value": no type, nothing pruned.
fn any_value() -> Map<String, J> {
    Map::from_iter([("x-kubernetes-preserve-unknown-fields".to_owned(), J::Bool(true))])
}

/// The definition a local `$ref` names.
fn definition<'a>(document: &'a J, reference: &str) -> Option<&'a J> {
    let (section, name) = reference
        .strip_prefix("#/$defs/")
        .map(|n| ("$defs", n))
        .or_else(|| reference.strip_prefix("#/definitions/").map(|n| ("definitions", n)))?;
    document.get(section)?.get(name)
}

/// The types a schema names (`type: X` or `type: [X, ...]`), without `null`, and whether
/// `null` was among them.
fn types(schema: &Map<String, J>) -> (Vec<String>, bool) {
    let named: Vec<&str> = match schema.get("type") {
        Some(J::String(t)) => vec![t.as_str()],
        Some(J::Array(ts)) => ts.iter().filter_map(J::as_str).collect(),
        _ => Vec::new(),
    };
    let null = named.contains(&"null");
    let mut out: Vec<String> = named.into_iter().filter(|t| *t != "null").map(str::to_owned).collect();
    // An integer is a number: `[integer, number]` is `number`.
    if out.iter().any(|t| t == "number") {
        out.retain(|t| t != "integer");
    }
    out.dedup();
    (out, null)
}

/// The type of an `enum`'s values, when they share one.
fn enum_type(values: &[J]) -> Option<&'static str> {
    let mut found = None;
    for v in values.iter().filter(|v| !v.is_null()) {
        let t = match v {
            J::String(_) => "string",
            J::Bool(_) => "boolean",
            J::Number(n) if n.is_i64() || n.is_u64() => "integer",
            J::Number(_) => "number",
            J::Array(_) => "array",
            J::Object(_) => "object",
            J::Null => continue,
        };
        found = match (found, t) {
            (None, t) => Some(t),
            (Some(a), b) if a == b => Some(a),
            (Some("integer" | "number"), "integer" | "number") => Some("number"),
            _ => return None,
        };
    }
    found
}

/// Whether a schema only admits `null`.
fn is_null_only(schema: &Map<String, J>) -> bool {
    let (named, null) = types(schema);
    let typed_null = null && named.is_empty() && schema.contains_key("type");
    let const_null = schema.get("const") == Some(&J::Null);
    let enum_null = schema.get("enum").and_then(J::as_array).is_some_and(|e| e.len() == 1 && e[0].is_null());
    typed_null || const_null || enum_null
}

impl Converter<'_> {
    /// Follow `$ref`s, merging the referring schema's other keywords over the target (its
    /// `description` is the more specific one). `None` when a reference is recursive.
    fn resolve(&self, schema: &J) -> Option<(Map<String, J>, Vec<String>)> {
        let mut merged = match schema {
            J::Object(map) => map.clone(),
            // `true`: anything; `false` (nothing) cannot be said, so it is treated the same.
            J::Bool(_) => return Some((any_value(), Vec::new())),
            _ => return Some((any_value(), Vec::new())),
        };
        let mut entered = Vec::new();
        while let Some(reference) = merged.remove("$ref").and_then(|r| r.as_str().map(str::to_owned)) {
            if self.inlining.contains(&reference) || entered.contains(&reference) {
                return None;
            }
            let Some(J::Object(target)) = definition(self.document, &reference) else {
                // A reference outside the document: nothing to inline, so anything goes.
                return Some((any_value(), entered));
            };
            let mut next = target.clone();
            next.extend(merged);
            merged = next;
            entered.push(reference);
        }
        Some((merged, entered))
    }

    /// Convert one schema into a structural node.
    fn node(&mut self, schema: &J) -> Map<String, J> {
        let Some((mut raw, entered)) = self.resolve(schema) else {
            // Recursion: the definition is already being inlined further up.
            let mut any = any_value();
            if let Some(description) = schema.get("description") {
                any.insert("description".into(), description.clone());
            }
            return any;
        };
        let depth = self.inlining.len();
        self.inlining.extend(entered);
        if let Some(J::Array(branches)) = raw.remove("allOf") {
            raw = self.merge_all_of(raw, &branches);
        }
        let out = match raw.remove("anyOf").or_else(|| raw.remove("oneOf")) {
            Some(J::Array(branches)) => self.alternatives(raw, &branches),
            _ => self.plain(raw),
        };
        self.inlining.truncate(depth);
        out
    }

    /// `allOf`: every branch merged into the parent, or "any value" of the parent's type when
    /// two say different things about the same keyword.
    fn merge_all_of(&mut self, mut parent: Map<String, J>, branches: &[J]) -> Map<String, J> {
        for branch in branches {
            let Some((branch, entered)) = self.resolve(branch) else {
                return conflict(&parent);
            };
            self.inlining.extend(entered);
            for (key, value) in branch {
                match (key.as_str(), parent.get_mut(&key)) {
                    (_, None) => {
                        parent.insert(key, value);
                    }
                    ("properties", Some(J::Object(mine))) => {
                        for (name, property) in value.as_object().into_iter().flatten() {
                            if mine.get(name).is_some_and(|p| p != property) {
                                return conflict(&parent);
                            }
                            mine.insert(name.clone(), property.clone());
                        }
                    }
                    ("required", Some(J::Array(mine))) => {
                        for name in value.as_array().into_iter().flatten() {
                            if !mine.contains(name) {
                                mine.push(name.clone());
                            }
                        }
                    }
                    // The parent's description is the more specific one.
                    ("description" | "title", Some(_)) => {}
                    (_, Some(existing)) if *existing == value => {}
                    _ => return conflict(&parent),
                }
            }
        }
        parent
    }

    /// `anyOf`/`oneOf`: a nullable single branch, an int-or-string, or "any value".
    fn alternatives(&mut self, parent: Map<String, J>, branches: &[J]) -> Map<String, J> {
        let mut nullable = false;
        let mut rest = Vec::new();
        for branch in branches {
            match self.resolve(branch) {
                Some((b, _)) if is_null_only(&b) => nullable = true,
                _ => rest.push(branch),
            }
        }
        let mut out = if let [single] = rest.as_slice() {
            // `X or null`: X itself, with the parent's keywords (its description) over X's.
            match self.resolve(single) {
                Some((mut merged, entered)) => {
                    merged.extend(parent);
                    let depth = self.inlining.len();
                    self.inlining.extend(entered);
                    let node = self.node(&J::Object(merged));
                    self.inlining.truncate(depth);
                    node
                }
                None => any_value(),
            }
        } else {
            let resolved: Vec<Map<String, J>> =
                rest.iter().map(|b| self.resolve(b).map(|(m, _)| m).unwrap_or_else(any_value)).collect();
            mixed(parent, &resolved)
        };
        if nullable {
            make_nullable(&mut out);
        }
        out
    }

    /// A node without `anyOf`/`oneOf`.
    fn plain(&mut self, raw: Map<String, J>) -> Map<String, J> {
        let (mut named, mut nullable) = types(&raw);
        let mut out = keywords(&raw);
        if let Some(J::Array(values)) = out.get_mut("enum")
            && values.iter().any(J::is_null)
        {
            nullable = true;
            values.retain(|v| !v.is_null());
        }
        if named.is_empty() {
            if let Some(t) = out.get("enum").and_then(J::as_array).and_then(|e| enum_type(e)) {
                named.push(t.to_owned());
            } else if raw.contains_key("properties") || raw.contains_key("additionalProperties") {
                named.push("object".into());
            } else if raw.contains_key("items") {
                named.push("array".into());
            }
        }
        if named.len() > 1 {
            // `type: [object, string]` and the like: the same as an `anyOf` of the types.
            let branches: Vec<Map<String, J>> = named
                .iter()
                .map(|t| {
                    let mut b = raw.clone();
                    b.insert("type".into(), J::String(t.clone()));
                    b
                })
                .collect();
            let mut out = mixed(raw.clone(), &branches);
            if nullable {
                make_nullable(&mut out);
            }
            return out;
        }
        match named.first().map(String::as_str) {
            None => {
                // No type at all: anything (a `not` alone, a description alone, `{}`).
                out.extend(any_value());
            }
            Some("object") => self.object(&raw, &mut out),
            Some("array") => self.array(&raw, &mut out),
            Some(t) => {
                out.insert("type".into(), J::String(t.to_owned()));
            }
        }
        if nullable {
            make_nullable(&mut out);
        }
        out
    }

    fn object(&mut self, raw: &Map<String, J>, out: &mut Map<String, J>) {
        out.insert("type".into(), "object".into());
        let properties = raw.get("properties").and_then(J::as_object);
        if let Some(properties) = properties {
            let converted: Map<String, J> =
                properties.iter().map(|(name, p)| (name.clone(), J::Object(self.node(p)))).collect();
            out.insert("properties".into(), J::Object(converted));
        }
        match raw.get("additionalProperties") {
            // Unknown fields are pruned (or rejected under strict field validation) anyway;
            // the API server does not allow `false` next to `properties`.
            Some(J::Bool(false)) => {}
            Some(J::Object(extra)) if properties.is_none() => {
                let extra = self.node(&J::Object(extra.clone()));
                out.insert("additionalProperties".into(), J::Object(extra));
            }
            // Free-form (`true`, or properties *and* an open map, which the API server does
            // not allow together): keep whatever is there.
            Some(_) => {
                out.insert("x-kubernetes-preserve-unknown-fields".into(), J::Bool(true));
            }
            None if properties.is_none() => {
                out.insert("x-kubernetes-preserve-unknown-fields".into(), J::Bool(true));
            }
            None => {}
        }
        if let Some(J::Object(not)) = raw.get("not") {
            // Structural only when it constrains nothing but presence.
            if not.keys().all(|k| k == "required") && !not.is_empty() {
                out.insert("not".into(), J::Object(not.clone()));
            }
        }
    }

    fn array(&mut self, raw: &Map<String, J>, out: &mut Map<String, J>) {
        out.insert("type".into(), "array".into());
        let items = match raw.get("items") {
            Some(items @ J::Object(_)) => self.node(items),
            // `true`, absent, or a tuple form: any items.
            _ => any_value(),
        };
        let scalar = matches!(items.get("type").and_then(J::as_str), Some("string" | "integer" | "number" | "boolean"));
        if raw.get("uniqueItems") == Some(&J::Bool(true)) && scalar {
            out.insert("x-kubernetes-list-type".into(), "set".into());
        }
        out.insert("items".into(), J::Object(items));
    }
}

/// Branches of different types: int-or-string when they are an integer and a string,
/// "any value" otherwise; type-specific keywords move up where only one branch has them.
fn mixed(parent: Map<String, J>, branches: &[Map<String, J>]) -> Map<String, J> {
    let mut kinds = Vec::new();
    for branch in branches {
        let (mut named, _) = types(branch);
        if named.is_empty()
            && let Some(t) = branch.get("enum").and_then(J::as_array).and_then(|e| enum_type(e))
        {
            named.push(t.to_owned());
        }
        if named.len() != 1 {
            kinds.push(None);
        } else {
            kinds.push(named.pop());
        }
    }
    let mut out = keywords(&parent);
    let int_or_string =
        kinds.len() == 2 && kinds.contains(&Some("integer".to_owned())) && kinds.contains(&Some("string".to_owned()));
    if int_or_string {
        out.insert("x-kubernetes-int-or-string".into(), J::Bool(true));
        out.insert("anyOf".into(), json!([{"type": "integer"}, {"type": "string"}]));
    } else {
        out.extend(any_value());
    }
    // Move up what only constrains one branch's type, when exactly one branch has it.
    for (only, types) in [(STRING_ONLY, &["string"][..]), (NUMBER_ONLY, &["integer", "number"][..])] {
        let holders: Vec<&Map<String, J>> = branches
            .iter()
            .zip(&kinds)
            .filter(|(_, k)| k.as_deref().is_some_and(|k| types.contains(&k)))
            .map(|(b, _)| b)
            .collect();
        if let [holder] = holders.as_slice() {
            let converted = keywords(holder);
            for key in only {
                if let Some(value) = converted.get(*key).filter(|_| !out.contains_key(*key)) {
                    out.insert((*key).to_owned(), value.clone());
                }
            }
        }
    }
    exclusive_bounds(&mut out);
    out
}

/// The node for an `allOf` whose branches conflict: any value of the parent's type.
fn conflict(parent: &Map<String, J>) -> Map<String, J> {
    let mut out = any_value();
    let (named, _) = types(parent);
    if let [single] = named.as_slice() {
        out.insert("type".into(), J::String(single.clone()));
        if single == "array" {
            out.insert("items".into(), J::Object(any_value()));
        }
    }
    if let Some(description) = parent.get("description") {
        out.insert("description".into(), description.clone());
    }
    out
}

/// Allow `null` at a node. A nullable node loses its `enum`: the API server checks a null
/// against the enum and rejects it, even with `null` listed (apiextensions-apiserver 1.36),
/// so the enum would make `nullable` a lie; gpuplan's own check still enforces it.
fn make_nullable(node: &mut Map<String, J>) {
    if node.get("x-kubernetes-preserve-unknown-fields") == Some(&J::Bool(true)) && !node.contains_key("type") {
        // "Any value" already admits null.
        return;
    }
    node.insert("nullable".into(), J::Bool(true));
    node.remove("enum");
}

#[cfg(test)]
mod tests;
