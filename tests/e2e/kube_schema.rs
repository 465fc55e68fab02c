//! Kubernetes JSON schemas: is a rendered object a valid object of its kind for a Kubernetes
//! version?
//!
//! Input: the offline schemas that PyPI's `kubernetes-validate` ships (installed by
//! `scripts/install-test-deps`, named by `GPUPLAN_K8S_SCHEMAS`): one directory per version,
//! `v1.31.0-local-strict/`, with one draft 2020-12 file per kind
//! (`daemonset-apps-v1.json`; core kinds `configmap-v1.json`) whose `$ref`s all point into
//! `_definitions.json` (`$id https://kubernetes.io/api/_definitions.json`). The strict variant
//! rejects unknown fields (`additionalProperties: false`), as `kubectl apply
//! --validate=strict` does.
//! Output: for an object (`serde_json::Value`), `Ok` or every schema error, each with the
//! JSON pointer of the offending value (`/spec/template/spec/containers/0/env/3: ...`).
//!
//! Only what is used is loaded: `_definitions.json` once per version, and each kind's file the
//! first time an object of that kind is validated; built validators are cached. A kind's file
//! is found by the naming rule and then checked against its `x-kubernetes-group-version-kind`,
//! so an object whose group, version and kind the API server does not serve has *no schema*
//! (never a look-alike's schema). That is the case for every custom resource (ServiceMonitor,
//! NodeFeatureRule, ClusterPolicy, ...): callers decide which of those they skip on purpose.
//!
//! Self-contained (no other module of the e2e tests), so another test target can include it:
//! `#[allow(dead_code)] #[path = "../../tests/e2e/kube_schema.rs"] mod kube_schema;`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

/// The `$id` of `_definitions.json`, which every kind's schema refers to.
const DEFINITIONS_ID: &str = "https://kubernetes.io/api/_definitions.json";

/// Longest error message kept (messages quote the offending value, which may be a whole pod).
const MAX_MESSAGE: usize = 400;

/// A map shared between test threads.
type Cache<K, V> = Mutex<HashMap<K, V>>;

