//! Transformation rules: what a render stage does to a value on its way into an object, said in
//! words, so `explain` can tell why a field is not the value the user wrote.
//!
//! Input: the rules each stage module declares next to the code that applies them
//! (`pub const RULES: &[Rule]`, gathered by [`crate::render::rules`]), a stage, a kind and a
//! canonical field path. Output: the first rule whose stage, kind and field pattern match. A
//! value with no matching rule is reported as "rendered from" its source — `explain` never
//! invents a rule.

use super::path::FieldPath;

/// One transformation a stage applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The stage that applies it (`container-toolkit`), or `*` for code every stage shares
    /// (image references, the operand settings).
    pub stage: &'static str,
    /// The object kind (`DaemonSet`), or `*`.
    pub kind: &'static str,
    /// The field pattern, in `explain`'s path syntax: `*` globs inside a key or a selector
    /// value, `[*]` is any list item (`spec.template.spec.containers[*].image`).
    pub field: &'static str,
    /// What the stage does, in one or two sentences.
    pub text: &'static str,
}

impl Rule {
    /// Whether the rule covers this field of this object.
    pub fn applies(&self, stage: &str, kind: &str, field: &FieldPath) -> bool {
        (self.stage == "*" || self.stage == stage)
            && (self.kind == "*" || self.kind == kind)
            && FieldPath::parse(self.field).is_ok_and(|pattern| pattern.matches(field))
    }
}

/// The first rule that covers the field, if any.
pub fn find(stage: &str, kind: &str, field: &FieldPath) -> Option<&'static Rule> {
    crate::render::rules().find(|r| r.applies(stage, kind, field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_pattern_parses() {
        for rule in crate::render::rules() {
            assert!(FieldPath::parse(rule.field).is_ok(), "{}: {}", rule.stage, rule.field);
            assert!(!rule.text.is_empty());
        }
    }
}
