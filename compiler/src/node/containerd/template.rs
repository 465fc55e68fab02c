//! Go-template containerd configs: k3s/RKE2 `config.toml.tmpl`, MicroK8s
//! `containerd-template.toml`.
//!
//! Input: the template's text, the rendered config next to it (k3s writes `config.toml`
//! beside `config.toml.tmpl`, MicroK8s `containerd.toml` beside its template) or the
//! `RUNTIME_CONFIG_SOURCE=file=...` source, and the [`NodeRuntime`]. Output: a [`Change`] to
//! the template.
//!
//! A template is not TOML (`{{ template "base" . }}`), so it is never parsed as such:
//! gpuplan appends its runtime tables as text between two marker lines (in the file's own line
//! ends); gpuplan's record gives the template back on revert. The version and the runtime settings to copy come from the rendered
//! config. What a block of new tables cannot do is said in the notes: set the default
//! runtime or `enable_cdi` (both belong to tables the base template already defines).

use toml_edit::{DocumentMut, Item, Table};

use super::super::toml::{ensure_table, parse, table};
use super::super::{Edit, FileChange, Files, NodeRuntime, current};
use super::{Version, cri_plugin, version};
use crate::error::Error;

/// First line of gpuplan's block.
pub const BEGIN: &str = "# >>> gpuplan: NVIDIA runtimes (managed by gpuplan; removed when it reverts) >>>";
/// First line of gpuplan's block when it had to end the file's last line first.
pub const BEGIN_AFTER_NEWLINE: &str =
    "# >>> gpuplan: NVIDIA runtimes (managed by gpuplan; removed when it reverts; newline added before) >>>";
/// Last line of gpuplan's block.
pub const END: &str = "# <<< gpuplan <<<";

/// What a k3s/RKE2 template must start with so that containerd still gets the base config.
const K3S_BASE: &str = "{{ template \"base\" . }}\n";

/// Whether a config file is a template: by name, or by Go template syntax in it.
pub fn is_template(path: &str, text: Option<&str>) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".tmpl") || name == "containerd-template.toml" || text.is_some_and(|t| t.contains("{{"))
}

/// The config rendered from a template, which sits next to it.
pub fn rendered_sibling(path: &str) -> Option<String> {
    if let Some(rendered) = path.strip_suffix(".tmpl") {
        return Some(rendered.to_owned());
    }
    path.strip_suffix("containerd-template.toml").map(|dir| format!("{dir}containerd.toml"))
}

/// The block gpuplan owns in a template: byte range and whether a newline was added before it.
fn find_block(text: &str, file: &str) -> Result<Option<(usize, usize, bool)>, Error> {
    let begin = [(BEGIN_AFTER_NEWLINE, true), (BEGIN, false)].into_iter().find_map(|(marker, added)| {
        text.match_indices(marker)
            .find(|(at, _)| *at == 0 || text.as_bytes()[at - 1] == b'\n')
            .map(|(at, _)| (at, added))
    });
    let Some((start, added)) = begin else {
        return Ok(None);
    };
    let Some(end) = text[start..].find(END).map(|i| start + i + END.len()) else {
        return Err(Error::NodeConfig {
            file: file.into(),
            span: Some(super::super::toml::position(text, start)),
            message: format!(
                "gpuplan's block starts here but its end marker `{END}` is missing; fix or remove the block"
            ),
        });
    };
    let end = end + ["\r\n", "\n"].into_iter().find(|nl| text[end..].starts_with(nl)).map_or(0, str::len);
    let start = match added {
        true => start - ["\r\n", "\n"].into_iter().find(|nl| text[..start].ends_with(nl)).map_or(0, str::len),
        false => start,
    };
    Ok(Some((start, end, added)))
}

