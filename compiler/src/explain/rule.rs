//! Which transformation rule covers a field: the rules render stages declare
//! ([`crate::render::Rule`]) matched against `explain`'s field paths.
//!
//! Input: a stage, a kind and a canonical field path. Output: the first rule whose stage, kind
//! and field pattern match. A value with no matching rule is reported as "rendered from" its
//! source — `explain` never invents a rule.

use super::path::FieldPath;
use crate::render::{Rule, rules};

/// Whether the rule covers this field of this object.
pub fn applies(rule: &Rule, stage: &str, kind: &str, field: &FieldPath) -> bool {
    (rule.stage == "*" || rule.stage == stage)
        && (rule.kind == "*" || rule.kind == kind)
        && FieldPath::parse(rule.field).is_ok_and(|pattern| pattern.matches(field))
}

/// The first rule that covers the field, if any.
pub fn find(stage: &str, kind: &str, field: &FieldPath) -> Option<&'static Rule> {
    rules().find(|r| applies(r, stage, kind, field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_pattern_parses() {
        for rule in rules() {
            assert!(FieldPath::parse(rule.field).is_ok(), "{}: {}", rule.stage, rule.field);
            assert!(!rule.text.is_empty());
        }
    }
}
