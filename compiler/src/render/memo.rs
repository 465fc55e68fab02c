//! `explain`'s memory of one stage's rendering: it renders the stage holding the traced object
//! once for every value of the defaults, and for most of them every template sees the same
//! view as the first time, so renders the same objects.
//!
//! Input: the views a stage renders its templates with, as JSON text. Output: for a template
//! and view seen while recording, the objects and omissions that rendering gave, so the
//! template is neither rendered nor read again. A template's output is a function of its view
//! alone (the environment and the facts are fixed for the run), so equal views give equal
//! objects.

use std::collections::HashMap;

use crate::plan::Manifest;

/// The objects each (template, view) gave while recording, and the order they came in.
#[derive(Debug, Default)]
pub struct Memo {
    seen: HashMap<(String, String), Rendered>,
    order: Vec<(String, String)>,
}

/// What one template rendered from one view.
#[derive(Debug)]
struct Rendered {
    objects: Vec<Manifest>,
    omitted: Vec<String>,
}

/// How a rendering uses a [`Memo`].
#[derive(Debug, Default)]
pub enum Recall<'a> {
    /// Render everything.
    #[default]
    Off,
    /// Render everything and remember each template's view and objects.
    Record(&'a mut Memo),
    /// Take the objects of a view seen while recording instead of rendering it again.
    Use(&'a Memo),
    /// Render nothing; note whether the stage asks for the recorded templates and views, in
    /// the recorded order, and nothing else: then it renders the recorded objects.
    Probe {
        /// The recording.
        memo: &'a Memo,
        /// How many templates the stage asked for so far.
        at: usize,
        /// Whether each was the recorded one.
        same: bool,
    },
}

impl Recall<'_> {
    /// The key of a template rendered with `view`, when the memo is in use.
    pub(super) fn key<V: serde::Serialize>(&self, template: &str, view: &V) -> Option<(String, String)> {
        match self {
            Recall::Off => None,
            // A view that does not print as JSON is simply not remembered.
            _ => serde_json::to_string(view).ok().map(|text| (template.to_owned(), text)),
        }
    }

    /// The remembered objects and omissions for `key`.
    pub(super) fn recall(&self, key: &(String, String)) -> Option<(&[Manifest], &[String])> {
        match self {
            Recall::Use(memo) => memo.seen.get(key).map(|r| (r.objects.as_slice(), r.omitted.as_slice())),
            _ => None,
        }
    }

    /// Remember what `key` rendered, when recording.
    pub(super) fn remember(&mut self, key: (String, String), objects: &[Manifest], omitted: &[String]) {
        if let Recall::Record(memo) = self {
            memo.order.push(key.clone());
            memo.seen.insert(key, Rendered { objects: objects.to_vec(), omitted: omitted.to_vec() });
        }
    }

    /// When probing, note the template asked for (by `key`) and say so: it is not rendered.
    pub(super) fn probed(&mut self, key: Option<&(String, String)>) -> bool {
        let Recall::Probe { memo, at, same } = self else {
            return false;
        };
        *same &= key.is_some() && memo.order.get(*at) == key;
        *at += 1;
        true
    }

    /// Whether a probe saw exactly the recorded templates and views.
    pub(super) fn same(&self) -> bool {
        // An empty recording knows nothing (it was never made, or its stage rendered nothing).
        matches!(self, Recall::Probe { memo, at, same } if *same && *at == memo.order.len() && *at > 0)
    }
}
