//! The values schema's keywords evaluated directly over an instance: no compile step, and
//! work only where the instance goes.
//!
//! Input: a JSON instance, a schema node of the values schema (draft 2020-12) and how to look
//! up its `$defs`. Output: every [`Error`] the instance has, each an instance pointer and a
//! [`Kind`] carrying what a diagnostic needs. The meaning of each keyword is JSON Schema
//! 2020-12's, as the `jsonschema` crate gave it (its text for the keywords whose message is
//! all a diagnostic shows); a test runs both over many broken values and compares.
//!
//! Only the keywords in [`KEYWORDS`] are known. Another one, a `$ref` outside `#/$defs/` or a
//! pattern outside the ECMA syntax [`pattern`] accepts is a [`Kind::Schema`] error where it is
//! reached, never skipped, and a test walks the committed schema so none ships.

use serde_json::{Map, Value as J};

#[cfg(test)]
mod differential;
mod json;
mod pattern;
#[cfg(test)]
mod tests;

pub use json::message;

/// The keywords the interpreter knows: those it evaluates, then the annotations it skips
/// (`format` is an annotation in 2020-12 unless format assertion is asked for; it was not).
pub const KEYWORDS: &[&str] = &[
    "$ref",
    "additionalProperties",
    "anyOf",
    "enum",
    "items",
    "maxLength",
    "maximum",
    "minLength",
    "minimum",
    "not",
    "pattern",
    "properties",
    "propertyNames",
    "required",
    "type",
    "uniqueItems",
    "$defs",
    "$id",
    "$schema",
    "default",
    "description",
    "format",
    "title",
    super::UNRENDERED,
];

/// One way the instance breaks the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Error<'s> {
    /// JSON pointer of the instance value at fault (of the object, for its keys).
    pub pointer: String,
    /// What is wrong.
    pub kind: Kind<'s>,
}

/// What is wrong, with what a diagnostic says about it.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind<'s> {
    /// Keys a closed object does not list, in instance order.
    AdditionalProperties {
        /// The keys.
        unexpected: Vec<String>,
    },
    /// A value of none of the types: JSON types in jsonschema's order (null, boolean,
    /// integer, number, string, array, object).
    Type {
        /// The allowed types; one means the schema named one.
        expected: Vec<&'static str>,
    },
    /// A value equal to none of `enum`'s options.
    Enum {
        /// The `enum` array.
        options: &'s J,
    },
    /// A string that does not match `pattern`.
    Pattern {
        /// The pattern as written in the schema.
        pattern: &'s str,
    },
    /// An object without a key `required` names.
    Required {
        /// The key.
        property: String,
    },
    /// A value no branch of `anyOf` accepts.
    AnyOf,
    /// Any other keyword, with the message jsonschema gave.
    Other {
        /// The keyword (`minimum`, `not`, ...).
        keyword: &'static str,
        /// The message, which quotes the value.
        message: String,
    },
    /// The schema cannot be evaluated here: unknown keyword or reference, bad pattern.
    Schema {
        /// What is wrong with it.
        message: String,
    },
}

/// How many `$ref`s may follow each other without descending into the instance: a bound that
/// only a reference cycle reaches.
const MAX_REFS: usize = 32;

/// Every error `instance` has against the root schema `root`, walking only what `touched`
/// holds: where it is an object, only the members it names are checked, each against what
/// it holds there, and the others are taken as valid (they still count as keys for
/// `required` and `additionalProperties`); anything else (or `None`) has everything below it
/// checked. `def` finds a `$defs` entry by name.
pub fn validate<'s>(
    root: &'s J,
    instance: &J,
    touched: Option<&J>,
    def: &dyn Fn(&str) -> Option<&'s J>,
) -> Vec<Error<'s>> {
    let mut walk = Walk { def, pointer: String::new(), errors: Vec::new(), refs: 0 };
    walk.eval(root, instance, touched);
    walk.errors
}

/// What of a member to walk, given what is walked of its object: `None`, the member is not
/// walked; `Some(None)`, all of it.
fn member<'t>(touched: Option<&'t J>, key: &str) -> Option<Option<&'t J>> {
    match touched {
        Some(J::Object(members)) => members.get(key).map(Some),
        _ => Some(None),
    }
}

/// One walk: the pointer of the instance value at hand and what was found so far.
struct Walk<'s, 'd> {
    def: &'d dyn Fn(&str) -> Option<&'s J>,
    pointer: String,
    errors: Vec<Error<'s>>,
    /// `$ref`s followed since the walk last descended into the instance.
    refs: usize,
}

