//! `pattern`: an ECMA-262 regular expression, searched for (not anchored) in a string.
//!
//! Input: a pattern of the schema and the string at hand. Output: a [`Kind::Pattern`] error
//! when the string does not match, a [`Kind::Schema`] one when the pattern cannot be run.
//!
//! The schema's patterns use a small part of ECMA syntax: anchors, groups, alternation,
//! quantifiers, classes and escaped punctuation. That part is parsed here and run by a Pike VM
//! (every thread in step, so time is linear in the string whatever the pattern): compiling a
//! pattern with the `regex` crate cost ten times what checking a whole section does. The rest
//! of ECMA syntax (lookaround, backreferences, `\d` and other escapes) is refused, so no
//! pattern runs with another meaning. Characters are code points, as jsonschema matched them;
//! `.` is ECMA's, any character but a line terminator. Each pattern is compiled once per
//! process, when a string first reaches it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value as J;

use super::{Kind, Walk};

/// Bounds that keep a compiled pattern small: group nesting, a counted repetition, the program.
const MAX_DEPTH: usize = 32;
const MAX_COUNT: u32 = 1000;
const MAX_PROGRAM: usize = 10_000;

/// `pattern`: strings must match; other values pass.
pub(super) fn check<'s>(walk: &mut Walk<'s, '_>, pattern: &'s J, instance: &J) {
    let Some(pattern) = pattern.as_str() else {
        return walk.broken(format!("`pattern` must be a string, not {pattern}"));
    };
    let J::String(text) = instance else { return };
    match compiled(pattern) {
        Ok(program) if program.is_match(text) => {}
        Ok(_) => walk.fail(Kind::Pattern { pattern }),
        Err(why) => walk.broken(format!("the pattern `{pattern}` cannot be run: {why}")),
    }
}

/// The compiled pattern, from the process-wide cache.
fn compiled(pattern: &str) -> Result<Arc<Program>, String> {
    type Cache = Mutex<HashMap<String, Result<Arc<Program>, String>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return found;
    }
    let built = compile(pattern).map(Arc::new);
    // Bounded: only the schema's own patterns reach here.
    if let Ok(mut c) = cache.lock() {
        c.insert(pattern.to_owned(), built.clone());
    }
    built
}

/// Characters: listed ranges, or every character outside them.
#[derive(Debug)]
struct Set {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Set {
    fn of(c: char) -> Self {
        Set { negated: false, ranges: vec![(c, c)] }
    }

    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(low, high)| low <= c && c <= high) != self.negated
    }
}

/// ECMA's `.`: no line terminator.
fn dot() -> Set {
    Set { negated: true, ranges: vec![('\n', '\n'), ('\r', '\r'), ('\u{2028}', '\u{2029}')] }
}

/// A parsed pattern. Groups leave no trace: nothing is captured.
enum Node {
    /// One character of a set, by its index (a counted repetition copies the index only).
    Set(usize),
    Start,
    End,
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

#[derive(Debug)]
enum Inst {
    /// Consume one character of a set.
    Char(usize),
    /// Go on only at the start of the string.
    Start,
    /// Go on only at its end.
    End,
    Split(usize, usize),
    Jump(usize),
    Match,
}

/// A compiled pattern: instructions, and the sets they refer to.
#[derive(Debug)]
pub(super) struct Program {
    insts: Vec<Inst>,
    sets: Vec<Set>,
}

/// Parse and compile a pattern.
pub(super) fn compile(pattern: &str) -> Result<Program, String> {
    let mut parser = Parser { rest: pattern, sets: Vec::new() };
    let node = parser.alt(0)?;
    if !parser.rest.is_empty() {
        return Err("a `)` closes no group".into());
    }
    let mut insts = Vec::new();
    emit(&node, &mut insts)?;
    insts.push(Inst::Match);
    Ok(Program { insts, sets: parser.sets })
}

struct Parser<'p> {
    rest: &'p str,
    sets: Vec<Set>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    fn set(&mut self, set: Set) -> Node {
        self.sets.push(set);
        Node::Set(self.sets.len() - 1)
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.rest = &self.rest[c.len_utf8()..];
        Some(c)
    }

