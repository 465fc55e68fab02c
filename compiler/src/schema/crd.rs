//! The `GPUPlan` CustomResourceDefinition, generated from the values schema.
//!
//! Input: the embedded values JSON Schema (`schema/values.schema.json`, draft 2020-12).
//! Output: the whole CRD `gpuplans.gpuplan.dev` as JSON ([`crd`]): a cluster-scoped
//! `gpuplan.dev/v1alpha1` `GPUPlan` whose `spec` is the values and whose `status` the
//! operator writes; and, on its own, the conversion of a JSON Schema into a *structural*
//! OpenAPI v3 schema the API server accepts ([`structural`]).
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
//!
//! [`structural`] keeps `required`. The CRD does not require what the operator fills in: it
//! lays the spec over the built-in defaults as Helm lays user values over a chart's
//! (`gpuplan_compiler::coalesce`), so a key a map of the defaults holds may be left out
//! (`spec: {operator: {defaultRuntime: crio}}` is a whole GPUPlan). `required` stays inside
//! list items and open maps, which coalescing does not fill (an `env` entry needs its `name`).
//! The chart writes the effective values, every key present, which passes either way.

use serde_json::{Map, Value as J, json};

/// The resource's API group.
pub const GROUP: &str = "gpuplan.dev";
/// The resource's version.
pub const VERSION: &str = "v1alpha1";
/// The resource's kind.
pub const KIND: &str = "GPUPlan";
/// The resource's plural name.
pub const PLURAL: &str = "gpuplans";
/// The resource's singular name.
pub const SINGULAR: &str = "gpuplan";
/// The resource's short name (`kubectl get gp`).
pub const SHORT_NAME: &str = "gp";

/// Formats the API server knows (and validates); any other is dropped.
const KNOWN_FORMATS: &[&str] = &[
    "bsonobjectid",
    "byte",
    "cidr",
    "creditcard",
    "date",
    "date-time",
    "datetime",
    "double",
    "duration",
    "email",
    "float",
    "hexcolor",
    "hostname",
    "int32",
    "int64",
    "ipv4",
    "ipv6",
    "isbn",
    "isbn10",
    "isbn13",
    "mac",
    "password",
    "rgbcolor",
    "ssn",
    "uri",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
];

/// Keywords copied as they are (after their values are converted where they hold schemas).
const KEPT: &[&str] = &[
    "description",
    "title",
    "enum",
    "minimum",
    "maximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
];

/// Keywords that only constrain strings (a `pattern` never rejects a number).
const STRING_ONLY: &[&str] = &["pattern", "minLength", "maxLength"];
/// Keywords that only constrain numbers.
const NUMBER_ONLY: &[&str] = &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];

/// The `GPUPlan` CRD: the values schema as the spec, the operator's status, printer columns.
pub fn crd() -> J {
    let mut spec = structural(super::schema());
    drop_filled_required(&mut spec);
    if let J::Object(map) = &mut spec {
        // The values' own title and description say what the object is; the spec's say
        // what the spec is.
        map.insert(
            "description".into(),
            "The values: gpuplan's settings of the NVIDIA GPU Operator, as `gpuplan values` prints \
             them and the Helm chart writes them. The operator compiles them into a plan and applies it."
                .into(),
        );
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{PLURAL}.{GROUP}"),
            "labels": {"app.kubernetes.io/managed-by": "gpuplan"}
        },
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {
                "kind": KIND,
                "listKind": format!("{KIND}List"),
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": [SHORT_NAME]
            },
            "versions": [{
                "name": VERSION,
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                    {"name": "Digest", "type": "string", "jsonPath": ".status.digest"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "schema": {"openAPIV3Schema": {
                    "description": "A GPU Operator installation planned and applied by gpuplan: the spec is the values, \
                                    the status what the operator last did with them.",
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec,
                        "status": status()
                    }
                }}
            }]
        }
    })
}