impl<'s> Walk<'s, '_> {
    fn fail(&mut self, kind: Kind<'s>) {
        self.errors.push(Error { pointer: self.pointer.clone(), kind });
    }

    fn broken(&mut self, message: String) {
        self.fail(Kind::Schema { message });
    }

    /// Evaluate one schema against one value, walking what `touched` holds of it.
    fn eval(&mut self, schema: &'s J, instance: &J, touched: Option<&J>) {
        let map = match schema {
            J::Object(map) => map,
            J::Bool(true) => return,
            J::Bool(false) => {
                return self.fail(Kind::Other {
                    keyword: "false",
                    message: format!("False schema does not allow {instance}"),
                });
            }
            other => return self.broken(format!("a schema must be an object or a boolean, not {other}")),
        };
        for (keyword, value) in map {
            match keyword.as_str() {
                "$ref" => self.reference(value, instance, touched),
                "additionalProperties" => {
                    if !map.contains_key("properties") {
                        self.object(None, value, instance, touched);
                    }
                }
                "properties" => match value {
                    J::Object(properties) => {
                        let extra = map.get("additionalProperties").unwrap_or(&J::Bool(true));
                        self.object(Some(properties), extra, instance, touched);
                    }
                    _ => self.broken(format!("`properties` must be an object, not {value}")),
                },
                "anyOf" => self.any_of(value, instance, touched),
                "not" => {
                    if self.valid(value, instance, touched) {
                        self.fail(Kind::Other {
                            keyword: "not",
                            message: format!("{value} is not allowed for {instance}"),
                        });
                    }
                }
                "items" => self.items(value, instance),
                "propertyNames" => self.property_names(value, instance),
                "type" => json::types(self, value, instance),
                "enum" => json::enumeration(self, value, instance),
                "pattern" => pattern::check(self, value, instance),
                "required" => json::required(self, value, instance),
                "minLength" | "maxLength" | "minimum" | "maximum" | "uniqueItems" => {
                    json::bound(self, keyword, value, instance);
                }
                known if KEYWORDS.contains(&known) => {}
                unknown => self.broken(format!("the keyword `{unknown}` is not supported")),
            }
        }
    }

    /// Whether `instance` is valid under `schema`, leaving no errors behind but those that say
    /// the schema itself is broken.
    fn valid(&mut self, schema: &'s J, instance: &J, touched: Option<&J>) -> bool {
        let before = self.errors.len();
        self.eval(schema, instance, touched);
        let valid = self.errors.len() == before;
        let found = self.errors.split_off(before);
        self.errors.extend(found.into_iter().filter(|e| matches!(e.kind, Kind::Schema { .. })));
        valid
    }

    fn reference(&mut self, target: &'s J, instance: &J, touched: Option<&J>) {
        let Some(name) = target.as_str().and_then(|t| t.strip_prefix("#/$defs/")) else {
            return self.broken(format!("the reference {target} is not to `#/$defs/`"));
        };
        let Some(schema) = (self.def)(&crate::values::unescape_pointer_token(name)) else {
            return self.broken(format!("the reference {target} has no target"));
        };
        if self.refs >= MAX_REFS {
            return self.broken(format!("the reference {target} is part of a cycle"));
        }
        self.refs += 1;
        self.eval(schema, instance, touched);
        self.refs -= 1;
    }

    /// Evaluate `schema` against a member of the value at hand.
    fn child(&mut self, token: &str, schema: &'s J, instance: &J, touched: Option<&J>) {
        let (len, refs) = (self.pointer.len(), self.refs);
        self.pointer.push('/');
        crate::values::push_pointer_token(&mut self.pointer, token);
        self.refs = 0;
        self.eval(schema, instance, touched);
        self.pointer.truncate(len);
        self.refs = refs;
    }

    /// `properties` and `additionalProperties` together: a key is additional when
    /// `properties` does not list it. Members `touched` leaves out count as keys, unchecked.
    fn object(&mut self, properties: Option<&'s Map<String, J>>, extra: &'s J, instance: &J, touched: Option<&J>) {
        let J::Object(members) = instance else { return };
        let mut unexpected = Vec::new();
        for (key, value) in members {
            let walked = member(touched, key);
            match (properties.and_then(|p| p.get(key)), extra) {
                (None, J::Bool(true)) => {}
                (None, J::Bool(false)) => unexpected.push(key.clone()),
                (Some(schema), _) | (None, schema) => {
                    if let Some(touched) = walked {
                        self.child(key, schema, value, touched);
                    }
                }
            }
        }
        match (unexpected.is_empty(), properties.is_none_or(Map::is_empty)) {
            (true, _) => {}
            (false, false) => self.fail(Kind::AdditionalProperties { unexpected }),
            // A closed object listing no keys: jsonschema names the first value only.
            (false, true) => {
                let first = members.values().next().map(J::to_string).unwrap_or_default();
                self.fail(Kind::Other {
                    keyword: "additionalProperties",
                    message: format!("False schema does not allow {first}"),
                });
            }
        }
    }

    fn items(&mut self, schema: &'s J, instance: &J) {
        let J::Array(items) = instance else { return };
        // A list is the user's or the defaults' whole (Helm replaces lists): all of it is walked.
        for (index, item) in items.iter().enumerate() {
            self.child(&index.to_string(), schema, item, None);
        }
    }

    fn any_of(&mut self, branches: &'s J, instance: &J, touched: Option<&J>) {
        let Some(branches) = branches.as_array().filter(|b| !b.is_empty()) else {
            return self.broken(format!("`anyOf` must be a non-empty array, not {branches}"));
        };
        let mut accepted = false;
        for branch in branches {
            // Every branch is evaluated, so a broken schema is found whichever branch passes.
            accepted |= self.valid(branch, instance, touched);
        }
        if !accepted {
            self.fail(Kind::AnyOf);
        }
    }

    /// `propertyNames`: each key evaluated as a string; each of its errors reported at the
    /// object, with the message of the error the key has.
    fn property_names(&mut self, schema: &'s J, instance: &J) {
        let J::Object(members) = instance else { return };
        for key in members.keys() {
            let name = J::String(key.clone());
            let mut inner = Walk { def: self.def, pointer: String::new(), errors: Vec::new(), refs: self.refs };
            inner.eval(schema, &name, None);
            for error in inner.errors {
                let kind = match error.kind {
                    Kind::Schema { message } => Kind::Schema { message },
                    kind => Kind::Other { keyword: "propertyNames", message: message(&kind, &name) },
                };
                self.fail(kind);
            }
        }
    }
}
