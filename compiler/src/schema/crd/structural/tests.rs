//! The conversion, rule by rule.

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
    let out = convert(json!({"anyOf": [{"$ref": "#/$defs/Mode"}, {"type": "null"}], "description": "Which."}), defs);
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
