//! The `gpuplan template --output-dir` tree, built by real kustomize, is `gpuplan template`.
//!
//! Given the seed values, `kustomize build D` of the directory gpuplan wrote prints the same
//! objects as `gpuplan template` does, in the kustomization's order: it lists the files in apply
//! order and sets `sortOptions: {order: fifo}`, so kustomize keeps that order instead of its
//! legacy kind sort. That is what Argo CD and Flux run on such a directory.
//!
//! Two differences from `gpuplan template`, both by design and asserted precisely:
//! - The order is gpuplan's apply order by file, not by object: each file comes where its first
//!   object is applied and holds its objects together (`operator/src/cli/output_dir.rs`), so
//!   objects can move within a stage (the device plugin's ConfigMap comes after its RBAC file,
//!   not between its ServiceAccounts and ClusterRoles as in `gpuplan template`). The stages keep
//!   gpuplan's order.
//! - kustomize drops an empty `metadata.annotations: {}`, which gpuplan writes on the operand
//!   DaemonSets whose annotations are empty (the default); the API server stores both alike, so
//!   it is removed from gpuplan's objects before comparing.
//!
//! kustomize is Debian sid's CLI, from `scripts/install-kustomize` (`GPUPLAN_KUSTOMIZE`); a
//! missing one fails the test, naming it (`real::component`; `GPUPLAN_SKIP_REAL=1` skips). Both
//! outputs are read with gpuplan's own YAML loader and compared as JSON.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::chart::{SEED, documents, gpuplan};
use super::real::component;

/// `kustomize build DIR`: its output.
fn kustomize_build(kustomize: &Path, dir: &Path) -> String {
    let out = Command::new(kustomize).arg("build").arg(dir).output().expect("kustomize runs");
    assert!(
        out.status.success(),
        "kustomize build {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("kustomize prints UTF-8")
}

/// An object's identity, for the messages: `Kind namespace/name`.
fn id(object: &Value) -> String {
    let meta = &object["metadata"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    format!("{} {}/{}", text(&object["kind"]), text(&meta["namespace"]), text(&meta["name"]))
}

/// `object` without an empty `metadata.annotations`, as kustomize writes it.
fn without_empty_annotations(mut object: Value) -> Value {
    if let Some(meta) = object["metadata"].as_object_mut()
        && meta.get("annotations").is_some_and(|a| a.as_object().is_some_and(serde_json::Map::is_empty))
    {
        meta.remove("annotations");
    }
    object
}

/// Each object of the files `DIR/kustomization.yaml` lists, as (`id`, file), in list order.
fn files_of_objects(dir: &Path) -> Vec<(String, String)> {
    let kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).expect("kustomization.yaml");
    let files = kustomization.lines().skip_while(|l| *l != "resources:").skip(1).map_while(|l| l.strip_prefix("- "));
    files
        .flat_map(|file| {
            let text = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            documents(&text).iter().map(|o| (id(o), file.to_owned())).collect::<Vec<_>>()
        })
        .collect()
}

/// The stage (`gpuplan/<stage>/`) of the file holding object `id`.
fn stage<'a>(file_of: &'a [(String, String)], id: &str) -> &'a str {
    let file = &file_of.iter().find(|(i, _)| i == id).expect("listed").1;
    file.rsplit_once('/').map_or(file.as_str(), |(stage, _)| stage)
}

#[test]
fn given_the_seed_values_kustomize_builds_the_output_dir_into_the_template_objects_in_apply_order() {
    let Some(kustomize) = component("GPUPLAN_KUSTOMIZE", "kustomize (Debian sid's, from scripts/install-kustomize)")
    else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    let dir_flag = dir.to_str().expect("UTF-8 temp path");
    gpuplan(&["template", "--output-dir", dir_flag], &SEED).unwrap_or_else(|e| panic!("template --output-dir:\n{e}"));
    let template = gpuplan(&["template"], &SEED).unwrap_or_else(|e| panic!("template:\n{e}"));
    let template: Vec<Value> = documents(&template).into_iter().map(without_empty_annotations).collect();
    let built = documents(&kustomize_build(&kustomize, &dir));
    assert!(template.len() > 40, "the seed plan has its objects: {}", template.len());

    // The same objects: as sets first, so that a difference names the objects, not positions.
    let as_set = |objects: &[Value]| {
        let mut set: Vec<(String, String)> = objects.iter().map(|o| (id(o), o.to_string())).collect();
        set.sort();
        set
    };
    let (built_set, template_set) = (as_set(&built), as_set(&template));
    let only = |a: &[(String, String)], b: &[(String, String)]| -> Vec<String> {
        a.iter().filter(|o| !b.contains(o)).map(|(id, _)| id.clone()).collect()
    };
    assert!(
        built_set == template_set,
        "kustomize built other objects than `gpuplan template` prints:\nonly in kustomize's: {:?}\nonly in \
         gpuplan's: {:?}",
        only(&built_set, &template_set),
        only(&template_set, &built_set)
    );

    // And in the kustomization's order (fifo, not kustomize's legacy kind sort): gpuplan's apply
    // order, each file where its first object is applied, its objects together, as the module
    // `cli/output_dir.rs` says: objects may move within a stage, the stages never move.
    let file_of = files_of_objects(&dir);
    let mut files: Vec<&str> = Vec::new();
    for object in &template {
        let file = file_of.iter().find(|(i, _)| *i == id(object)).map(|(_, f)| f.as_str());
        let file = file.unwrap_or_else(|| panic!("{} is in no listed file", id(object)));
        if !files.contains(&file) {
            files.push(file);
        }
    }
    let expected: Vec<String> = files
        .iter()
        .flat_map(|file| template.iter().map(id).filter(|i| file_of.contains(&(i.clone(), (*file).to_owned()))))
        .collect();
    let order = built.iter().map(id).collect::<Vec<_>>();
    assert_eq!(order, expected, "kustomize's order is not the kustomization's (gpuplan's apply order by file)");
    let stages = |ids: &[String]| {
        let mut stages: Vec<&str> = ids.iter().map(|i| stage(&file_of, i)).collect();
        stages.dedup();
        stages
    };
    let template_order: Vec<String> = template.iter().map(id).collect();
    assert_eq!(stages(&order), stages(&template_order), "the stages come in gpuplan's order");
}