/// Add (or refresh) gpuplan's block.
pub fn patch(files: &Files, node: &NodeRuntime) -> Result<Edit, Error> {
    let path = node.config.as_str();
    let mut notes = Vec::new();
    let text = match current(files, path) {
        Some(text) => text.to_owned(),
        None if path.ends_with(".tmpl") => {
            notes.push(format!("{path} did not exist: created from k3s's base template plus gpuplan's block"));
            K3S_BASE.to_owned()
        }
        None => {
            return Err(Error::NodeConfig {
                file: path.into(),
                span: None,
                message: "the template does not exist".into(),
            });
        }
    };
    let block = find_block(&text, path)?;
    let (rendered, version) = rendered(files, node, &text, &mut notes)?;
    let has_runtime = |name: &str| {
        table(rendered.as_table(), &["plugins", cri_plugin(version), "containerd", "runtimes", name]).is_some()
    };
    let inherited = super::inherit(&rendered, version, node).table;
    let mut doc = DocumentMut::new();
    {
        let runtimes =
            ensure_table(doc.as_table_mut(), &["plugins", cri_plugin(version), "containerd", "runtimes"], path)?;
        for binary in &node.runtimes {
            if block.is_none() && has_runtime(&binary.name) {
                notes.push(format!(
                    "the rendered config already has a `{}` runtime (k3s/RKE2 add NVIDIA runtimes they find): left to it",
                    binary.name
                ));
                continue;
            }
            runtimes.insert(&binary.name, Item::Table(super::runtime_entry(&inherited, binary, version, node)));
        }
    }
    mark_implicit(doc.as_table_mut());
    if node.set_as_default {
        notes.push("a template block cannot set the default runtime (the base template defines that table): use k3s/RKE2 `--default-runtime` or MicroK8s' template setting".into());
    }
    if node.enable_cdi {
        notes.push("a template block cannot set `enable_cdi` (the base template defines the CRI table); containerd 2.x enables CDI by default".into());
    }
    let crlf = text.contains("\r\n") && text.matches('\n').count() == text.matches("\r\n").count();
    let nl = if crlf { "\r\n" } else { "\n" };
    let body = doc.to_string();
    let body = body.trim_start_matches('\n').replace('\n', nl);
    let after = match block {
        Some((start, end, added)) => {
            let marker = if added { BEGIN_AFTER_NEWLINE } else { BEGIN };
            let prefix = if added { nl } else { "" };
            format!("{}{prefix}{marker}{nl}{body}{END}{nl}{}", &text[..start], &text[end..])
        }
        None if text.is_empty() || text.ends_with('\n') => format!("{text}{BEGIN}{nl}{body}{END}{nl}"),
        None => format!("{text}{nl}{BEGIN_AFTER_NEWLINE}{nl}{body}{END}{nl}"),
    };
    notes.push(format!("{path} is a template: gpuplan's runtimes are a marked block of text at its end"));
    Ok(Edit {
        files: vec![FileChange {
            path: path.to_owned(),
            before: current(files, path).map(str::to_owned),
            after: Some(after),
        }],
        notes,
    })
}

/// The rendered config (or the explicit source) and its version; without one, the version
/// written in the template, else 2.
fn rendered(
    files: &Files,
    node: &NodeRuntime,
    template: &str,
    notes: &mut Vec<String>,
) -> Result<(DocumentMut, Version), Error> {
    let source = node.source.clone().or_else(|| rendered_sibling(&node.config));
    if let Some(path) = source
        && let Some(text) = current(files, &path)
    {
        let doc = parse(text, &path)?;
        let version = version(&doc, &path, node)?;
        notes.push(format!("config version {version} and runtime settings from the rendered config {path}"));
        return Ok((doc, version));
    }
    let written = template.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "version").then(|| value.trim().parse::<Version>().ok()).flatten()
    });
    let version = written.unwrap_or(2);
    notes.push(match written {
        Some(v) => format!("config version {v}, as the template writes it; no rendered config to copy runtime settings from"),
        None => "no rendered config and no `version` in the template: assuming config version 2 (set RUNTIME_CONFIG_SOURCE=file=<rendered config> to be sure)".into(),
    });
    Ok((DocumentMut::new(), version))
}

/// Tables that hold only sub-tables print no header.
fn mark_implicit(table: &mut Table) {
    for (_, item) in table.iter_mut() {
        if let Item::Table(t) = item {
            let only_tables = t.iter().all(|(_, i)| i.is_table());
            if only_tables {
                t.set_implicit(true);
            }
            mark_implicit(t);
        }
    }
}
