//! Combining values trees with Helm v3's rules.
//!
//! Input: user values (from files and flags) and a chart's defaults. Output: the effective
//! values and Helm's warnings. Two operations:
//!
//! - [`merge_maps`] joins successive `-f` files: maps merge recursively; lists, scalars and
//!   nulls from the later file replace (a null is *kept*, so it can delete a default later).
//! - [`coalesce`] lays the user values over a chart's defaults (`CoalesceValues`). Walking the
//!   defaults: a key the user did not give is copied in (default nulls too); a user `null`
//!   deletes the default key; maps merge recursively; user lists and scalars replace. A user
//!   `null` with no default, or over a default `null`, stays `null`. A user map over a default
//!   scalar, or a user scalar over a default map, keeps the user's value with Helm's warning.
//!   Subcharts get their own defaults under their name, and the parent's `global` map is
//!   merged into every subchart's `global`.
//!
//! Warning texts are Helm's, so users can search for them; each warning also carries the JSON
//! pointer and origin of the user value concerned.

use std::borrow::Cow;

use super::print::go_v;
use super::{Map, Node, Origin, Source, Value};
use crate::error::{Diagnostic, Error};

/// A chart: its name, default values and subcharts (for coalescing).
#[derive(Debug, Clone, Default)]
pub struct Chart<'a> {
    /// Chart name; warnings name keys as `<chart>.<key>`.
    pub name: String,
    /// The chart's `values.yaml`: borrowed when they outlive the coalescing (the built-in
    /// defaults), so that only the keys the user did not set are copied.
    pub values: Cow<'a, Map>,
    /// Subcharts, whose values live under their name in the parent's values.
    pub dependencies: Vec<Chart<'a>>,
}

/// Helm's `mergeMaps`: `b` over `a`, maps merged recursively, everything else replaced.
pub fn merge_maps(mut a: Map, b: Map) -> Map {
    for (key, node) in b {
        match (a.get_mut(&key), node) {
            (Some(Node { value: Value::Map(existing), .. }), Node { value: Value::Map(incoming), .. }) => {
                let merged = merge_maps(std::mem::take(existing), incoming);
                *existing = merged;
            }
            (_, node) => {
                a.insert(key, node);
            }
        }
    }
    a
}

/// Helm's `CoalesceValues`: user values over the chart's defaults; `null` deletes.
pub fn coalesce(chart: &Chart<'_>, user: Map) -> Result<(Map, Vec<Diagnostic>), Error> {
    run(chart, user, false)
}

/// [`coalesce`], taking the chart: the defaults the user did not set are moved into the
/// result where the chart owns them ([`Cow::Owned`]), copied where it borrows them.
pub fn coalesce_owned(chart: Chart<'_>, user: Map) -> Result<(Map, Vec<Diagnostic>), Error> {
    let Chart { name, values, dependencies } = chart;
    let chart = Chart { name, values: Cow::Owned(Map::new()), dependencies };
    let mut out = Coalescer { warnings: Vec::new() };
    let mut user = user;
    out.values(&chart, values, &mut user, "", "", false);
    out.dependencies(&chart, &mut user, "", "", false)?;
    Ok((user, out.warnings))
}

/// Helm's `MergeValues`: like [`coalesce`] but `null`s are kept, never deleted.
pub fn merge_values(chart: &Chart<'_>, user: Map) -> Result<(Map, Vec<Diagnostic>), Error> {
    run(chart, user, true)
}

/// Helm's `CoalesceTables(dst, src)`: `dst` (authoritative) over `src`.
pub fn coalesce_tables(dst: Map, src: &Map) -> (Map, Vec<Diagnostic>) {
    let mut out = Coalescer { warnings: Vec::new() };
    let mut dst = dst;
    out.tables(&mut dst, Cow::Borrowed(src), "", "", false);
    (dst, out.warnings)
}

/// Helm's `MergeTables(dst, src)`: [`coalesce_tables`] keeping `null`s.
pub fn merge_tables(dst: Map, src: &Map) -> (Map, Vec<Diagnostic>) {
    let mut out = Coalescer { warnings: Vec::new() };
    let mut dst = dst;
    out.tables(&mut dst, Cow::Borrowed(src), "", "", true);
    (dst, out.warnings)
}

fn run(chart: &Chart<'_>, mut user: Map, merge: bool) -> Result<(Map, Vec<Diagnostic>), Error> {
    let mut out = Coalescer { warnings: Vec::new() };
    out.chart(chart, &mut user, "", "", merge)?;
    Ok((user, out.warnings))
}

struct Coalescer {
    warnings: Vec<Diagnostic>,
}

fn concat(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") }
}

fn child_pointer(pointer: &str, key: &str) -> String {
    let mut p = pointer.to_owned();
    p.push('/');
    super::push_pointer_token(&mut p, key);
    p
}

