//! The committed snapshot of the built-in defaults (`values/values.snapshot`) is what
//! `values/values.yaml` parses to, and the compiler uses it. `UPDATE_GOLDEN=1` rewrites it.

use std::path::Path;

use gpuplan_compiler::values::{Source, load::load, snapshot};

#[test]
fn the_committed_snapshot_is_values_yaml_parsed() {
    let parsed = load(gpuplan_compiler::DEFAULT_VALUES, &Source::Defaults).expect("values.yaml parses");
    let expected = snapshot::encode(&parsed, gpuplan_compiler::DEFAULT_VALUES);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../values/values.snapshot");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &expected).expect("writes the snapshot");
        return;
    }
    let committed = std::fs::read(&path).expect("values/values.snapshot");
    assert!(
        committed == expected,
        "values/values.snapshot is not values/values.yaml parsed: run `UPDATE_GOLDEN=1 cargo test -p gpuplan-compiler --test it snapshot` and commit it"
    );
    assert_eq!(
        snapshot::decode(
            gpuplan_compiler::DEFAULT_VALUES_SNAPSHOT,
            snapshot::Made::of(gpuplan_compiler::DEFAULT_VALUES)
        )
        .as_ref(),
        Some(&parsed),
        "the embedded snapshot decodes to the parsed defaults"
    );
    assert_eq!(gpuplan_compiler::defaults().expect("defaults"), &parsed);
}
