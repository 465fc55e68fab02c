//! The linker wrapper `scripts/lib/cc-ordered` (cargo's linker here, `.cargo/config.toml`):
//! it lays the functions of the order list at the start of an optimised `gpuplan`'s code,
//! leaves every other link as `cc` makes it, and never fails a build over the ordering.
//! Checked on a small program linked by rustc through the wrapper, read back with `nm`.

use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAM: &str = r#"
#[inline(never)] pub fn alpha(x: u64) -> u64 { x.wrapping_mul(3) ^ 0x55 }
#[inline(never)] pub fn middle(x: u64) -> u64 { x.rotate_left(7) + 1 }
#[inline(never)] pub fn zeta(x: u64) -> u64 { x.wrapping_add(11) >> 1 }
fn main() {
    let n = std::env::args().count() as u64;
    println!("{}", alpha(n) + middle(n) + zeta(n));
}
"#;

fn wrapper() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/lib/cc-ordered")
}

/// Links PROGRAM as `<dir>/<profile>/gpuplan` through the wrapper, with `list` as the order
/// list and these extra variables; returns the binary's function names in address order.
fn link(dir: &Path, profile: &str, list: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let source = dir.join("probe.rs");
    std::fs::write(&source, PROGRAM).expect("write the probe program");
    let list_path = dir.join("order.txt");
    std::fs::write(&list_path, list).expect("write the order list");
    std::fs::create_dir_all(dir.join(profile)).expect("make the profile directory");
    let out = dir.join(profile).join("gpuplan");
    let mut rustc = Command::new("rustc");
    rustc
        .args(["--edition", "2021", "--crate-name", "probe", "-C", "opt-level=2"])
        .args(["-C", "symbol-mangling-version=v0", "-C"])
        .arg(format!("linker={}", wrapper().display()))
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .env("GPUPLAN_LINK_ORDER", &list_path)
        .env_remove("CARGO_BIN_NAME");
    for (key, value) in vars {
        rustc.env(key, value);
    }
    let built = rustc.output().expect("rustc runs");
    assert!(built.status.success(), "rustc: {}", String::from_utf8_lossy(&built.stderr));
    let ran = Command::new(&out).output().expect("the linked program runs");
    assert!(ran.status.success());
    let nm = Command::new("nm").args(["-n", "--defined-only", "--demangle"]).arg(&out).output().expect("nm runs");
    String::from_utf8(nm.stdout)
        .expect("nm prints UTF-8")
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ' ');
            let (_, kind, name) = (fields.next()?, fields.next()?, fields.next()?);
            matches!(kind, "t" | "T" | "W").then(|| name.to_string())
        })
        .collect()
}

fn position(functions: &[String], name: &str) -> usize {
    functions.iter().position(|f| f == name).unwrap_or_else(|| panic!("{name} not in {functions:?}"))
}

const LIST: &str = "# probe\nprobe::zeta\nprobe::not_in_the_binary\nprobe::alpha\n";

#[test]
fn an_optimised_gpuplan_starts_with_the_listed_functions_in_list_order() {
    let dir = tempfile::tempdir().unwrap();
    let functions = link(dir.path(), "release", LIST, &[("CARGO_BIN_NAME", "gpuplan")]);
    assert_eq!(functions[..2], ["probe::zeta".to_string(), "probe::alpha".to_string()], "{functions:?}");
    assert!(position(&functions, "probe::middle") > 1);
}

#[test]
fn other_links_are_left_as_cc_makes_them() {
    for (profile, bin) in [("release", ""), ("debug", "gpuplan")] {
        let dir = tempfile::tempdir().unwrap();
        let vars: &[(&str, &str)] = match bin {
            "" => &[],
            name => &[("CARGO_BIN_NAME", name)],
        };
        let functions = link(dir.path(), profile, LIST, vars);
        // Unordered, the C runtime's start-up code comes first.
        for listed in ["probe::zeta", "probe::alpha"] {
            assert!(position(&functions, listed) > 2, "{profile} {bin:?}: {functions:?}");
        }
    }
}

#[test]
fn a_linker_that_cannot_order_leaves_the_first_link() {
    let dir = tempfile::tempdir().unwrap();
    // A `cc` that refuses the ordering flag, as GNU ld does.
    let cc = dir.path().join("cc-without-ordering");
    std::fs::write(
        &cc,
        "#!/bin/sh\ncase \"$*\" in *symbol-ordering-file*) echo 'unknown option' >&2; exit 1;; esac\nexec cc \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&cc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cc = cc.to_str().unwrap().to_string();
    let functions = link(dir.path(), "release", LIST, &[("CARGO_BIN_NAME", "gpuplan"), ("GPUPLAN_LINK_CC", &cc)]);
    assert!(position(&functions, "probe::zeta") > 2, "{functions:?}");
}
