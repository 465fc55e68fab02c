//! Embeds the render templates: lists every file under `src/render/templates/` into
//! `$OUT_DIR/templates.rs` as `(name, include_str!(path))`, so adding a template is adding a
//! file. The name is the path under `templates/` without `.j2`. It also writes `FINGERPRINT`,
//! a hash of every name and source, which tells the table of renderings made ahead of time
//! (`src/render/prerendered.rs`) whether it was made with these templates.
//!
//! It also indexes the values schema (`schema/values.schema.json`) into
//! `$OUT_DIR/schema_index.rs`: where the text of each root keyword's value and of each `$defs`
//! entry is, so a run parses the definitions it uses without first passing over all of them.
//! It writes the length and hash of `values/values.yaml` (`$OUT_DIR/defaults_text.rs`), which
//! the defaults' snapshot must have been made from. And it indexes the copy of the schema the
//! check reads, `$OUT_DIR/schema_check.json`: the schema without the annotations no check
//! evaluates, a third of its size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::value::RawValue;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "j2") {
            out.push(path);
        }
    }
}

/// `pub const NAME: &[(&str, usize, usize)]`: each entry's key and the byte range of its value
/// in `text`, sorted by key.
fn ranges(name: &str, text: &str, entries: &BTreeMap<String, &RawValue>) -> String {
    let mut code = format!("pub const {name}: &[(&str, usize, usize)] = &[\n");
    for (key, value) in entries {
        let start = value.get().as_ptr() as usize - text.as_ptr() as usize;
        code.push_str(&format!("    ({key:?}, {start}, {}),\n", start + value.get().len()));
    }
    code.push_str("];\n");
    code
}

/// The index of one schema text: its length, and where each root keyword's value and each
/// `$defs` entry is, as constants named with `prefix`.
fn index(prefix: &str, what: &str, text: &str) -> String {
    let mut root: BTreeMap<String, &RawValue> =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not a JSON object: {e}"));
    let defs: BTreeMap<String, &RawValue> = match root.remove("$defs") {
        Some(defs) => serde_json::from_str(defs.get()).unwrap_or_else(|e| panic!("$defs is not an object: {e}")),
        None => BTreeMap::new(),
    };
    let mut code =
        format!("/// The length of the text indexed ({what}).\npub const {prefix}LEN: usize = {};\n", text.len());
    code.push_str("/// Each root keyword but `$defs`, and where its value is.\n");
    code.push_str(&ranges(&format!("{prefix}ROOT"), text, &root));
    code.push_str("/// Each `$defs` entry, and where its text is.\n");
    code.push_str(&ranges(&format!("{prefix}DEFS"), text, &defs));
    code
}

/// Drop the annotations (`description`, `title`, `examples`, `$comment`) from every schema of
/// a schema document: the check evaluates none of them, and they were most of its text.
/// Only schemas are touched, never the names of `properties` or data such as `enum` or
/// `default`, whose members may have any key.
fn strip_annotations(schema: &mut serde_json::Value) {
    let serde_json::Value::Object(map) = schema else { return };
    for annotation in ["description", "title", "examples", "$comment"] {
        map.remove(annotation);
    }
    for (keyword, value) in map.iter_mut() {
        match keyword.as_str() {
            "properties" | "patternProperties" | "$defs" | "dependentSchemas" => {
                if let serde_json::Value::Object(named) = value {
                    named.values_mut().for_each(strip_annotations);
                }
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let serde_json::Value::Array(branches) = value {
                    branches.iter_mut().for_each(strip_annotations);
                }
            }
            "items" | "additionalProperties" | "not" | "propertyNames" | "if" | "then" | "else" | "contains" => {
                strip_annotations(value);
            }
            _ => {}
        }
    }
}

fn schema_index(out_dir: &Path) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/values.schema.json");
    println!("cargo::rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut code = index("", "the schema as committed", &text);
    let mut checked: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    strip_annotations(&mut checked);
    let checked = checked.to_string();
    code.push_str(&index("CHECK_", "the schema without annotations", &checked));
    for (name, contents) in [("schema_index.rs", code), ("schema_check.json", checked)] {
        let out = out_dir.join(name);
        if let Err(e) = std::fs::write(&out, contents) {
            panic!("cannot write {}: {e}", out.display());
        }
    }
}

/// The start of an FNV-1a hash (64 bits).
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a: `hash` carried on over `bytes`.
fn fnv1a(hash: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(hash, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The length and FNV-1a hash of `values/values.yaml`, as `values::snapshot` computes them:
/// a run checks that the defaults' snapshot was made from this text without reading the text
/// (hashing its 24 KB was a tenth of decoding the snapshot).
fn defaults_text(out_dir: &Path) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../values/values.yaml");
    println!("cargo::rerun-if-changed={}", path.display());
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let hash = fnv1a(FNV_START, text.iter().copied());
    let code = format!(
        "/// The length of `values/values.yaml`.\npub const LEN: usize = {};\n/// Its FNV-1a hash.\npub const FINGERPRINT: u64 = {hash:#018x};\n",
        text.len()
    );
    let out = out_dir.join("defaults_text.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}

fn main() {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    schema_index(&out_dir);
    defaults_text(&out_dir);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/render/templates");
    println!("cargo::rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut code = String::from("/// `(name, source)` of every template.\npub const TEMPLATES: &[(&str, &str)] = &[\n");
    // FNV-1a, 64 bits, over every name and source, each followed by a NUL.
    let mut fingerprint = FNV_START;
    for path in &files {
        let name = path.strip_prefix(&root).unwrap_or(path).with_extension("").to_string_lossy().replace('\\', "/");
        let source = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        fingerprint = fnv1a(fingerprint, name.bytes().chain([0]).chain(source).chain([0]));
        code.push_str(&format!("    ({name:?}, include_str!({:?})),\n", path.display().to_string()));
        println!("cargo::rerun-if-changed={}", path.display());
    }
    code.push_str("];\n");
    code.push_str(&format!(
        "/// A hash of every template's name and source.\npub const FINGERPRINT: u64 = {fingerprint:#018x};\n"
    ));
    let out = out_dir.join("templates.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
