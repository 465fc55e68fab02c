//! gpuplan's own rendered objects read the short way: straight from the YAML parser's events
//! to JSON, without the origins, limits and alias accounting the values loader keeps for
//! untrusted input. Re-reading every rendered template through that loader was a quarter of
//! a `gpuplan template` run.
//!
//! Input: the text of one rendered document. Output: its JSON, exactly what
//! [`super::load::load_document`] and `to_json` give (the same YAML 1.1 scalar rules, shared
//! with the loader), or `None` when the text uses anything beyond maps, lists and untagged
//! scalars with plain string keys — anchors, aliases, tags, merge keys, keys that resolve to
//! another type, a root that is not a map — or does not parse: the caller then reads it with
//! the full loader, which has the answer and the error messages for all of those. The golden
//! plans compare both paths' results byte for byte.

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value as J};

use super::load::{Scalar, resolve_plain};

/// Deeper than a rendered object nests (values nest at most 64 levels).
const MAX_DEPTH: usize = 128;

/// The document's JSON, or `None` to leave it to the full loader.
pub fn document_json(text: &str) -> Option<J> {
    // The templates' own subset first, by hand; the parser's events for anything else.
    if let Some(json) = super::subset::read(text) {
        // Debug builds (every test run) read each rendered document the long way too.
        #[cfg(debug_assertions)]
        {
            let long = events_json(text)
                .or_else(|| super::load::load_document(text, &super::Source::Inline).ok().map(|v| v.to_json()));
            assert_eq!(long.as_ref(), Some(&json), "the hand reader disagrees on {text:?}");
        }
        return Some(json);
    }
    events_json(text)
}

/// The document's JSON from the YAML parser's events.
fn events_json(text: &str) -> Option<J> {
    let mut parser = Parser::new_from_str(text);
    let mut next = move || parser.next_event().and_then(Result::ok).map(|(event, _)| event);
    loop {
        match next()? {
            Event::StreamStart | Event::Nothing => continue,
            Event::StreamEnd => return Some(J::Object(Map::new())),
            Event::DocumentStart(_) => break,
            _ => return None,
        }
    }
    match next()? {
        Event::DocumentEnd => Some(J::Object(Map::new())),
        Event::MappingStart(0, None) => mapping(&mut next, 1).map(J::Object),
        _ => None,
    }
}

fn node<'a>(next: &mut impl FnMut() -> Option<Event<'a>>, event: Event<'a>, depth: usize) -> Option<J> {
    if depth > MAX_DEPTH {
        return None;
    }
    match event {
        Event::Scalar(text, style, 0, None) => scalar(&text, style),
        Event::SequenceStart(0, None) => {
            let mut items = Vec::new();
            loop {
                match next()? {
                    Event::SequenceEnd => return Some(J::Array(items)),
                    item => items.push(node(next, item, depth + 1)?),
                }
            }
        }
        Event::MappingStart(0, None) => mapping(next, depth + 1).map(J::Object),
        _ => None,
    }
}

fn mapping<'a>(next: &mut impl FnMut() -> Option<Event<'a>>, depth: usize) -> Option<Map<String, J>> {
    let mut map = Map::new();
    loop {
        let key = match next()? {
            Event::MappingEnd => return Some(map),
            Event::Scalar(text, ScalarStyle::Plain, 0, None) => match resolve_plain(&text) {
                Scalar::Str(s) if s != "<<" => s,
                _ => return None,
            },
            Event::Scalar(text, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted, 0, None) => text.into_owned(),
            _ => return None,
        };
        let value = next()?;
        // Duplicate keys: the later one replaces the earlier one, as in the loader.
        map.insert(key, node(next, value, depth)?);
    }
}

/// A scalar as the loader types it (plain ones by YAML 1.1, the others are text), as JSON.
fn scalar(text: &str, style: ScalarStyle) -> Option<J> {
    super::subset::scalar_json(text, style == ScalarStyle::Plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Source;
    use crate::values::load::load_document;

    fn full(text: &str) -> J {
        load_document(text, &Source::Inline).expect("loads").to_json()
    }

    #[test]
    fn given_maps_lists_and_scalars_both_readers_agree() {
        for text in [
            "a: 1\nb: [yes, no, ~, 0x1F, 1_000, 3.5, .5, '010', \"x\", 010, 1e3]\nc: {d: e}\n",
            "kind: ConfigMap\ndata:\n  config.toml: |\n    [a]\n    b = 1\n  empty: \"\"\n",
            "a: 1\na: 2\n",
            "list:\n- name: A\n  value: \"true\"\n- {name: B, value: null}\n",
            "\n",
        ] {
            assert_eq!(document_json(text).unwrap_or_else(|| full(text)), full(text), "{text:?}");
            if text.trim().is_empty() {
                assert_eq!(document_json(text), Some(J::Object(Map::new())));
            }
        }
        assert!(document_json("a: [yes, 0x1F, '010']\n").is_some(), "the short way takes plain documents");
    }

    #[test]
    fn given_what_only_the_loader_handles_the_short_way_declines() {
        for text in
            ["a: &x 1\nb: *x\n", "a: !!str 1\n", "<<: {a: 1}\n", "yes: 1\n", "1: a\n", "- a\n", "a: .inf\n", "a: [\n"]
        {
            assert_eq!(document_json(text), None, "{text:?}");
        }
    }
}
