//! Issue 14: hostile and huge inputs. Each finding of the issue, as the library sees it: an
//! alias bomb, inputs and flags past any real size, values nested past what a plan can hold,
//! invalid release names and namespaces, secrets in error texts. Every test asserts the
//! outcome (an error naming the limit, or values that load); how fast and in how much memory
//! is shown by `cargo bench -p gpuplan --bench inputs`, not asserted here.

use gpuplan_compiler::limits::{MAX_DEPTH, MAX_DOCUMENT_DEPTH, MAX_FLAG_BYTES, MAX_INPUT_BYTES};
use gpuplan_compiler::plan::Release;
use gpuplan_compiler::plan::read::read;
use gpuplan_compiler::values::{FlagKind, Map, Source, Value, load::load, set};
use gpuplan_compiler::{Error, InputFile, InputFlag, Inputs};

fn file(text: &str) -> Result<gpuplan_compiler::Values, Error> {
    load(text, &Source::File("hostile.yaml".into()))
}

fn inputs(files: &[&str], flags: &[(FlagKind, &str)]) -> Inputs {
    Inputs {
        files: files.iter().map(|t| InputFile { name: "hostile.yaml".into(), text: (*t).into() }).collect(),
        flags: flags.iter().map(|(kind, text)| InputFlag { kind: *kind, text: (*text).into() }).collect(),
    }
}

fn load_all(files: &[&str], flags: &[(FlagKind, &str)]) -> Result<gpuplan_compiler::Values, Error> {
    gpuplan_compiler::load(&inputs(files, flags), &mut |_| Err("no files".into()))
}

/// `levels` lines, each an anchored list of `fan` aliases of the line before: `fan^levels`
/// values from a few hundred bytes.
fn laughs(levels: usize, fan: usize) -> String {
    let mut text = format!("l0: &l0 [{}]\n", vec!["lol"; fan].join(", "));
    for i in 1..levels {
        text.push_str(&format!("l{i}: &l{i} [{}]\n", vec![format!("*l{}", i - 1); fan].join(", ")));
    }
    text
}

#[test]
fn a_billion_laughs_document_is_refused_as_go_yaml_refuses_it() {
    // 9^5 = 59,049 values from 212 bytes: go-yaml's rule (99% of values from aliases at most)
    // refuses it, and so does Helm.
    let err = file(&laughs(5, 9)).expect_err("excessive aliasing");
    let text = err.to_string();
    assert!(text.contains("excessive aliasing"), "{text}");
    assert!(text.starts_with("failed to parse hostile.yaml:"), "names the file and line: {text}");
    // 9^9 values would take hundreds of GB: refused before the copies are made.
    assert!(file(&laughs(9, 9)).expect_err("refused").to_string().contains("excessive aliasing"));
}

#[test]
fn aliases_of_a_large_string_are_refused_by_the_text_they_copy() {
    // Fewer than 100 aliases, so go-yaml's count rule never applies; each copies 1 MiB.
    let big = "x".repeat(1 << 20);
    let text = format!("big: &big \"{big}\"\ncopies: [{}]\n", vec!["*big"; 70].join(", "));
    let err = file(&text).expect_err("too much copied");
    assert!(err.to_string().contains("anchors and aliases copy more than 64 MiB of text"), "{err}");
}

#[test]
fn nesting_made_with_aliases_counts_against_the_depth_limit() {
    let mut text = String::from("l0: &l0 x\n");
    for i in 1..=MAX_DEPTH + 2 {
        text.push_str(&format!("l{i}: &l{i} [*l{}]\n", i - 1));
    }
    let err = file(&text).expect_err("too deep");
    assert!(err.to_string().contains(&format!("nest deeper than {MAX_DEPTH} levels")), "{err}");
}

#[test]
fn anchors_aliases_and_merge_keys_as_real_files_use_them_still_load() {
    let mut text = String::from("base: &base {repository: nvcr.io/nvidia, pullPolicy: IfNotPresent}\n");
    text.push_str("tolerations: &tol [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]\n");
    for i in 0..200 {
        text.push_str(&format!("c{i}: {{<<: *base, version: v{i}, tolerations: *tol}}\n"));
    }
    let values = file(&text).expect("loads");
    let c7 = values.pointer("/c7/repository").expect("merged");
    assert_eq!(c7.value, Value::Str("nvcr.io/nvidia".into()));
}

#[test]
fn an_input_over_64_mib_is_refused_naming_the_limit() {
    let line = "# a comment line of a file far larger than any values file\n";
    let text = line.repeat(MAX_INPUT_BYTES / line.len() + 1);
    let err = file(&text).expect_err("too large");
    assert!(err.to_string().contains("larger than gpuplan's limit of 64 MiB for one input"), "{err}");
    assert!(err.to_string().contains("hostile.yaml"), "{err}");
}

