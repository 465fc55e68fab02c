//! Transformation rules: what a render stage does to a value on its way into an object, said in
//! words, declared by each stage module next to the code that applies it.
//!
//! Input: none — each stage declares `pub const RULES: &[Rule]`. Output: [`Rule`], the data
//! [`crate::explain`] matches fields against (through [`super::rules`]) to tell why a field is
//! not the value the user wrote.

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