/// Drop `required` where coalescing over the defaults fills keys in: on every object reached
/// from the root through `properties` alone (not inside `items` or `additionalProperties`).
fn drop_filled_required(node: &mut J) {
    let Some(map) = node.as_object_mut() else { return };
    map.remove("required");
    for child in map.get_mut("properties").and_then(J::as_object_mut).into_iter().flat_map(|p| p.values_mut()) {
        drop_filled_required(child);
    }
}

/// The status the operator writes.
fn status() -> J {
    let string = |description: &str| json!({"type": "string", "description": description});
    let integer = |description: &str| json!({"type": "integer", "format": "int64", "description": description});
    json!({
        "type": "object",
        "description": "What the operator last did with the spec.",
        "properties": {
            "observedGeneration": integer("The generation of the spec the status describes."),
            "digest": string("The digest of the plan last applied."),
            "revision": integer("The release revision last applied: 1 for the install, +1 per change."),
            "gpuNodes": integer("How many nodes the operator labelled as GPU nodes."),
            "conditions": {
                "type": "array",
                "description": "The latest observations of the plan's state (`Ready`, ...), one per type.",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {
                    "type": "object",
                    "required": ["type", "status"],
                    "properties": {
                        "type": string("The condition's type, such as `Ready`."),
                        "status": {"type": "string", "enum": ["True", "False", "Unknown"], "description": "Whether the condition holds."},
                        "reason": string("Why, in one CamelCase word."),
                        "message": string("Why, for people."),
                        "lastTransitionTime": {"type": "string", "format": "date-time", "description": "When the status last changed."},
                        "observedGeneration": integer("The generation of the spec the condition was set for.")
                    }
                }
            },
            "stages": {
                "type": "array",
                "description": "Each stage of the plan, in apply order, and whether it is ready.",
                "items": {
                    "type": "object",
                    "required": ["name", "ready"],
                    "properties": {
                        "name": string("The stage's name."),
                        "ready": {"type": "boolean", "description": "Whether every object of the stage is ready."},
                        "message": string("What the stage waits for, when it is not ready.")
                    }
                }
            }
        }
    })
}

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