    fn alt(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err("groups nest too deep".into());
        }
        let mut branches = vec![self.concat(depth)?];
        while let Some(rest) = self.rest.strip_prefix('|') {
            self.rest = rest;
            branches.push(self.concat(depth)?);
        }
        Ok(if branches.len() == 1 { branches.remove(0) } else { Node::Alt(branches) })
    }

    fn concat(&mut self, depth: usize) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek().filter(|c| !matches!(c, '|' | ')')) {
            self.next();
            let atom = self.atom(c, depth)?;
            items.push(self.quantified(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn atom(&mut self, c: char, depth: usize) -> Result<Node, String> {
        Ok(match c {
            '^' => Node::Start,
            '$' => Node::End,
            '.' => self.set(dot()),
            '(' => {
                if let Some(rest) = self.rest.strip_prefix("?:") {
                    self.rest = rest;
                } else if self.rest.starts_with('?') {
                    return Err("lookaround and named groups are not supported".into());
                }
                let inner = self.alt(depth + 1)?;
                if self.next() != Some(')') {
                    return Err("a group is not closed".into());
                }
                inner
            }
            '[' => {
                let class = self.class()?;
                self.set(class)
            }
            '\\' => {
                let c = self.escape()?;
                self.set(Set::of(c))
            }
            '*' | '+' | '?' => return Err(format!("`{c}` repeats nothing")),
            '{' if counts(self.rest).is_some() => return Err("`{` repeats nothing".into()),
            // `]`, `}` and a `{` that is no quantifier are themselves (ECMA Annex B).
            literal => self.set(Set::of(literal)),
        })
    }

    /// `atom` with the quantifier that follows it, if any (a lazy one matches the same).
    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max, len) = match self.peek() {
            Some('*') => (0, None, 1),
            Some('+') => (1, None, 1),
            Some('?') => (0, Some(1), 1),
            Some('{') => match counts(&self.rest[1..]) {
                Some((min, max, len)) => (min, max, 1 + len),
                None => return Ok(atom),
            },
            _ => return Ok(atom),
        };
        if matches!(atom, Node::Start | Node::End) {
            return Err("an anchor cannot repeat".into());
        }
        if max.is_some_and(|max| max < min) || min.max(max.unwrap_or(0)) > MAX_COUNT {
            return Err(format!("the count `{}` is out of order or too large", &self.rest[..len]));
        }
        self.rest = &self.rest[len..];
        if let Some(rest) = self.rest.strip_prefix('?') {
            self.rest = rest;
        }
        Ok(Node::Repeat(Box::new(atom), min, max))
    }

    /// The character an escape stands for: only punctuation escapes itself the same way in
    /// every ECMA mode.
    fn escape(&mut self) -> Result<char, String> {
        match self.next() {
            Some(c) if c.is_ascii_punctuation() => Ok(c),
            Some(c) => Err(format!("the escape `\\{c}` is not supported")),
            None => Err("the pattern ends with `\\`".into()),
        }
    }

    /// A class after its `[`: members, and ranges `a-z`; a `-` first or last is itself.
    fn class(&mut self) -> Result<Set, String> {
        let negated = self.rest.starts_with('^');
        if negated {
            self.next();
        }
        let mut ranges = Vec::new();
        loop {
            let low = match self.next() {
                None => return Err("a class is not closed".into()),
                Some(']') if ranges.is_empty() => return Err("an empty class is not supported".into()),
                Some(']') => return Ok(Set { negated, ranges }),
                Some('\\') => self.escape()?,
                Some(c) => c,
            };
            let high = match self.rest.strip_prefix('-') {
                Some(after) if !after.is_empty() && !after.starts_with(']') => {
                    self.next();
                    match self.next() {
                        Some('\\') => self.escape()?,
                        Some(c) => c,
                        None => return Err("a class is not closed".into()),
                    }
                }
                _ => low,
            };
            if high < low {
                return Err(format!("the range `{low}-{high}` is out of order"));
            }
            ranges.push((low, high));
        }
    }
}

