//! The renderings of the built-in defaults, made ahead of time: for every template a compile
//! of the defaults renders, the view it sees and the objects it gives, in a table committed
//! beside the defaults (`values/values.rendered`) and embedded in the binary.
//!
//! Input: a template name and the view a stage hands it. Output: the objects the template
//! renders from that view, when the table holds that template with that view, byte for byte as
//! JSON; else nothing, and the template is rendered. A template's output is a function of its
//! view alone, so the table answers exactly what rendering would, without compiling the
//! template, running it or reading its YAML back: most of a compile's time, when most stages
//! keep their defaults.
//!
//! The table starts with a hash of every template it was made with: a table of other templates
//! is not used at all, so a stale table costs time, never correctness. The test suite keeps it
//! in step and `UPDATE_GOLDEN=1` rewrites it ([`table`]).
//!
//! Format, one line each: `gpuplan-rendered 1 <fingerprint>`, then for every rendering its
//! template, its view as JSON, and its objects as a JSON list.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::templates::FINGERPRINT;
use super::{Context, Out, Printed, Recall, STAGES};
use crate::error::Error;
use crate::plan::Stage;

/// The committed table.
const TABLE: &str = include_str!("../../../values/values.rendered");

/// The first line's words before the fingerprint (the format's version last).
const MAGIC: &str = "gpuplan-rendered 1";

/// One rendering: a template, the view it was given (JSON) and the objects it gave (a JSON list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendering<'a> {
    /// The template's name (`<stage>/<kind>.yaml`).
    pub template: &'a str,
    /// Its view, as compact JSON.
    pub view: &'a str,
    /// Its non-empty documents, as a compact JSON list of objects.
    pub objects: &'a str,
}

/// The renderings of `text`, when it is a table made with these templates.
fn parse(text: &str, fingerprint: u64) -> Option<Vec<Rendering<'_>>> {
    let mut lines = text.lines();
    let header = lines.next()?;
    let found = header.strip_prefix(MAGIC)?.strip_prefix(' ')?;
    if u64::from_str_radix(found.strip_prefix("0x").unwrap_or(found), 16).ok()? != fingerprint {
        return None;
    }
    let mut renderings = Vec::new();
    while let Some(template) = lines.next() {
        let (view, objects) = (lines.next()?, lines.next()?);
        renderings.push(Rendering { template, view, objects });
    }
    Some(renderings)
}

/// One of the embedded table's renderings, and its objects once decoded.
struct Embedded {
    rendering: Rendering<'static>,
    /// Whether it has been used in this process.
    used: AtomicBool,
    /// Its objects, kept from the second use on.
    objects: OnceLock<Vec<serde_json::Value>>,
}

/// The embedded table's renderings (none when it belongs to other templates).
fn embedded() -> &'static [Embedded] {
    static EMBEDDED: OnceLock<Vec<Embedded>> = OnceLock::new();
    EMBEDDED.get_or_init(|| {
        let renderings = parse(TABLE, FINGERPRINT).unwrap_or_default();
        renderings
            .into_iter()
            .map(|rendering| Embedded { rendering, used: AtomicBool::new(false), objects: OnceLock::new() })
            .collect()
    })
}

/// The first of `renderings` that is of `template` from `view`. A view `printed` once (a
/// [`super::Shared`] one) is compared as text; any other is printed against each candidate.
fn find<'r, T: 'r, V: Serialize>(
    renderings: impl IntoIterator<Item = (&'r Rendering<'r>, T)>,
    template: &str,
    view: &V,
    printed: Option<&Printed>,
) -> Option<(&'r Rendering<'r>, T)> {
    let same = |r: &Rendering<'_>| match printed {
        Some(cell) => cell.get_or_init(|| serde_json::to_string(view).ok()).as_deref() == Some(r.view),
        None => prints_as(view, r.view),
    };
    renderings.into_iter().find(|(r, _)| r.template == template && same(r))
}

/// Whether `view` prints as the JSON text `expected`: printed straight into a comparison that
/// stops at the first byte that differs, nothing allocated.
fn prints_as<V: Serialize>(view: &V, expected: &str) -> bool {
    struct Compare<'a>(&'a [u8]);
    impl std::io::Write for Compare<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match self.0.strip_prefix(buf) {
                Some(rest) => {
                    self.0 = rest;
                    Ok(buf.len())
                }
                None => Err(std::io::ErrorKind::InvalidData.into()),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut rest = Compare(expected.as_bytes());
    serde_json::to_writer(&mut rest, view).is_ok() && rest.0.is_empty()
}

