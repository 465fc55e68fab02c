//! The cluster's facts, read live: what `gpuplan facts` prints and what the operator compiles
//! its plans for.
//!
//! Input: a kube client. Output: [`Facts`] — the server's version, every API group/version it
//! serves (discovery, as `kubectl api-versions` lists them), and every Node trimmed to what the
//! compiler reads (the labels NFD and gpuplan set, `status.nodeInfo`). Nodes are listed in
//! pages so that a cluster of thousands of nodes is never held as one response.

use std::collections::BTreeSet;

use anyhow::Context;
use gpuplan_compiler::Facts;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

/// Nodes per list request.
const PAGE: u32 = 500;

/// Everything gpuplan knows how to read about the cluster.
pub async fn read(client: &kube::Client) -> anyhow::Result<Facts> {
    let version = client.apiserver_version().await.context("cannot read the API server's version")?;
    Ok(Facts { kube_version: Some(version.git_version), api_versions: Some(api_versions(client).await?), nodes: None }
        .with_nodes(nodes(client).await?))
}

/// Every API group/version served: `v1`, then each group's versions (`apps/v1`, ...).
pub async fn api_versions(client: &kube::Client) -> anyhow::Result<BTreeSet<String>> {
    let core = client.list_core_api_versions().await.context("cannot discover the core API versions")?;
    let groups = client.list_api_groups().await.context("cannot discover the API groups")?;
    let mut out: BTreeSet<String> = core.versions.into_iter().collect();
    out.extend(groups.groups.into_iter().flat_map(|g| g.versions.into_iter().map(|v| v.group_version)));
    Ok(out)
}

/// Every Node, read page by page and trimmed as it comes.
pub async fn nodes(client: &kube::Client) -> anyhow::Result<Vec<gpuplan_compiler::facts::NodeFacts>> {
    let api: Api<Node> = Api::all(client.clone());
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api.list(&params).await.context("cannot list the cluster's Nodes")?;
        for node in &page.items {
            out.push(from_node(node)?);
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

/// What the compiler reads of one Node, taken from the typed object: the same as
/// [`gpuplan_compiler::facts::node`] gives for its JSON (a test checks), without writing the
/// whole Node out as JSON first — the operator does this for every node on every look.
pub fn from_node(node: &Node) -> anyhow::Result<gpuplan_compiler::facts::NodeFacts> {
    let name = node.metadata.name.clone().context("Node: a Node without metadata.name")?;
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let field =
        |pick: fn(&k8s_openapi::api::core::v1::NodeSystemInfo) -> &String| info.map(pick).cloned().unwrap_or_default();
    Ok(gpuplan_compiler::facts::NodeFacts {
        name,
        labels: node.metadata.labels.clone().unwrap_or_default(),
        container_runtime_version: field(|i| &i.container_runtime_version),
        os_image: field(|i| &i.os_image),
        kernel_version: field(|i| &i.kernel_version),
        architecture: field(|i| &i.architecture),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_nodes_of_every_shape_the_typed_reading_is_the_json_one() {
        let nodes = [
            serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "a", "labels": {
                "feature.node.kubernetes.io/pci-10de.present": "true", "other": "x"}},
                "status": {"nodeInfo": {"containerRuntimeVersion": "cri-o://1.30.6", "osImage": "RHEL", "kernelVersion": "5.14",
                    "architecture": "arm64", "bootID": "", "kubeProxyVersion": "", "kubeletVersion": "", "machineID": "",
                    "operatingSystem": "linux", "systemUUID": ""}}}),
            serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "no-status"}}),
            serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "empty", "labels": {}}, "status": {}}),
        ];
        for json in nodes {
            let node: Node = serde_json::from_value(json).expect("a Node");
            let by_json = gpuplan_compiler::facts::node(&serde_json::to_value(&node).expect("json")).expect("reads");
            assert_eq!(from_node(&node).expect("reads"), by_json);
        }
        assert!(from_node(&Node::default()).is_err(), "a Node without a name");
    }
}
