//! The templates, embedded in the binary: `build.rs` lists every file under `templates/`.

include!(concat!(env!("OUT_DIR"), "/templates.rs"));