/// The keywords of a node that are neither its type nor its children.
fn keywords(raw: &Map<String, J>) -> Map<String, J> {
    let mut out = Map::new();
    for key in KEPT {
        if let Some(value) = raw.get(*key) {
            out.insert((*key).to_owned(), value.clone());
        }
    }
    if let Some(J::String(format)) = raw.get("format")
        && KNOWN_FORMATS.contains(&format.as_str())
    {
        out.insert("format".into(), J::String(format.clone()));
    }
    if let Some(value) = raw.get("const") {
        out.insert("enum".into(), json!([value]));
    }
    for key in ["exclusiveMinimum", "exclusiveMaximum"] {
        if let Some(value) = raw.get(key) {
            out.insert(key.to_owned(), value.clone());
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

/// Draft 2020-12's numeric `exclusiveMinimum: n` is OpenAPI v3.0's `minimum: n` with
/// `exclusiveMinimum: true` (likewise for the maximum).
fn exclusive_bounds(out: &mut Map<String, J>) {
    for (exclusive, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
        if let Some(J::Number(n)) = out.get(exclusive).cloned() {
            out.insert(bound.to_owned(), J::Number(n));
            out.insert(exclusive.to_owned(), J::Bool(true));
        }
    }
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
mod tests {
    use super::*;

    /// The structural form of `schema`, with `defs` as its `$defs`.
    fn convert(schema: J, defs: J) -> J {
        let mut document = schema;
        document["$defs"] = defs;
        let mut out = structural(&document);
        if let J::Object(map) = &mut out {
            map.remove("$defs");
        }
        out
    }

    fn alone(schema: J) -> J {
        convert(schema, json!({}))
    }

    #[test]
    fn given_refs_inlines_them_with_the_referring_description_winning() {
        let defs = json!({"Image": {"type": "object", "description": "An image.", "additionalProperties": false,
            "properties": {"tag": {"$ref": "#/$defs/Tag"}}}, "Tag": {"type": "string", "minLength": 1}});
        let out = convert(
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "x", "type": "object",
                   "properties": {"image": {"$ref": "#/$defs/Image", "description": "The operator's image."}}}),
            defs,
        );
        assert_eq!(
            out,
            json!({"type": "object", "properties": {"image": {"type": "object", "description": "The operator's image.",
                "properties": {"tag": {"type": "string", "minLength": 1}}}}})
        );
    }

    #[test]
    fn given_a_recursive_ref_cuts_it_to_any_value() {
        let defs = json!({"Tree": {"type": "object", "properties": {
            "children": {"type": "array", "items": {"$ref": "#/$defs/Tree", "description": "A subtree."}}}}});
        let out = convert(json!({"$ref": "#/$defs/Tree"}), defs);
        assert_eq!(
            out["properties"]["children"]["items"],
            json!({"x-kubernetes-preserve-unknown-fields": true, "description": "A subtree."})
        );
    }

    #[test]
    fn given_a_type_with_null_makes_it_nullable() {
        assert_eq!(alone(json!({"type": ["string", "null"]})), json!({"type": "string", "nullable": true}));
        assert_eq!(
            alone(json!({"type": ["array", "null"], "items": {"type": "string"}})),
            json!({"type": "array", "nullable": true, "items": {"type": "string"}})
        );
    }

    #[test]
    fn given_any_of_a_ref_and_null_inlines_the_ref_as_nullable() {
        let defs = json!({"Mode": {"enum": ["a", "b"], "description": "The mode."}});
        let out =
            convert(json!({"anyOf": [{"$ref": "#/$defs/Mode"}, {"type": "null"}], "description": "Which."}), defs);
        // The enum's type comes from its values; the API server would check a null against the
        // enum and reject it, so a nullable node has none.
        assert_eq!(out, json!({"type": "string", "nullable": true, "description": "Which."}));
        let out = alone(json!({"enum": ["a", null]}));
        assert_eq!(out, json!({"type": "string", "nullable": true}));
    }

    #[test]
    fn given_const_makes_a_one_value_enum() {
        assert_eq!(alone(json!({"const": "v1"})), json!({"type": "string", "enum": ["v1"]}));
    }

    #[test]
    fn given_additional_properties_false_drops_it_and_keeps_properties() {
        let out = alone(json!({"type": "object", "additionalProperties": false, "required": ["a"],
            "properties": {"a": {"type": "boolean"}}}));
        assert_eq!(out, json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "boolean"}}}));
    }

    #[test]
    fn given_open_maps_keeps_them_and_free_form_objects_preserve_unknown_fields() {
        assert_eq!(
            alone(json!({"type": "object", "additionalProperties": {"type": "string"}})),
            json!({"type": "object", "additionalProperties": {"type": "string"}})
        );
        assert_eq!(
            alone(json!({"type": ["object", "null"], "additionalProperties": true})),
            json!({"type": "object", "nullable": true, "x-kubernetes-preserve-unknown-fields": true})
        );
        assert_eq!(
            alone(json!({"type": "object"})),
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
        );
    }

    #[test]
    fn given_integer_or_string_makes_int_or_string_and_moves_each_branch_constraint_up() {
        let defs = json!({"IntOrPercent": {"description": "A count or a percentage.", "anyOf": [
            {"type": "integer", "minimum": 0, "format": "uint32", "description": "A count."},
            {"type": "string", "pattern": "^[0-9]+%?$"}]}});
        let out = convert(json!({"anyOf": [{"$ref": "#/$defs/IntOrPercent"}, {"type": "null"}]}), defs);
        assert_eq!(
            out,
            json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}],
                   "minimum": 0, "pattern": "^[0-9]+%?$", "nullable": true, "description": "A count or a percentage."})
        );
    }

    #[test]
    fn given_number_or_string_makes_any_value_with_the_string_pattern() {
        let out = alone(
            json!({"description": "A quantity.", "anyOf": [{"type": "number"}, {"type": "string", "pattern": "^[0-9]+m?$"}]}),
        );
        assert_eq!(
            out,
            json!({"x-kubernetes-preserve-unknown-fields": true, "pattern": "^[0-9]+m?$", "description": "A quantity."})
        );
        // A type list is the same as an anyOf of the types.
        assert_eq!(
            alone(json!({"type": ["object", "string"], "description": "A manifest."})),
            json!({"x-kubernetes-preserve-unknown-fields": true, "description": "A manifest."})
        );
    }

    #[test]
    fn given_all_of_merges_branches_or_falls_back_on_a_conflict() {
        let out = alone(json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]}));
        assert_eq!(
            out,
            json!({"type": "object", "required": ["a", "b"],
                   "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}})
        );
        let out = alone(json!({"type": "object", "allOf": [{"properties": {"a": {"type": "string"}}},
            {"properties": {"a": {"type": "integer"}}}]}));
        assert_eq!(out, json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    }

    #[test]
    fn given_unique_scalar_items_makes_a_set_list() {
        let out = alone(json!({"type": "array", "uniqueItems": true, "items": {"enum": ["node", "pod"]}}));
        assert_eq!(
            out,
            json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string", "enum": ["node", "pod"]}})
        );
        let out = alone(json!({"type": "array", "uniqueItems": true, "items": {"type": "object", "properties": {}}}));
        assert!(out.get("x-kubernetes-list-type").is_none(), "objects cannot be a set: {out}");
        // Items are required: a list of anything says so.
        assert_eq!(
            alone(json!({"type": "array"})),
            json!({"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": true}})
        );
    }

    #[test]
    fn given_keywords_json_schema_props_lacks_drops_them() {
        let out = alone(json!({"type": "object", "default": {}, "propertyNames": {"pattern": "^[A-Z]"},
            "x-gpuplan-unrendered": "why", "$comment": "c", "examples": [{}], "deprecated": false,
            "additionalProperties": {"type": "integer", "format": "uint16", "minimum": 0, "default": 1}}));
        assert_eq!(
            out,
            json!({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}),
            "default, propertyNames, x-gpuplan-*, unknown formats and the like are dropped"
        );
        assert_eq!(alone(json!({"type": "integer", "format": "int64"})), json!({"type": "integer", "format": "int64"}));
    }

    #[test]
    fn given_numeric_exclusive_bounds_uses_the_openapi_boolean_form() {
        assert_eq!(
            alone(json!({"type": "number", "exclusiveMinimum": 0})),
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true})
        );
    }

    #[test]
    fn given_not_required_keeps_it_and_drops_other_nots() {
        let out = alone(json!({"type": "object", "additionalProperties": false,
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "not": {"required": ["a", "b"]}}));
        assert_eq!(out["not"], json!({"required": ["a", "b"]}));
        let out = alone(json!({"type": "object", "properties": {}, "not": {"type": "string"}}));
        assert!(out.get("not").is_none());
    }

    #[test]
    fn crd_names_a_cluster_scoped_gpuplan_with_status_and_columns() {
        let crd = crd();
        assert_eq!(crd["metadata"]["name"], "gpuplans.gpuplan.dev");
        assert_eq!(crd["spec"]["scope"], "Cluster");
        assert_eq!(crd["spec"]["names"]["shortNames"], json!(["gp"]));
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["subresources"], json!({"status": {}}));
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(columns, ["Ready", "Digest", "Age"]);
        let root = &version["schema"]["openAPIV3Schema"];
        assert_eq!(
            root["properties"]["status"]["properties"]["conditions"]["x-kubernetes-list-map-keys"],
            json!(["type"])
        );
        assert!(root["properties"]["spec"]["properties"]["toolkit"]["properties"]["env"].is_object());
    }

    #[test]
    fn crd_requires_nothing_coalescing_fills_but_keeps_list_items_required() {
        let crd = crd();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert!(spec.get("required").is_none(), "the defaults fill top-level keys");
        assert!(spec["properties"]["operator"].get("required").is_none(), "and keys of their maps");
        assert_eq!(spec["properties"]["toolkit"]["properties"]["env"]["items"]["required"], json!(["name"]));
    }
}
