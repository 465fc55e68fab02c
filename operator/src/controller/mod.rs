//! The in-cluster operator.
pub mod kind;
