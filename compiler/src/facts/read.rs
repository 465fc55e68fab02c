//! Reading a facts file: `kubectl get nodes -o yaml|json` (a `List` or `NodeList`, or one
//! `Node`), or gpuplan's own snapshot (`apiVersion: gpuplan.dev/v1alpha1`, `kind: Facts`, as
//! `gpuplan facts` prints it).
//!
//! Input: the file's name (for messages) and text. Output: [`Facts`], or an error naming the
//! file and what is not as expected. YAML is read as everywhere in gpuplan (JSON is YAML too).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value as J;

use super::{API_VERSION, Facts, KIND, NodeFacts};
use crate::error::Error;
use crate::origin::Source;

/// Read a facts file.
pub fn read(name: &str, text: &str) -> Result<Facts, Error> {
    let fail = |message: String| Error::Facts { file: Arc::from(name), message };
    let values = crate::values::load::load(text, &Source::File(Arc::from(name)))?;
    let json = values.to_json();
    let kind = json["kind"].as_str().unwrap_or_default();
    match kind {
        KIND => {
            if json["apiVersion"] != API_VERSION {
                return Err(fail(format!(
                    "a Facts snapshot must have apiVersion {API_VERSION}, found {}",
                    json["apiVersion"]
                )));
            }
            let mut body = json.clone();
            if let Some(map) = body.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
            let facts: Facts =
                serde_path_to_error::deserialize(body).map_err(|e| fail(format!("at {}: {}", e.path(), e.inner())))?;
            let nodes = facts.nodes.clone();
            Ok(match nodes {
                Some(nodes) => facts.with_nodes(nodes),
                None => facts,
            })
        }
        "List" | "NodeList" => {
            let items = json["items"].as_array().ok_or_else(|| fail(format!("a {kind} without `items`")))?;
            let nodes =
                items.iter().enumerate().map(|(i, item)| node(item).map_err(|m| fail(format!("items[{i}]: {m}"))));
            Ok(Facts::default().with_nodes(nodes.collect::<Result<_, _>>()?))
        }
        "Node" => Ok(Facts::default().with_nodes(vec![node(&json).map_err(fail)?])),
        other => Err(fail(format!(
            "expected `kubectl get nodes -o yaml` output (kind List or NodeList) or a gpuplan Facts snapshot, found kind {other:?}"
        ))),
    }
}

/// One Node object, as the API server serves it (`kind` may be absent, as in a list's items):
/// what gpuplan reads of it. An error says what is missing or what was found instead.
pub fn node(item: &J) -> Result<NodeFacts, String> {
    if item["kind"].as_str().is_some_and(|k| k != "Node") {
        return Err(format!("a {} where a Node was expected", item["kind"]));
    }
    let name = item["metadata"]["name"].as_str().ok_or("a Node without metadata.name")?.to_owned();
    let text = |v: &J| match v {
        J::String(s) => s.clone(),
        J::Null => String::new(),
        other => other.to_string(),
    };
    let labels: BTreeMap<String, String> =
        item["metadata"]["labels"].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), text(v))).collect();
    let info = &item["status"]["nodeInfo"];
    Ok(NodeFacts {
        name,
        labels,
        container_runtime_version: text(&info["containerRuntimeVersion"]),
        os_image: text(&info["osImage"]),
        kernel_version: text(&info["kernelVersion"]),
        architecture: text(&info["architecture"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL: &str = r#"apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata:
    name: gpu-b
    labels:
      feature.node.kubernetes.io/pci-10de.present: "true"
      feature.node.kubernetes.io/system-os_release.ID: ubuntu
      feature.node.kubernetes.io/system-os_release.VERSION_ID: "22.04"
      kubernetes.io/hostname: gpu-b
  status:
    nodeInfo:
      containerRuntimeVersion: containerd://1.7.24
      osImage: Ubuntu 22.04.4 LTS
      kernelVersion: 5.15.0-91-generic
      architecture: amd64
- apiVersion: v1
  kind: Node
  metadata:
    name: cpu-a
  status:
    nodeInfo:
      containerRuntimeVersion: containerd://1.7.24
"#;

    #[test]
    fn given_kubectls_list_and_the_snapshot_of_it_the_facts_are_the_same() {
        let facts = read("nodes.yaml", KUBECTL).expect("reads");
        let nodes = facts.nodes.as_ref().expect("nodes");
        assert_eq!(nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["cpu-a", "gpu-b"]);
        assert_eq!(nodes[1].labels.get(super::super::OS_VERSION_ID).map(String::as_str), Some("22.04"));
        assert!(!nodes[1].labels.contains_key("kubernetes.io/hostname"));
        let snapshot = facts.to_yaml();
        assert!(snapshot.starts_with("apiVersion: gpuplan.dev/v1alpha1\nkind: Facts\n"), "{snapshot}");
        assert_eq!(read("facts.yaml", &snapshot).expect("reads back"), facts);
    }

    #[test]
    fn given_something_else_the_error_names_the_file_and_what_was_found() {
        let err = read("x.yaml", "kind: Deployment\n").unwrap_err();
        assert!(err.to_string().contains("x.yaml") && err.to_string().contains("\"Deployment\""), "{err}");
        let err = read("x.yaml", "kind: List\nitems:\n- kind: Pod\n  metadata: {name: p}\n").unwrap_err();
        assert!(err.to_string().contains("items[0]: a \"Pod\" where a Node was expected"), "{err}");
    }
}
