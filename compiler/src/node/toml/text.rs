//! A TOML file as the node engines hold it: its values, read quickly (`node::toml::reader`) or
//! parsed by toml_edit for printing, and what toml_edit does not give back (a byte-order mark,
//! CRLF line ends, a missing final newline).
//!
//! Input: a file's text. Output: a [`Text`]: its values by path, a table taken out of them
//! ([`Section`]), a top-level key set in the text as it is, one stretch of its tables edited
//! in the text as it is ([`Text::with_section`]), and the text printed again.

use std::borrow::Cow;

use toml_edit::{DocumentMut, Item, Table, Value};

use super::{last_line_indentation, parse_spanned, reader, table, table_mut, tree};
use crate::error::Error;

/// A TOML file as [`parse`](super::parse) reads it, with what toml_edit does not give back: a
/// byte-order mark, CRLF line ends, a missing final newline.
pub struct Text {
    /// The document.
    pub doc: DocumentMut,
    bom: bool,
    crlf: bool,
    final_newline: bool,
    /// The text parsed (without the byte-order mark, with `\n` line ends and a final newline),
    /// kept for [`Text::exact`] and [`Text::with_root_key`].
    pub(super) body: String,
    /// Where the top-level keys are in `body` (see [`Text::with_root_key`]); `None` when they
    /// are not all plain lines.
    root: Option<Root>,
    /// Whether `doc` keeps the file's formatting and can be printed ([`Text::parse`]), or holds
    /// its values only ([`Text::read`]).
    pub(super) formatted: bool,
    /// The values, when [`Text::read`] read them quickly (`doc` is empty then): see
    /// [`Text::item`] and [`Text::take_table`].
    pub(super) tree: Option<tree::Table>,
    /// Where each table's header begins in `body` (its `[`), when read quickly.
    headers: Vec<usize>,
}

/// A table taken out of a [`Text`]: a tree's, or toml_edit's.
pub enum Section {
    /// Read quickly ([`Text::read`]).
    Tree(tree::Table),
    /// Parsed by toml_edit.
    Edit(Table),
}

/// Where the top-level `key = value` lines of a file are.
#[derive(Debug)]
pub(super) struct Root {
    /// Each key and where its value is in the text.
    pub(super) values: Vec<(String, std::ops::Range<usize>)>,
    /// Where a new key goes: after the line of the last one.
    pub(super) end: usize,
    /// The indentation a new key takes: the first key's.
    pub(super) indent: String,
}

impl Text {
    /// Parse a file's text, keeping its formatting for [`Text::render`].
    pub fn parse(file: &str, text: &str) -> Result<Text, Error> {
        let mut text = Text::unparsed(text);
        text.make_printable(file)?;
        Ok(text)
    }

    /// Read a file's values, for a caller that does not print the document: its keys as they
    /// were quoted, its values without their formatting, and where its top-level keys are.
    /// Quicker than [`Text::parse`] on a long file (see the quick reader, `node::toml::reader`); a file the quick reader
    /// does not take is parsed. [`Text::make_printable`] parses it for printing.
    pub fn read(file: &str, text: &str) -> Result<Text, Error> {
        let mut unparsed = Text::unparsed(text);
        match reader::read(&unparsed.body) {
            Some((tree, root, headers)) => {
                unparsed.tree = Some(tree);
                unparsed.root = root;
                unparsed.headers = headers;
                Ok(unparsed)
            }
            None => {
                unparsed.make_printable(file)?;
                Ok(unparsed)
            }
        }
    }

    /// Parse the text for printing, if it was only [read](Text::read): what [`Text::parse`]
    /// would have given. Edits made to the values read are lost.
    pub fn make_printable(&mut self, file: &str) -> Result<(), Error> {
        if !self.formatted {
            let spanned = parse_spanned(&self.body, file)?;
            self.root = root(&spanned);
            self.doc = spanned.into_mut();
            self.formatted = true;
            self.tree = None;
            self.headers = Vec::new();
        }
        Ok(())
    }

    /// Whether the file holds no keys.
    pub fn is_empty(&self) -> bool {
        self.tree.as_ref().map_or_else(|| self.doc.as_table().is_empty(), tree::Table::is_empty)
    }