/// The strict schemas of one Kubernetes version.
pub struct Schemas {
    /// `<root>/v1.31.0-local-strict`.
    dir: PathBuf,
    /// `_definitions.json`, prepared once.
    registry: jsonschema::Registry<'static>,
    /// Built validators by (apiVersion, kind); `None`: no schema.
    validators: Cache<(String, String), Option<Arc<Validator>>>,
    /// The validator of what every object has ([`Schemas::validate_metadata`]), built on first
    /// use.
    metadata: OnceLock<Result<Validator, String>>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// `1.31`, `v1.31`, `1.31.4` → `v1.31.0-local-strict` (the schemas exist per minor version).
pub fn strict_dir_name(version: &str) -> Result<String, String> {
    let v = version.trim_start_matches('v');
    let mut parts = v.split('.');
    match (parts.next().map(str::parse::<u32>), parts.next().map(str::parse::<u32>)) {
        (Some(Ok(major)), Some(Ok(minor))) => Ok(format!("v{major}.{minor}.0-local-strict")),
        _ => Err(format!("not a Kubernetes version: {version:?} (want MAJOR.MINOR, e.g. 1.31)")),
    }
}

/// Read and parse a JSON file.
fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl Schemas {
    /// The strict schemas of Kubernetes `version` (`1.31`) under `root` (the directory holding
    /// `v1.31.0-local-strict/`). Fails when that version's directory or its
    /// `_definitions.json` is missing or unreadable.
    pub fn load(root: &Path, version: &str) -> Result<Schemas, String> {
        let dir = root.join(strict_dir_name(version)?);
        if !dir.is_dir() {
            let mut have: Vec<String> = std::fs::read_dir(root)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter(|n| n.ends_with("-local-strict"))
                        .collect()
                })
                .unwrap_or_default();
            have.sort();
            return Err(format!("no schemas for Kubernetes {version}: {} is missing (have: {have:?})", dir.display()));
        }
        let definitions = read_json(&dir.join("_definitions.json"))?;
        let registry = jsonschema::Registry::new()
            .add(DEFINITIONS_ID, definitions)
            .and_then(jsonschema::RegistryBuilder::prepare)
            .map_err(|e| format!("{}: {e}", dir.join("_definitions.json").display()))?;
        Ok(Schemas { dir, registry, validators: Mutex::default(), metadata: OnceLock::new() })
    }

    /// [`Schemas::load`], once per (`root`, `version`) for the whole test binary.
    pub fn shared(root: &Path, version: &str) -> Result<Arc<Schemas>, String> {
        static LOADED: OnceLock<Cache<(PathBuf, String), Arc<Schemas>>> = OnceLock::new();
        let key = (root.to_owned(), strict_dir_name(version)?);
        let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(schemas) = loaded.get(&key) {
            return Ok(schemas.clone());
        }
        let schemas = Arc::new(Schemas::load(root, version)?);
        loaded.insert(key, schemas.clone());
        Ok(schemas)
    }

    /// The directory the schemas come from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The schema file an `apiVersion` and `kind` would have by the naming rule:
    /// `{kind}-{first label of group}-{version}.json`, without the group part for the core
    /// group. (Whether it really is that kind's is checked by [`Schemas::validator`].)
    pub fn file_name(api_version: &str, kind: &str) -> String {
        let kind = kind.to_ascii_lowercase();
        match api_version.split_once('/') {
            Some((group, version)) => {
                format!("{kind}-{}-{version}.json", group.split('.').next().unwrap_or(group))
            }
            None => format!("{kind}-{api_version}.json"),
        }
    }

    /// Whether the schemas have `kind` in `apiVersion` (the API server serves it).
    pub fn has_schema(&self, api_version: &str, kind: &str) -> Result<bool, String> {
        Ok(self.validator(api_version, kind)?.is_some())
    }

    /// The validator of `kind` in `apiVersion`, built on first use; `None`: no schema.
    fn validator(&self, api_version: &str, kind: &str) -> Result<Option<Arc<Validator>>, String> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.validators.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(found.clone());
        }
        // Built outside the lock: two threads may both build one; the second insert is a no-op.
        let built = self.build(api_version, kind)?;
        let mut validators = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        Ok(validators.entry(key).or_insert(built).clone())
    }

    fn build(&self, api_version: &str, kind: &str) -> Result<Option<Arc<Validator>>, String> {
        let path = self.dir.join(Schemas::file_name(api_version, kind));
        if !path.is_file() {
            return Ok(None);
        }
        let schema = read_json(&path)?;
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let serves = schema.get("x-kubernetes-group-version-kind").and_then(Value::as_array).is_some_and(|gvks| {
            gvks.iter().any(|gvk| {
                gvk.get("group").and_then(Value::as_str) == Some(group)
                    && gvk.get("version").and_then(Value::as_str) == Some(version)
                    && gvk.get("kind").and_then(Value::as_str) == Some(kind)
            })
        });
        if !serves {
            return Ok(None);
        }
        let validator = jsonschema::options()
            .with_registry(&self.registry)
            .build(&schema)
            .map_err(|e| format!("{}: the schema does not build: {e}", path.display()))?;
        Ok(Some(Arc::new(validator)))
    }

    /// Validate one object against the schema of its `apiVersion` and `kind`: every error,
    /// each as `<instance path>: <message>` (`/` is the object itself). An object without
    /// `apiVersion`/`kind`, or whose kind has no schema, is one error saying so.
    pub fn validate(&self, object: &Value) -> Result<(), Vec<String>> {
        let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
        let (api_version, kind) = (text("apiVersion"), text("kind"));
        if api_version.is_empty() || kind.is_empty() {
            return Err(vec!["/: no apiVersion or kind".to_owned()]);
        }
        let validator = match self.validator(api_version, kind) {
            Ok(Some(validator)) => validator,
            Ok(None) => {
                return Err(vec![format!(
                    "/: no schema for {api_version} {kind} in {} (a custom resource, or not served by this Kubernetes version)",
                    self.dir.display()
                )]);
            }
            Err(e) => return Err(vec![e]),
        };
        let errors: Vec<String> = validator.iter_errors(object).map(|e| describe(&e)).collect();
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Validate only what every object has, whatever its kind: `apiVersion` and `kind` are
    /// strings and `metadata` is a valid ObjectMeta (names, labels and annotations of string
    /// values, no unknown fields). For custom resources, which have no schema here.
    pub fn validate_metadata(&self, object: &Value) -> Result<(), Vec<String>> {
        let validator = self.metadata.get_or_init(|| {
            let schema = serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["apiVersion", "kind", "metadata"],
                "properties": {
                    "apiVersion": { "type": "string", "minLength": 1 },
                    "kind": { "type": "string", "minLength": 1 },
                    "metadata": {
                        "$ref": format!("{DEFINITIONS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
                    }
                }
            });
            jsonschema::options()
                .with_registry(&self.registry)
                .build(&schema)
                .map_err(|e| format!("the ObjectMeta schema does not build: {e}"))
        });
        let validator = validator.as_ref().map_err(|e| vec![e.clone()])?;
        let errors: Vec<String> = validator.iter_errors(object).map(|e| describe(&e)).collect();
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// One error as `<instance path>: <message>`.
fn describe(error: &ValidationError<'_>) -> String {
    format!("{}: {}", path(error), message(error))
}

fn path<'e>(error: &'e ValidationError<'_>) -> &'e str {
    let path = error.instance_path().as_str();
    if path.is_empty() { "/" } else { path }
}

/// The message of an error; for `oneOf`/`anyOf`, the errors of each alternative (the message
/// alone would only quote the value), each with its path when that is deeper.
fn message(error: &ValidationError<'_>) -> String {
    match error.kind() {
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            let alternatives: Vec<String> = context
                .iter()
                .enumerate()
                .map(|(i, errors)| {
                    let errors: Vec<String> =
                        errors.iter().map(|e| if path(e) == path(error) { message(e) } else { describe(e) }).collect();
                    format!("({}) {}", i + 1, errors.join("; "))
                })
                .collect();
            format!("matches none of the `{}` alternatives: {}", error.kind().keyword(), alternatives.join(" "))
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            "matches more than one `oneOf` alternative (a null where a value is expected?)".to_owned()
        }
        _ => truncate(&error.to_string()),
    }
}

fn truncate(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE) {
        Some((end, _)) => format!("{}...", &message[..end]),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_naming_rule() {
        assert_eq!(Schemas::file_name("apps/v1", "DaemonSet"), "daemonset-apps-v1.json");
        assert_eq!(Schemas::file_name("v1", "ConfigMap"), "configmap-v1.json");
        assert_eq!(Schemas::file_name("rbac.authorization.k8s.io/v1", "Role"), "role-rbac-v1.json");
        assert_eq!(Schemas::file_name("node.k8s.io/v1", "RuntimeClass"), "runtimeclass-node-v1.json");
        assert_eq!(strict_dir_name("1.31").as_deref(), Ok("v1.31.0-local-strict"));
        assert_eq!(strict_dir_name("v1.37.2").as_deref(), Ok("v1.37.0-local-strict"));
        assert!(strict_dir_name("latest").is_err());
    }
}