/// The objects `template` renders from `view`, when the embedded table holds that rendering.
pub(super) fn lookup<V: Serialize>(
    template: &str,
    view: &V,
    printed: Option<&Printed>,
) -> Option<Vec<serde_json::Value>> {
    let (rendering, embedded) = find(embedded().iter().map(|e| (&e.rendering, e)), template, view, printed)?;
    if let Some(objects) = embedded.objects.get() {
        return Some(objects.clone());
    }
    let objects: Vec<serde_json::Value> = serde_json::from_str(rendering.objects).ok()?;
    // A process that compiles again (the operator, `explain`, a bench) keeps what it decodes
    // for the second time; one that compiles once pays for no copy.
    if embedded.used.swap(true, Ordering::Relaxed) {
        let _ = embedded.objects.set(objects.clone());
    }
    Some(objects)
}

/// What a fresh rendering records for the table: `(template, view, objects)`, each as text.
pub(super) type Recorded = Vec<(String, String, String)>;

/// Note that `template` rendered `objects` from `view`, once per template and view.
pub(super) fn record<V: Serialize>(recorded: &mut Recorded, template: &str, view: &V, objects: &[serde_json::Value]) {
    let (Ok(view), Ok(objects)) = (serde_json::to_string(view), serde_json::to_string(objects)) else {
        return;
    };
    if !recorded.iter().any(|(t, v, _)| t == template && *v == view) {
        recorded.push((template.to_owned(), view, objects));
    }
}

/// Every stage of `ctx` rendered afresh, the table unused, each rendering recorded; then the
/// CRDs, which render from no values at all, whether or not `ctx` needs them.
fn afresh(ctx: &Context<'_>, recorded: &mut Recorded) -> Result<Vec<Stage>, Error> {
    let mut stages = Vec::new();
    for (name, render_stage) in STAGES {
        let mut out = Out::new(ctx.facts, Recall::Off);
        out.fresh = Some(recorded);
        render_stage(ctx, &mut out)?;
        stages.push(Stage { name: name.to_owned(), objects: out.objects, omitted: out.omitted });
    }
    let none = crate::facts::Facts::default();
    let mut out = Out::new(&none, Recall::Off);
    out.fresh = Some(recorded);
    super::nfd::emit_crds(&mut out)?;
    Ok(stages)
}

/// Every stage, as [`super::render`] renders it, but with every template rendered now.
pub fn render_afresh(ctx: &Context<'_>) -> Result<Vec<Stage>, Error> {
    afresh(ctx, &mut Recorded::new())
}

/// The table for `ctx`: each template's rendering once, in rendering order. The test suite
/// makes it for the defaults.
pub fn table(ctx: &Context<'_>) -> Result<String, Error> {
    let mut recorded = Recorded::new();
    afresh(ctx, &mut recorded)?;
    let mut text = format!("{MAGIC} {FINGERPRINT:#018x}\n");
    for (template, view, objects) in &recorded {
        text.push_str(&format!("{template}\n{view}\n{objects}\n"));
    }
    Ok(text)
}

/// The renderings of a table's text made with these templates (for the test suite).
pub fn renderings(text: &str) -> Option<Vec<Rendering<'_>>> {
    parse(text, FINGERPRINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_other_templates_is_not_read() {
        let text = "gpuplan-rendered 1 0x0000000000000001\nt.yaml\n{}\n[]\n";
        assert_eq!(parse(text, 1).map(|r| r.len()), Some(1));
        assert_eq!(parse(text, 2), None);
        assert_eq!(parse("gpuplan-rendered 2 0x0000000000000001\n", 1), None);
        // A rendering cut short is no table.
        assert_eq!(parse("gpuplan-rendered 1 0x0000000000000001\nt.yaml\n{}\n", 1), None);
    }

    #[derive(Serialize)]
    struct View {
        a: u32,
    }

    #[test]
    fn a_view_is_found_only_byte_for_byte_and_only_for_its_template() {
        let text = "gpuplan-rendered 1 0x0000000000000001\nt.yaml\n{\"a\":1}\n[{\"kind\":\"A\"}]\n";
        let table = parse(text, 1).expect("a table");
        for printed in [None, Some(&Printed::new())] {
            assert_eq!(
                find(table.iter().map(|r| (r, ())), "t.yaml", &View { a: 1 }, printed).map(|(r, _)| r.objects),
                Some("[{\"kind\":\"A\"}]")
            );
        }
        for printed in [None, Some(&Printed::new())] {
            assert_eq!(find(table.iter().map(|r| (r, ())), "t.yaml", &View { a: 2 }, printed), None);
            assert_eq!(find(table.iter().map(|r| (r, ())), "u.yaml", &View { a: 1 }, printed), None);
        }
        // A view that prints as the start of the recorded one is not it.
        let text = "gpuplan-rendered 1 0x0000000000000001\nt.yaml\n{\"a\":12}\n[]\n";
        assert_eq!(
            find(parse(text, 1).expect("a table").iter().map(|r| (r, ())), "t.yaml", &View { a: 1 }, None),
            None
        );
    }
}