    /// What the file holds at a path of keys, in toml_edit's types (made for the occasion from
    /// a file [read](Text::read) quickly).
    pub fn item(&self, path: &[&str]) -> Option<Cow<'_, Item>> {
        let Some(tree) = &self.tree else {
            let (last, parents) = path.split_last()?;
            return table(self.doc.as_table(), parents)?.get(last).map(Cow::Borrowed);
        };
        let (last, parents) = path.split_last()?;
        let mut at = tree;
        for key in parents {
            at = at.table(key)?;
        }
        Some(Cow::Owned(match at.get(last)? {
            tree::Node::Table(t) => Item::Table(t.to_edit()),
            tree::Node::Value(v) => Item::Value(v.to_edit()),
        }))
    }

    /// The table at a path, taken out of the file's values; `None` unless every step is a
    /// table.
    pub fn take_table(&mut self, path: &[&str]) -> Option<Section> {
        let (last, parents) = path.split_last()?;
        let Some(tree) = &mut self.tree else {
            let parent = table_mut(self.doc.as_table_mut(), parents)?;
            parent.get(last)?.as_table()?;
            return parent.remove(last)?.into_table().ok().map(Section::Edit);
        };
        let mut at = tree;
        for key in parents {
            at = at.table_mut(key)?;
        }
        at.take_table(last).map(Section::Tree)
    }

    /// The text, not yet parsed.
    fn unparsed(text: &str) -> Text {
        let (bom, text) = text.strip_prefix('\u{feff}').map_or((false, text), |rest| (true, rest));
        let crlf = text.contains("\r\n") && text.matches('\n').count() == text.matches("\r\n").count();
        let mut body = if crlf { text.replace("\r\n", "\n") } else { text.to_owned() };
        let final_newline = body.is_empty() || body.ends_with('\n');
        if !final_newline {
            body.push('\n');
        }
        Text {
            doc: DocumentMut::new(),
            bom,
            crlf,
            final_newline,
            body,
            root: None,
            formatted: false,
            tree: None,
            headers: Vec::new(),
        }
    }

    /// The file's text with the top-level `key` set to `value`, written into the text as it
    /// is rather than by printing the document again: the same bytes toml_edit gives after
    /// [`set_value`](super::set_value) (a test holds the two together), at a fraction of the cost on a long
    /// file. A new key goes after the last top-level one, indented like the first; a value
    /// replaced keeps the rest of its line. `None` when the top-level keys are not all plain
    /// `key = value` lines; then [`set_value`](super::set_value) and [`Text::render`] do it.
    pub fn with_root_key(&self, key: &str, value: &Value) -> Option<String> {
        let root = self.root.as_ref()?;
        let mut bare = value.clone();
        bare.decor_mut().clear();
        let (range, new) = match root.values.iter().find(|(k, _)| k == key) {
            Some((_, span)) => (span.clone(), bare.to_string()),
            None if self.item(&[key]).is_some() => return None,
            None => {
                let key = toml_edit::Key::new(key);
                (root.end..root.end, format!("{}{} = {bare}\n", root.indent, key.display_repr()))
            }
        };
        Some(self.replaced(range, &new))
    }

    /// The file's text with the tables under `prefix` edited by `edit`, only those tables
    /// parsed and printed: the bytes parsing, editing and printing the whole file gives (a test
    /// holds the two together), at a fraction of the work where those tables are a fraction of
    /// the file. The edit must change nothing outside `prefix`, and `None` (then the whole file
    /// is parsed) unless the file was [read](Text::read) quickly, the first header under
    /// `prefix` is `prefix`'s own, and the headers under it follow one another: toml_edit
    /// prints those tables, and any the edit adds among them, as one stretch from the first
    /// one's line to the next other header's line, which is what is parsed here.
    pub fn with_section<R>(
        &self,
        prefix: &[&str],
        file: &str,
        edit: impl FnOnce(&mut DocumentMut) -> Result<R, Error>,
    ) -> Option<Result<(String, R), Error>> {
        self.tree.as_ref()?;
        let (mut first, mut next) = (None, None);
        for (i, &at) in self.headers.iter().enumerate() {
            let keys = reader::header(&self.body, at)?;
            let under = keys.len() >= prefix.len() && keys.iter().zip(prefix).all(|(k, p)| k == p);
            match (under, first, next) {
                (true, None, _) if keys.len() == prefix.len() => first = Some(i),
                // Under `prefix` before its own header, or in a second stretch.
                (true, None, _) | (true, Some(_), Some(_)) => return None,
                (false, Some(_), None) => next = Some(i),
                _ => {}
            }
        }
        let line = |at: usize| self.body[..at].rfind('\n').map_or(0, |i| i + 1);
        let start = line(self.headers[first?]);
        let end = next.map_or(self.body.len(), |i| line(self.headers[i]));
        Some((|| {
            let mut doc = parse_spanned(&self.body[start..end], file)?.into_mut();
            let out = edit(&mut doc)?;
            Ok((self.replaced(start..end, &doc.to_string()), out))
        })())
    }

    /// The text with the bytes at `range` replaced by `new`, in this file's manner.
    fn replaced(&self, range: std::ops::Range<usize>, new: &str) -> String {
        let mut text = String::with_capacity(self.body.len() - range.len() + new.len());
        text.push_str(&self.body[..range.start]);
        text.push_str(new);
        text.push_str(&self.body[range.end..]);
        self.finish(text)
    }

    /// Whether the text comes back byte for byte when nothing is edited. toml_edit gives back
    /// all it parses but carriage returns (line ends of one kind leave none in the body: see
    /// [`Text::parse`]), so only a body holding one is printed to compare, which costs a
    /// rendering of the whole document. A test holds toml_edit to the rule.
    pub fn exact(&self) -> bool {
        debug_assert!(self.formatted, "a document read for its values only is never printed");
        !self.body.contains('\r') || self.doc.to_string() == self.body
    }

    /// The document's text, with the file's byte-order mark, line ends and final newline.
    pub fn render(&self) -> String {
        debug_assert!(self.formatted, "a document read for its values only is never printed");
        self.render_doc(&self.doc)
    }

    /// Another document's text in this file's manner.
    pub fn render_doc(&self, doc: &DocumentMut) -> String {
        self.finish(doc.to_string())
    }

    /// Text with `\n` line ends and a final newline, in this file's manner.
    fn finish(&self, mut text: String) -> String {
        if !self.final_newline && text.ends_with('\n') {
            text.pop();
        }
        if self.crlf {
            text = text.replace('\n', "\r\n");
        }
        if self.bom { format!("\u{feff}{text}") } else { text }
    }
}