#[test]
fn a_flag_over_1_mib_is_refused_naming_the_limit_and_the_flag() {
    let text = format!("a={}", "x".repeat(MAX_FLAG_BYTES));
    let err = load_all(&[], &[(FlagKind::Set, "b=1"), (FlagKind::Set, &text)]).expect_err("too large");
    assert!(err.to_string().contains("larger than gpuplan's limit of 1 MiB for one flag"), "{err}");
    assert!(err.detail().is_some_and(|d| d.starts_with("in --set #2")), "{:?}", err.detail());
}

#[test]
fn a_set_file_over_64_mib_is_refused_naming_the_limit() {
    let mut reader = |_: &str| Ok("x".repeat(MAX_INPUT_BYTES + 1));
    let err = set::apply(&mut Map::new(), FlagKind::SetFile, 1, "a=big.bin", &mut reader).expect_err("too large");
    assert!(err.to_string().contains("larger than gpuplan's limit of 64 MiB for one input"), "{err}");
}

#[test]
fn list_padding_from_many_flags_counts_against_one_budget_of_values() {
    // Each flag pads a list to 65,537 values (Helm's largest index): 16 of them pass a million.
    let flags: Vec<String> = (0..16).map(|i| format!("k{i}[65536]=1")).collect();
    let flags: Vec<(FlagKind, &str)> = flags.iter().map(|f| (FlagKind::Set, f.as_str())).collect();
    let err = load_all(&[], &flags).expect_err("too many values");
    assert!(err.to_string().contains("more than 1,000,000 values"), "{err}");
    assert!(load_all(&[], &flags[..8]).is_ok(), "half of it is fine");
}

#[test]
fn many_assignments_under_one_key_in_one_flag_all_land() {
    let flag: Vec<String> = (0..5000).map(|i| format!("daemonsets.labels.k{i}=v{i}")).collect();
    let values = load_all(&[], &[(FlagKind::Set, &flag.join(","))]).expect("loads");
    let labels = values.pointer("/daemonsets/labels").and_then(|n| n.as_map()).expect("a map");
    assert_eq!(labels.len(), 5000);
    assert_eq!(values.pointer("/daemonsets/labels/k4999").map(|n| n.value.clone()), Some(Value::Str("v4999".into())));
}

/// `depth` nested maps in YAML flow style: `{a: {a: ... 1}}`, the top-level map counted.
fn nested_yaml(depth: usize) -> String {
    format!("x: {}1{}\n", "{a: ".repeat(depth - 1), "}".repeat(depth - 1))
}

#[test]
fn values_nest_at_most_64_levels_whatever_the_input_says() {
    assert!(file(&nested_yaml(MAX_DEPTH)).is_ok());
    let err = file(&nested_yaml(MAX_DEPTH + 1)).expect_err("too deep");
    assert!(err.to_string().contains("collections nest deeper than 64 levels"), "{err}");

    let keys = |n: usize| format!("{}=1", vec!["k"; n].join("."));
    assert!(load_all(&[], &[(FlagKind::Set, &keys(30))]).is_ok());
    let list = |n: usize| format!("k{}=1", "[0]".repeat(n - 1));
    assert!(load_all(&[], &[(FlagKind::Set, &list(MAX_DEPTH))]).is_ok());
    assert!(load_all(&[], &[(FlagKind::Set, &list(MAX_DEPTH + 1))]).is_err());

    // --set-json: the key path's levels and the JSON value's together.
    let json = |path: usize, value: usize| {
        format!("{}={}1{}", vec!["k"; path].join("."), "[".repeat(value), "]".repeat(value))
    };
    assert!(load_all(&[], &[(FlagKind::SetJson, &json(10, MAX_DEPTH - 10))]).is_ok());
    let err = load_all(&[], &[(FlagKind::SetJson, &json(10, MAX_DEPTH - 9))]).expect_err("too deep");
    assert!(err.detail().is_some_and(|d| d.contains("deeper than 64 levels")), "{:?}", err.detail());
}

/// The plan for values files, through the whole pipeline.
fn plan(files: &[&str], release: Release) -> Result<gpuplan_compiler::plan::Plan, Error> {
    let target = gpuplan_compiler::Target { release, ..Default::default() };
    let compiled = gpuplan_compiler::compile(&inputs(files, &[]), &mut |_| Err("no files".into()), &target)?;
    assert!(!compiled.failed(), "{:#?}", compiled.diagnostics);
    Ok(compiled.plan.expect("a plan"))
}

