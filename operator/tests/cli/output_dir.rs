//! `gpuplan template --output-dir D` for GitOps: D holds a `kustomization.yaml` listing the
//! files in apply order, and a re-render removes the files that left the plan — only those
//! gpuplan wrote (its marker lists them), never a user's file.

use std::fs;
use std::path::Path;

use super::gpuplan;

/// `gpuplan template --output-dir DIR ARGS`: exit code, stdout, stderr.
fn render(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = gpuplan().args(["template", "--output-dir"]).arg(dir).args(args).output().expect("runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().expect("exit code"), text(&out.stdout), text(&out.stderr))
}

/// The `resources` of DIR/kustomization.yaml, in order.
fn resources(dir: &Path) -> Vec<String> {
    let text = fs::read_to_string(dir.join("kustomization.yaml")).expect("kustomization.yaml");
    assert!(text.contains("\nkind: Kustomization\n") && text.contains("sortOptions:\n  order: fifo\n"), "{text}");
    text.lines()
        .skip_while(|l| *l != "resources:")
        .skip(1)
        .map_while(|l| l.strip_prefix("- "))
        .map(str::to_owned)
        .collect()
}

/// Every file under `dir/gpuplan`, relative to `dir`, sorted.
fn yaml_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, at: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(at).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).expect("below").display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &dir.join("gpuplan"), &mut out);
    out.sort();
    out
}

#[test]
fn given_an_output_dir_the_kustomization_lists_every_file_and_they_hold_the_template_objects() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    let (code, _, err) = render(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    let listed = resources(&dir);
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, yaml_files(&dir), "every file written is listed, once");
    // What kustomize builds from plain resources: the objects of the listed files. (A file holds
    // the objects of one source, as Helm writes them, so the order is the files'.)
    let documents = |text: &str| {
        let mut docs: Vec<String> = text.split("---\n").filter(|d| !d.is_empty()).map(str::to_owned).collect();
        docs.sort();
        docs
    };
    let built: String = listed.iter().map(|f| fs::read_to_string(dir.join(f)).expect("listed file")).collect();
    let template = String::from_utf8(gpuplan().arg("template").output().expect("runs").stdout).expect("utf-8");
    let (built, template) = (documents(&built), documents(&template));
    assert!(template.len() > 40, "{}", template.len());
    assert!(built == template, "the directory holds other objects than `gpuplan template` prints");
}

#[test]
fn given_an_object_leaves_the_plan_a_re_render_removes_its_file_and_keeps_the_users() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    assert_eq!(render(&dir, &[]).0, 0);
    let leaving = dir.join("gpuplan/dcgm-exporter/daemonset.yaml");
    assert!(leaving.is_file());
    // The user's files: one beside gpuplan's in a stage directory, one at the top.
    fs::write(dir.join("gpuplan/dcgm-exporter/NOTES.md"), "mine\n").expect("write");
    fs::write(dir.join("README.md"), "mine too\n").expect("write");

    let (code, out, err) = render(&dir, &["--set", "dcgmExporter.enabled=false"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("removed {}\n", leaving.display())), "{out}");
    assert!(!leaving.exists(), "the file that left the plan is gone");
    assert_eq!(fs::read_to_string(dir.join("gpuplan/dcgm-exporter/NOTES.md")).expect("kept"), "mine\n");
    assert_eq!(fs::read_to_string(dir.join("README.md")).expect("kept"), "mine too\n");
    assert!(!resources(&dir).iter().any(|r| r.contains("dcgm-exporter")), "no longer listed");
    assert!(!out.contains("NOTES.md") && !out.contains("README.md"), "{out}");

    // Back again: written again, and the stage directory that had only gpuplan's files is
    // removed when they all go.
    fs::remove_file(dir.join("gpuplan/dcgm-exporter/NOTES.md")).expect("rm");
    assert_eq!(render(&dir, &[]).0, 0);
    assert!(leaving.is_file());
    assert_eq!(render(&dir, &["--set", "dcgmExporter.enabled=false"]).0, 0);
    assert!(!dir.join("gpuplan/dcgm-exporter").exists(), "an emptied directory of gpuplan's goes");
}

#[test]
fn given_a_kustomization_gpuplan_did_not_write_it_is_refused_and_left_as_it_is() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join("kustomization.yaml"), "resources: [mine.yaml]\n").expect("write");
    let (code, _, err) = render(&dir, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("refusing to replace") && err.contains("gpuplan did not write it"), "{err}");
    assert_eq!(fs::read_to_string(dir.join("kustomization.yaml")).expect("kept"), "resources: [mine.yaml]\n");
    assert!(!dir.join("gpuplan").exists(), "refused before anything is written");
}

#[test]
fn given_a_marker_that_points_outside_or_is_a_link_nothing_outside_is_removed() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    let victim = root.path().join("victim.yaml");
    fs::write(&victim, "precious\n").expect("write");
    assert_eq!(render(&dir, &[]).0, 0);

    let marker = dir.join(".gpuplan-files");
    let listed = fs::read_to_string(&marker).expect("marker");
    fs::write(&marker, format!("{listed}../victim.yaml\n")).expect("write");
    let (code, _, err) = render(&dir, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("lists `../victim.yaml`, which is not a path below"), "{err}");

    fs::remove_file(&marker).expect("rm");
    fs::write(root.path().join("list"), "../victim.yaml\n").expect("write");
    std::os::unix::fs::symlink(root.path().join("list"), &marker).expect("symlink");
    let (code, _, err) = render(&dir, &[]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("refusing to write to {}: it is a symbolic link", marker.display())), "{err}");
    assert_eq!(fs::read_to_string(&victim).expect("kept"), "precious\n");
}
