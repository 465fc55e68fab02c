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

/// What the compiler reads of one Node.
pub fn from_node(node: &Node) -> anyhow::Result<gpuplan_compiler::facts::NodeFacts> {
    let json = serde_json::to_value(node).context("a Node that does not serialise")?;
    gpuplan_compiler::facts::node(&json).map_err(|message| anyhow::anyhow!("Node: {message}"))
}