fn release(name: &str, namespace: &str) -> Release {
    Release { name: name.into(), namespace: namespace.into(), kube_version: "1.31".into() }
}

#[test]
fn the_deepest_values_render_and_their_plan_reads_back() {
    // `operator.affinity` is copied into the operator Deployment as it is: the deepest values
    // gpuplan takes become an object nested deeper still, and a plan deeper again.
    let affinity =
        format!("operator:\n  affinity:\n    x: {}1{}\n", "{a: ".repeat(MAX_DEPTH - 3), "}".repeat(MAX_DEPTH - 3));
    assert!(file(&affinity).is_ok());
    let deeper = affinity.replacen("{a: ", "{a: {a: ", 1).replacen('}', "}}", 1);
    assert!(file(&deeper).is_err(), "the deepest values: one level more is refused");
    let plan = plan(&[&affinity], release("gpu-operator", "gpu-operator")).expect("renders");
    for (text, name) in [
        (plan.to_json(), "plan.json"),
        (plan.to_yaml(), "plan.yaml"),
        (plan.template_stream(&[]).expect("stream"), "t.yaml"),
    ] {
        read(&text, name).unwrap_or_else(|e| panic!("{name} reads back: {e}"));
    }
}

#[test]
fn a_plan_or_manifest_deeper_than_the_limit_is_refused_naming_it() {
    let deep = |n: usize| format!("apiVersion: v1\nkind: ConfigMap\ndata:\n  x: {}1{}\n", "[".repeat(n), "]".repeat(n));
    assert!(read(&deep(MAX_DOCUMENT_DEPTH - 2), "m.yaml").is_ok());
    let err = read(&deep(MAX_DOCUMENT_DEPTH), "m.yaml").expect_err("too deep");
    assert!(err.to_string().contains("nest deeper than 100 levels"), "{err}");
    let json = |n: usize| {
        format!("{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"data\": {}1{}}}", "[".repeat(n), "]".repeat(n))
    };
    assert!(read(&json(MAX_DOCUMENT_DEPTH - 2), "m.json").is_ok());
    let err = read(&json(MAX_DOCUMENT_DEPTH), "m.json").expect_err("too deep");
    assert!(err.to_string().contains("nest deeper than 100 levels"), "{err}");
    assert!(err.to_string().starts_with("cannot read plan m.json:1:"), "{err}");
}

#[test]
fn release_names_and_namespaces_are_validated_as_helm_and_kubernetes_do() {
    let ok = ["gpu-operator", "a", "a.b-c", &"a".repeat(53), "0day"];
    for name in ok {
        assert!(plan(&[], release(name, "gpu-operator")).is_ok(), "{name}");
    }
    for name in ["UPPER space", "", "../../etc", "-a", "a-", "a_b", &"a".repeat(54)] {
        let err = plan(&[], release(name, "gpu-operator")).expect_err(name);
        assert!(err.to_string().contains("invalid release name") || err.to_string().contains("no name"), "{err}");
    }
    for namespace in ["kube-system", "a", &"n".repeat(63)] {
        assert!(plan(&[], release("gpu-operator", namespace)).is_ok(), "{namespace}");
    }
    for namespace in ["", "../../etc", "a.b", "Upper", &"n".repeat(64)] {
        let err = plan(&[], release("gpu-operator", namespace)).expect_err(namespace);
        assert!(err.to_string().contains("namespace"), "{err}");
    }
}

#[test]
fn parse_errors_never_echo_a_secret_value() {
    let cases = [
        (FlagKind::SetJson, r#"driver.licensingConfig={"password":"hunter2""#),
        (FlagKind::Set, "driver.version=1,registry.password=hunter2,bogus[0=1"),
        (FlagKind::SetString, "toolkit.env[0].name=API_TOKEN,toolkit.env[0].value=hunter2,x[y]=1"),
    ];
    for (kind, text) in cases {
        let err = load_all(&[], &[(kind, text)]).expect_err(text);
        let shown = format!("{err}\n{}", err.detail().unwrap_or_default());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains(&format!("{} #1", kind.flag())), "names the flag: {shown}");
    }
}

#[test]
fn a_diagnostic_about_a_secret_never_shows_its_value() {
    let user = load_all(&[], &[(FlagKind::Set, "driver.secretPassword=hunter2,driver.version=550")]).expect("loads");
    let effective = gpuplan_compiler::coalesce(user).expect("coalesces");
    let diagnostics = gpuplan_compiler::check(&effective, false);
    let shown: String = diagnostics.iter().map(|d| format!("{d}\n")).collect();
    assert!(shown.contains("unknown key `secretPassword`"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("--set #1 (driver.secretPassword="), "the key is still named: {shown}");
}