/// Where a document's top-level values are, where toml_edit puts a new top-level key when it
/// prints the document — after the line of the last top-level `key = value`, before any comment
/// or blank line above the first table — and the indentation [`insert_styled`](super::insert_styled) gives it (the
/// first key's). `None` unless there is a top-level key and every one is a plain
/// `key = value` (no dotted keys, whose order toml_edit keeps in other ways).
fn root(doc: &toml_edit::Document<&str>) -> Option<Root> {
    let text = doc.raw();
    let table = doc.as_table();
    let mut values = Vec::new();
    let mut indent = None;
    for (name, item) in table.iter() {
        match item {
            Item::Value(v) if !v.as_inline_table().is_some_and(toml_edit::InlineTable::is_dotted) => {
                values.push((name.to_owned(), v.span()?));
                if indent.is_none() {
                    let key = table.key(name)?;
                    // An empty decoration has no span.
                    let prefix = match key.leaf_decor().prefix() {
                        Some(raw) => match raw.span() {
                            Some(span) => text.get(span)?,
                            None => raw.as_str().unwrap_or_default(),
                        },
                        None => "",
                    };
                    indent = Some(last_line_indentation(prefix));
                }
            }
            Item::Table(t) if !t.is_dotted() => {}
            Item::ArrayOfTables(_) => {}
            _ => return None,
        }
    }
    // The rest of the last value's line is its trailing comment at most.
    let last = values.last()?.1.end;
    let end = text[last..].find('\n').map_or(text.len(), |i| last + i + 1);
    Some(Root { values, end, indent: indent? })
}
