//! Help, version and the schema command.

use super::gpuplan;

#[test]
fn every_command_has_help() {
    for command in [&[][..], &["values"], &["lint"], &["schema"], &["explain"]] {
        let out = gpuplan().args(command).arg("--help").output().expect("runs");
        assert!(out.status.success(), "{command:?} --help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: gpuplan"), "{command:?} --help");
    }
}

#[test]
fn version_prints_the_package_version() {
    let out = gpuplan().arg("--version").output().expect("runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("gpuplan {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn schema_prints_the_committed_schema() {
    let out = gpuplan().arg("schema").output().expect("runs");
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/values.schema.json")).expect("read");
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}

#[test]
fn unknown_command_is_an_error_with_exit_code_2() {
    let out = gpuplan().arg("frobnicate").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