/// `n}`, `n,}` or `n,m}` at the start of `rest`: the counts and the length of that text.
fn counts(rest: &str) -> Option<(u32, Option<u32>, usize)> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let low = digits(rest);
    // Too many digits for a count is too large a count.
    let number = |s: &str| s.parse::<u32>().unwrap_or(u32::MAX);
    if low == 0 {
        return None;
    }
    let min = number(&rest[..low]);
    let Some(after) = rest[low..].strip_prefix(',') else {
        return rest[low..].starts_with('}').then_some((min, Some(min), low + 1));
    };
    let high = digits(after);
    let max = (high > 0).then(|| number(&after[..high]));
    after[high..].starts_with('}').then_some((min, max, low + 1 + high + 1))
}

fn emit(node: &Node, program: &mut Vec<Inst>) -> Result<(), String> {
    match node {
        Node::Set(set) => program.push(Inst::Char(*set)),
        Node::Start => program.push(Inst::Start),
        Node::End => program.push(Inst::End),
        Node::Concat(items) => {
            for item in items {
                emit(item, program)?;
            }
        }
        Node::Alt(branches) => {
            let mut jumps = Vec::new();
            for (i, branch) in branches.iter().enumerate() {
                if i + 1 == branches.len() {
                    emit(branch, program)?;
                    break;
                }
                let split = program.len();
                program.push(Inst::Split(split + 1, 0));
                emit(branch, program)?;
                jumps.push(program.len());
                program.push(Inst::Jump(0));
                program[split] = Inst::Split(split + 1, program.len());
            }
            for jump in jumps {
                program[jump] = Inst::Jump(program.len());
            }
        }
        Node::Repeat(item, min, max) => {
            for _ in 0..*min {
                emit(item, program)?;
            }
            let optional = match max {
                Some(max) => max - min,
                // One optional copy that loops back.
                None => 1,
            };
            let mut splits = Vec::new();
            for _ in 0..optional {
                splits.push(program.len());
                program.push(Inst::Split(0, 0));
                emit(item, program)?;
            }
            if max.is_none() {
                program.push(Inst::Jump(splits[0]));
            }
            for split in splits {
                program[split] = Inst::Split(split + 1, program.len());
            }
        }
    }
    match program.len() > MAX_PROGRAM {
        true => Err("the pattern is too large".into()),
        false => Ok(()),
    }
}

/// The threads at one position: a sparse set of instructions, each at most once.
struct Threads {
    dense: Vec<usize>,
    sparse: Vec<usize>,
}

impl Threads {
    fn new(size: usize) -> Self {
        Threads { dense: Vec::with_capacity(size), sparse: vec![0; size] }
    }

    fn insert(&mut self, pc: usize) -> bool {
        let at = self.sparse[pc];
        if at < self.dense.len() && self.dense[at] == pc {
            return false;
        }
        self.sparse[pc] = self.dense.len();
        self.dense.push(pc);
        true
    }
}

impl Program {
    /// Whether the pattern matches anywhere in `text`.
    pub(super) fn is_match(&self, text: &str) -> bool {
        let mut current = Threads::new(self.insts.len());
        let mut next = Threads::new(self.insts.len());
        let mut stack = Vec::new();
        let mut at = 0;
        loop {
            // A match may start at every position.
            if self.add(&mut current, &mut stack, 0, at == 0, at == text.len()) {
                return true;
            }
            let Some(c) = text[at..].chars().next() else { return false };
            at += c.len_utf8();
            next.dense.clear();
            for &pc in &current.dense {
                if let Inst::Char(set) = self.insts[pc]
                    && self.sets[set].contains(c)
                    && self.add(&mut next, &mut stack, pc + 1, false, at == text.len())
                {
                    return true;
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
    }

    /// Add the thread at `pc` and those its empty moves reach; true when one matches.
    fn add(&self, threads: &mut Threads, stack: &mut Vec<usize>, pc: usize, start: bool, end: bool) -> bool {
        stack.clear();
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if !threads.insert(pc) {
                continue;
            }
            match self.insts[pc] {
                Inst::Match => return true,
                Inst::Jump(to) => stack.push(to),
                Inst::Split(first, second) => stack.extend([second, first]),
                Inst::Start if start => stack.push(pc + 1),
                Inst::End if end => stack.push(pc + 1),
                Inst::Start | Inst::End | Inst::Char(_) => {}
            }
        }
        false
    }
}