/// A map's entries: moved out of it when it is owned, borrowed when it is borrowed.
fn entries<'m>(map: Cow<'m, Map>) -> Box<dyn Iterator<Item = (Cow<'m, str>, Cow<'m, Node>)> + 'm> {
    match map {
        Cow::Borrowed(map) => Box::new(map.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v)))),
        Cow::Owned(map) => Box::new(map.into_iter().map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))),
    }
}

/// The map a node holds, moved out of it when it is owned.
fn into_map(node: Cow<'_, Node>) -> Cow<'_, Map> {
    match node {
        Cow::Borrowed(Node { value: Value::Map(map), .. }) => Cow::Borrowed(map),
        Cow::Owned(Node { value: Value::Map(map), .. }) => Cow::Owned(map),
        _ => Cow::Owned(Map::new()),
    }
}

fn inline_map() -> Node {
    Node::new(Value::Map(Map::new()), Origin::new(Source::Inline))
}

impl Coalescer {
    fn warn(&mut self, pointer: &str, origin: Option<&Origin>, message: String) {
        self.warnings.push(Diagnostic::warning(pointer, message).with_origin(origin.cloned()));
    }

    /// `coalesce`: this chart's defaults, then its dependencies.
    fn chart(
        &mut self,
        chart: &Chart<'_>,
        dest: &mut Map,
        prefix: &str,
        pointer: &str,
        merge: bool,
    ) -> Result<(), Error> {
        self.values(chart, Cow::Borrowed(&chart.values), dest, prefix, pointer, merge);
        self.dependencies(chart, dest, prefix, pointer, merge)
    }

    /// `coalesceValues`: walk the chart's default keys (`values`, the chart's own or taken
    /// from it).
    fn values(
        &mut self,
        chart: &Chart<'_>,
        values: Cow<'_, Map>,
        dest: &mut Map,
        prefix: &str,
        pointer: &str,
        merge: bool,
    ) {
        let sub_prefix = concat(prefix, &chart.name);
        for (key, default) in entries(values) {
            match dest.get_mut(key.as_ref()) {
                None => {
                    dest.insert(key.into_owned(), default.into_owned());
                }
                Some(user) if user.is_null() && !merge => {
                    dest.remove(key.as_ref());
                }
                Some(Node { value: Value::Map(user_map), origin }) => match &default.value {
                    Value::Map(_) => {
                        let merge = merge || chart.dependencies.iter().any(|d| d.name == key);
                        let (full, key_pointer) = (concat(&sub_prefix, &key), child_pointer(pointer, &key));
                        self.tables(user_map, into_map(default), &full, &key_pointer, merge);
                    }
                    Value::Null => {}
                    _ => {
                        let origin = origin.clone();
                        self.warn(
                            &child_pointer(pointer, &key),
                            Some(&origin),
                            format!("skipped value for {sub_prefix}.{key}: Not a table."),
                        );
                    }
                },
                Some(_) => {}
            }
        }
    }

    /// `coalesceDeps`: each subchart's values under its name, with the globals merged in.
    fn dependencies(
        &mut self,
        chart: &Chart<'_>,
        dest: &mut Map,
        prefix: &str,
        pointer: &str,
        merge: bool,
    ) -> Result<(), Error> {
        for sub in &chart.dependencies {
            match dest.get(&sub.name) {
                None => {
                    dest.insert(sub.name.clone(), inline_map());
                }
                Some(Node { value: Value::Map(_), .. }) => {}
                Some(other) => {
                    return Err(Error::TypeMismatch { chart: sub.name.clone(), found: go_v(&other.value) });
                }
            }
            let sub_prefix = concat(prefix, &chart.name);
            let sub_pointer = child_pointer(pointer, &sub.name);
            let globals = dest.get("global").cloned();
            let Some(Node { value: Value::Map(sub_values), .. }) = dest.get_mut(&sub.name) else {
                continue;
            };
            self.globals(sub_values, globals.as_ref(), &sub_prefix, &sub_pointer);
            self.chart(sub, sub_values, &sub_prefix, &sub_pointer, merge)?;
        }
        Ok(())
    }

    /// `coalesceGlobals`: the parent's `global` map merged into the subchart's, parent winning.
    fn globals(&mut self, dest: &mut Map, parent_global: Option<&Node>, prefix: &str, pointer: &str) {
        let global_pointer = child_pointer(pointer, "global");
        let mut dest_global = match dest.get("global") {
            None => Map::new(),
            Some(Node { value: Value::Map(m), .. }) => m.clone(),
            Some(node) => {
                let origin = node.origin.clone();
                self.warn(
                    &global_pointer,
                    Some(&origin),
                    "skipping globals because destination global is not a table.".into(),
                );
                return;
            }
        };
        let source_global = match parent_global {
            None => Map::new(),
            Some(Node { value: Value::Map(m), .. }) => m.clone(),
            Some(node) => {
                let origin = node.origin.clone();
                self.warn(
                    &global_pointer,
                    Some(&origin),
                    "skipping globals because source global is not a table.".into(),
                );
                return;
            }
        };
        for (key, value) in source_global {
            match (&value.value, dest_global.get(&key)) {
                (Value::Map(_), None) => {
                    dest_global.insert(key, value);
                }
                (Value::Map(parent_map), Some(existing)) => match &existing.value {
                    Value::Map(existing_map) => {
                        // Parent over subchart: the parent's copy is authoritative.
                        let mut merged = parent_map.clone();
                        let existing_map = existing_map.clone();
                        self.tables(
                            &mut merged,
                            Cow::Owned(existing_map),
                            &concat(prefix, &key),
                            &child_pointer(&global_pointer, &key),
                            true,
                        );
                        dest_global.insert(key, Node::new(Value::Map(merged), value.origin.clone()));
                    }
                    _ => {
                        self.warn(
                            &global_pointer,
                            Some(&value.origin),
                            format!(
                                "Conflict: cannot merge map onto non-map for {}. Skipping.",
                                super::set::go_quote(&key)
                            ),
                        );
                    }
                },
                (_, Some(Node { value: Value::Map(_), .. })) => {
                    self.warn(&global_pointer, Some(&value.origin), format!("key {key} is table. Skipping"));
                }
                _ => {
                    dest_global.insert(key, value);
                }
            }
        }
        dest.insert("global".into(), Node::new(Value::Map(dest_global), Origin::new(Source::Inline)));
    }

    /// `coalesceTablesFullKey`: `dst` (user, authoritative) over `src` (defaults: copied
    /// where borrowed, moved where owned).
    fn tables(&mut self, dst: &mut Map, src: Cow<'_, Map>, prefix: &str, pointer: &str, merge: bool) {
        for (key, default) in entries(src) {
            let Some(user) = dst.get_mut(key.as_ref()) else {
                dst.insert(key.into_owned(), default.into_owned());
                continue;
            };
            if user.is_null() {
                if !merge && !default.is_null() {
                    dst.remove(key.as_ref());
                }
                continue;
            }
            let (full, key_pointer) = (concat(prefix, &key), child_pointer(pointer, &key));
            match (&mut user.value, &default.value) {
                (Value::Map(user_map), Value::Map(_)) => {
                    self.tables(user_map, into_map(default), &full, &key_pointer, merge);
                }
                (_, Value::Map(_)) => {
                    let origin = user.origin.clone();
                    self.warn(
                        &key_pointer,
                        Some(&origin),
                        format!("cannot overwrite table with non table for {full} ({})", go_v(&default.value)),
                    );
                }
                (Value::Map(_), d) if !matches!(d, Value::Null) => {
                    let origin = user.origin.clone();
                    self.warn(
                        &key_pointer,
                        Some(&origin),
                        format!(
                            "destination for {full} is a table. Ignoring non-table value ({})",
                            go_v(&default.value)
                        ),
                    );
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{Source, load::load};

    fn map(yaml: &str) -> Map {
        load(yaml, &Source::Inline).expect("valid").0
    }

    #[test]
    fn given_a_user_null_deletes_the_default_key() {
        let chart =
            Chart { name: "c".into(), values: Cow::Owned(map("a: 1\nb: {x: 1, y: 2}\n")), dependencies: vec![] };
        let (out, warnings) = coalesce(&chart, map("a: null\nb: {y: null}\nz: null\n")).expect("coalesces");
        assert!(!out.contains_key("a"));
        assert_eq!(out["b"].as_map().map(|m| m.keys().cloned().collect::<Vec<_>>()), Some(vec!["x".to_owned()]));
        assert!(out["z"].is_null(), "a user null with no default stays");
        assert!(warnings.is_empty());
    }

    #[test]
    fn given_the_chart_taken_the_result_and_warnings_are_those_of_the_chart_borrowed() {
        let defaults = "a: 1\nb: {x: 1, y: {p: 2, q: [1]}, z: null}\nc: {d: 1}\ne: 2\nn: null\nglobal: {g: 1}\n";
        let users = [
            "a: null\nb: {y: {p: null, r: 3}, z: 4}\n",
            "b: 5\nc: {d: {deep: 1}}\ne: {f: 1}\n",
            "n: {m: 1}\nb: {y: 7, x: null}\nnew: [1]\n",
            "{}\n",
        ];
        for user in users {
            let chart = || Chart { name: "c".into(), values: Cow::Owned(map(defaults)), dependencies: vec![] };
            let borrowed = coalesce(&chart(), map(user)).expect("coalesces");
            let taken = coalesce_owned(chart(), map(user)).expect("coalesces");
            assert_eq!(format!("{taken:?}"), format!("{borrowed:?}"), "{user}");
        }
    }

    #[test]
    fn given_a_list_over_a_default_list_replaces_it() {
        let chart = Chart { name: "c".into(), values: Cow::Owned(map("l: [1, 2, 3]\n")), dependencies: vec![] };
        let (out, _) = coalesce(&chart, map("l: [9]\n")).expect("coalesces");
        assert!(matches!(&out["l"].value, Value::List(items) if items.len() == 1));
    }
}
