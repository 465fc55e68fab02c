//! The committed table of renderings made ahead (`values/values.rendered`) is what the built-in
//! defaults render, template by template, and the compiler takes from it exactly the objects
//! it would render. `UPDATE_GOLDEN=1` rewrites it.

use std::path::Path;

use gpuplan_compiler::FlagKind;
use gpuplan_compiler::facts::Facts;
use gpuplan_compiler::plan::Release;
use gpuplan_compiler::render::{Context, prerendered, render};
use gpuplan_compiler::{InputFlag, Inputs, Target, compile};

const UPDATE: &str = "run `UPDATE_GOLDEN=1 cargo test -p gpuplan-compiler --test it rendered` and commit it";

fn compiled(target: &Target) -> gpuplan_compiler::Compiled {
    let compiled = compile(&Inputs::default(), &mut |_| Err("no files".into()), target).expect("compiles");
    assert!(!compiled.failed(), "{:?}", compiled.diagnostics);
    compiled
}

/// The table the defaults make now.
fn table_of_the_defaults() -> String {
    let compiled = compiled(&Target { render: false, ..Target::default() });
    let (config, node) = (compiled.config.expect("a config"), compiled.node.expect("a node change"));
    let (release, facts) = (Release::default(), Facts::default());
    let ctx =
        Context { config: &config, node: &node, agents: std::slice::from_ref(&node), release: &release, facts: &facts };
    prerendered::table(&ctx).expect("the defaults render")
}

fn committed_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../values/values.rendered")
}

#[test]
fn the_committed_table_is_the_defaults_rendered_afresh() {
    let expected = table_of_the_defaults();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(committed_path(), &expected).expect("writes the table");
        return;
    }
    let committed = std::fs::read_to_string(committed_path()).expect("values/values.rendered");
    assert!(committed == expected, "values/values.rendered is not what the defaults render: {UPDATE}");
    let renderings = prerendered::renderings(&committed).unwrap_or_else(|| panic!("not of these templates: {UPDATE}"));
    // Every stage of the defaults is in it, and each of its object lists reads back losslessly.
    assert!(renderings.len() > 40, "{} renderings", renderings.len());
    for rendering in &renderings {
        let objects: Vec<serde_json::Value> = serde_json::from_str(rendering.objects).expect("a JSON list");
        assert_eq!(serde_json::to_string(&objects).expect("prints"), rendering.objects, "{}", rendering.template);
    }
}

#[test]
fn every_stage_taken_from_the_table_is_the_stage_rendered_afresh() {
    // The defaults (every rendering in the table), and values whose toolkit and driver views
    // differ from the defaults' (those render afresh, the rest come from the table).
    let seed = [
        "toolkit.env[0].name=CONTAINERD_CONFIG",
        "toolkit.env[0].value=/etc/containerd/config.toml",
        "driver.version=550.90.07",
    ];
    for sets in [&[][..], &seed[..]] {
        let inputs = Inputs {
            flags: sets.iter().map(|text| InputFlag { kind: FlagKind::Set, text: (*text).into() }).collect(),
            ..Inputs::default()
        };
        let compiled =
            compile(&inputs, &mut |_| Err("no files".into()), &Target { render: false, ..Target::default() })
                .expect("compiles");
        let (config, node) = (compiled.config.expect("a config"), compiled.node.expect("a node change"));
        let (release, facts) = (Release::default(), Facts::default());
        let ctx = Context {
            config: &config,
            node: &node,
            agents: std::slice::from_ref(&node),
            release: &release,
            facts: &facts,
        };
        let stages = render(&ctx).expect("renders");
        assert_eq!(stages, prerendered::render_afresh(&ctx).expect("renders afresh"), "{sets:?}");
        assert!(stages.iter().map(|s| s.objects.len()).sum::<usize>() > 60);
    }
}
