//! The keywords that look at one JSON value alone (`type`, `enum`, `required`, the bounds,
//! `uniqueItems`), JSON equality as JSON Schema defines it, and the messages of errors.
//!
//! Input: a keyword's value and the instance value at hand. Output: errors pushed on the walk.
//! Numbers compare by value whatever their representation (`1`, `1.0` and `1e0` are equal and
//! all integers), as 2020-12 says; string lengths count code points.

use std::cmp::Ordering;

use serde_json::{Number, Value as J};

use super::{Kind, Walk};

/// The JSON types, in the order jsonschema lists them in a message.
const TYPES: [&str; 7] = ["null", "boolean", "integer", "number", "string", "array", "object"];

/// `type`: a name or an array of names.
pub(super) fn types<'s>(walk: &mut Walk<'s, '_>, value: &'s J, instance: &J) {
    let names = match value {
        J::Array(names) => names.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut allowed = [false; TYPES.len()];
    for name in names {
        match TYPES.iter().position(|t| name.as_str() == Some(t)) {
            Some(index) => allowed[index] = true,
            None => return walk.broken(format!("{name} is not a JSON type")),
        }
    }
    if !TYPES.iter().zip(allowed).any(|(t, on)| on && is(t, instance)) {
        let expected = TYPES.iter().zip(allowed).filter(|(_, on)| *on).map(|(t, _)| *t).collect();
        walk.fail(Kind::Type { expected });
    }
}

fn is(name: &str, value: &J) -> bool {
    match (name, value) {
        ("null", J::Null) | ("boolean", J::Bool(_)) | ("number", J::Number(_)) => true,
        ("string", J::String(_)) | ("array", J::Array(_)) | ("object", J::Object(_)) => true,
        ("integer", J::Number(n)) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

/// `enum`: the value equals one of the options.
pub(super) fn enumeration<'s>(walk: &mut Walk<'s, '_>, options: &'s J, instance: &J) {
    let Some(list) = options.as_array() else {
        return walk.broken(format!("`enum` must be an array, not {options}"));
    };
    if !list.iter().any(|option| order(option, instance).is_eq()) {
        walk.fail(Kind::Enum { options });
    }
}

/// `required`: each named key is present (in an object; other values pass).
pub(super) fn required(walk: &mut Walk<'_, '_>, names: &J, instance: &J) {
    let Some(names) = names.as_array() else {
        return walk.broken(format!("`required` must be an array, not {names}"));
    };
    let J::Object(members) = instance else { return };
    for name in names {
        match name.as_str() {
            Some(key) if !members.contains_key(key) => walk.fail(Kind::Required { property: key.to_owned() }),
            Some(_) => {}
            None => walk.broken(format!("`required` names {name}, not a key")),
        }
    }
}

/// The keywords that bound a value: `minLength`, `maxLength`, `minimum`, `maximum`,
/// `uniqueItems`, with jsonschema's messages.
pub(super) fn bound(walk: &mut Walk<'_, '_>, keyword: &str, limit: &J, instance: &J) {
    let message = match (keyword, instance) {
        ("minLength" | "maxLength", J::String(s)) => {
            let Some(n) = size(limit) else {
                return walk.broken(format!("`{keyword}` must be a count, not {limit}"));
            };
            let length = s.chars().count() as u64;
            let plural = if n == 1 { "" } else { "s" };
            match keyword {
                "minLength" if length < n => format!("{instance} is shorter than {n} character{plural}"),
                "maxLength" if length > n => format!("{instance} is longer than {n} character{plural}"),
                _ => return,
            }
        }
        ("minimum" | "maximum", J::Number(n)) => {
            let J::Number(bound) = limit else {
                return walk.broken(format!("`{keyword}` must be a number, not {limit}"));
            };
            match (keyword, compare(n, bound)) {
                ("minimum", Ordering::Less) => format!("{instance} is less than the minimum of {limit}"),
                ("maximum", Ordering::Greater) => format!("{instance} is greater than the maximum of {limit}"),
                _ => return,
            }
        }
        ("uniqueItems", J::Array(items)) if *limit == J::Bool(true) => {
            let mut sorted: Vec<&J> = items.iter().collect();
            sorted.sort_by(|a, b| order(a, b));
            if sorted.windows(2).all(|pair| order(pair[0], pair[1]).is_ne()) {
                return;
            }
            format!("{instance} has non-unique elements")
        }
        _ => return,
    };
    let keyword = match keyword {
        "minLength" => "minLength",
        "maxLength" => "maxLength",
        "minimum" => "minimum",
        "maximum" => "maximum",
        _ => "uniqueItems",
    };
    walk.fail(Kind::Other { keyword, message });
}

/// A non-negative integer bound (`2` or `2.0`).
fn size(limit: &J) -> Option<u64> {
    limit.as_u64().or_else(|| {
        let f = limit.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0)?;
        // Saturates past u64, which no string length reaches.
        Some(f as u64)
    })
}

/// Two numbers by value: integers exactly, an integer and a float without rounding either.
fn compare(a: &Number, b: &Number) -> Ordering {
    let exact = |n: &Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
    let float = |n: &Number| n.as_f64().unwrap_or(0.0);
    match (exact(a), exact(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(x), None) => integer_to_float(x, float(b)),
        (None, Some(y)) => integer_to_float(y, float(a)).reverse(),
        // JSON has no NaN, so floats are totally ordered (and -0 equals 0, as it should).
        (None, None) => float(a).partial_cmp(&float(b)).unwrap_or(Ordering::Equal),
    }
}

/// An integer (at most 64 bits) against a float.
fn integer_to_float(i: i128, f: f64) -> Ordering {
    const FAR: f64 = 1e30; // past every 64-bit integer, within i128
    if f >= FAR {
        return Ordering::Less;
    }
    if f <= -FAR {
        return Ordering::Greater;
    }
    let whole = f.trunc();
    // Exact: `whole` is an integer below 2^100 in size.
    i.cmp(&(whole as i128)).then(0.0_f64.total_cmp(&(f - whole)))
}

/// A total order on JSON values whose equality is JSON Schema's: numbers by value, arrays
/// item by item, objects key by key.
pub(super) fn order(a: &J, b: &J) -> Ordering {
    let rank = |v: &J| match v {
        J::Null => 0,
        J::Bool(_) => 1,
        J::Number(_) => 2,
        J::String(_) => 3,
        J::Array(_) => 4,
        J::Object(_) => 5,
    };
    match (a, b) {
        (J::Bool(x), J::Bool(y)) => x.cmp(y),
        (J::Number(x), J::Number(y)) => compare(x, y),
        (J::String(x), J::String(y)) => x.cmp(y),
        (J::Array(x), J::Array(y)) => x
            .len()
            .cmp(&y.len())
            .then_with(|| x.iter().zip(y).map(|(p, q)| order(p, q)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)),
        (J::Object(x), J::Object(y)) => x.len().cmp(&y.len()).then_with(|| {
            // Both maps iterate in key order.
            x.iter()
                .zip(y)
                .map(|((k, v), (l, w))| k.cmp(l).then_with(|| order(v, w)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// The message jsonschema gave an error of this kind on this value.
pub fn message(kind: &Kind<'_>, instance: &J) -> String {
    match kind {
        Kind::AdditionalProperties { unexpected } => {
            let listed: Vec<String> = unexpected.iter().map(|k| format!("'{k}'")).collect();
            let verb = if unexpected.len() == 1 { "was" } else { "were" };
            format!("Additional properties are not allowed ({} {verb} unexpected)", listed.join(", "))
        }
        Kind::Type { expected } if expected.len() == 1 => format!("{instance} is not of type \"{}\"", expected[0]),
        Kind::Type { expected } => {
            let listed: Vec<String> = expected.iter().map(|t| format!("\"{t}\"")).collect();
            format!("{instance} is not of types {}", listed.join(", "))
        }
        Kind::Enum { options } => {
            let options: Vec<String> = options.as_array().into_iter().flatten().map(J::to_string).collect();
            let listed = match options.as_slice() {
                [] => String::new(),
                [only] => only.clone(),
                [first @ .., last] if options.len() <= 3 => format!("{} or {last}", first.join(", ")),
                _ => format!("{} or {} other candidates", options[..2].join(", "), options.len() - 2),
            };
            format!("{instance} is not one of {listed}")
        }
        Kind::Pattern { pattern } => format!("{instance} does not match \"{pattern}\""),
        Kind::Required { property } => format!("{} is a required property", J::String(property.clone())),
        Kind::AnyOf => format!("{instance} is not valid under any of the schemas listed in the 'anyOf' keyword"),
        Kind::Other { message, .. } | Kind::Schema { message } => message.clone(),
    }
}
