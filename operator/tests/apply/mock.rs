//! A scenario-driven mock API server: kube's client talks to it through tower-test's mock
//! service pair, as kube-rs's reference controller tests do, instead of over HTTP.
//!
//! It keeps objects in memory by path and answers GET, LIST (label selectors), server-side
//! apply PATCH (dry runs included) and DELETE like the API server does for the purpose of the
//! apply engine: server fields (uid, resourceVersion, generation, managedFields), workload
//! status set by a pretend controller (DaemonSets and Deployments become ready, CRDs
//! Established), foreground deletion that lingers while dependents go. A scenario adds
//! faults (answer N times with a code and message), DaemonSets that never become ready, and
//! objects whose deletion takes a while, and answers whose body is not a `Status`. It answers
//! the server's version and API discovery with fixed answers, and lists Nodes put in its state. Every
//! request is recorded for the test to check. The client goes through gpuplan's
//! `StatusAnswers` layer, as `gpuplan`'s own does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use gpuplan::apply::client::StatusAnswering;
use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value as J, json};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET`, `PATCH`, `DELETE`, ...
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string.
    pub query: String,
    /// The JSON body, if any.
    pub body: Option<J>,
    /// Whether it would create an object: a POST, or an apply of an object not stored yet
    /// (which Kubernetes authorizes as `create` as well as `patch`).
    pub creates: bool,
}

/// What a request asks of RBAC: API group, resource (`plural` or `plural/sub`), namespace
/// (empty for cluster-scoped requests and lists across namespaces) and the verbs it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub verbs: Vec<&'static str>,
}

impl Call {
    /// What the request needs RBAC to allow, as the API server's authorizer sees it; `None` for
    /// discovery, which every authenticated user may read.
    pub fn access(&self) -> Option<Access> {
        let p = parse(&self.path)?;
        let group = p.key.0.strip_prefix("/apis/").unwrap_or("").to_owned();
        let resource = match &p.sub {
            Some(sub) => format!("{}/{sub}", p.key.1),
            None => p.key.1.clone(),
        };
        let verbs: Vec<&'static str> = match (self.method.as_str(), p.collection) {
            ("GET", true) if self.query.contains("watch=true") || self.query.contains("watch=1") => vec!["watch"],
            ("GET", true) => vec!["list"],
            ("GET", false) => vec!["get"],
            ("POST", _) => vec!["create"],
            ("PUT", _) => vec!["update"],
            ("PATCH", _) if self.creates => vec!["patch", "create"],
            ("PATCH", _) => vec!["patch"],
            ("DELETE", true) => vec!["deletecollection"],
            ("DELETE", false) => vec!["delete"],
            _ => vec![],
        };
        Some(Access { group, resource, namespace: p.key.2.clone(), verbs })
    }

    /// Whether the request wrote (a PATCH that is not a dry run, a DELETE, a POST, a PUT).
    pub fn writes(&self) -> bool {
        match self.method.as_str() {
            "GET" => false,
            "PATCH" => !self.query.contains("dryRun=All"),
            _ => true,
        }
    }
}

/// A fault: answer `times` requests matching method and path suffix with this status.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Method to match.
    pub method: &'static str,
    /// Path suffix to match (`/daemonsets/x`).
    pub path: String,
    /// HTTP code.
    pub code: u16,
    /// Status reason.
    pub reason: &'static str,
    /// Status message.
    pub message: String,
    /// How many more times.
    pub times: usize,
    /// Answer `message` as the raw body instead of a `Status` (a proxy's page, `{}`, nothing).
    pub raw: bool,
}

impl Fault {
    /// A fault answering `times` requests with `code` and a raw body (not a `Status`).
    pub fn raw(method: &'static str, path: &str, code: u16, body: &str, times: usize) -> Fault {
        Fault { method, path: path.into(), code, reason: "", message: body.into(), times, raw: true }
    }
}

/// The server's state.
#[derive(Debug, Default)]
pub struct State {
    /// Objects by key (group-version prefix, plural, namespace, name).
    pub objects: BTreeMap<(String, String, String, String), J>,
    /// Every request, in order.
    pub calls: Vec<Call>,
    /// Faults to inject.
    pub faults: Vec<Fault>,
    /// Names of DaemonSets whose pods never become available (and of CRDs never Established).
    pub never_ready: Vec<String>,
    /// Objects deleted in the foreground stay this many GETs (with a deletionTimestamp).
    pub linger: usize,
    /// The API group/versions discovery lists besides `v1` (`None`: [`SERVED`]).
    pub served: Option<Vec<String>>,
    lingering: BTreeMap<(String, String, String, String), usize>,
    version: u64,
}

/// What discovery lists by default: the groups of every kind a plan has, and the Prometheus
/// Operator's (so that a plan renders its ServiceMonitors, as without facts).
pub const SERVED: [&str; 7] = [
    "apps/v1",
    "rbac.authorization.k8s.io/v1",
    "node.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "coordination.k8s.io/v1",
    "gpuplan.dev/v1alpha1",
    "monitoring.coreos.com/v1",
];

/// The mock server, shared with the task that answers requests.
#[derive(Clone, Default)]
pub struct Server {
    /// Its state.
    pub state: Arc<Mutex<State>>,
}

struct Path {
    key: (String, String, String, String),
    /// A collection across namespaces or in one.
    collection: bool,
    /// A subresource (`status`).
    sub: Option<String>,
}

fn parse(path: &str) -> Option<Path> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (prefix, rest) = match segments.as_slice() {
        ["api", v, rest @ ..] => (format!("/api/{v}"), rest),
        ["apis", g, v, rest @ ..] => (format!("/apis/{g}/{v}"), rest),
        _ => return None,
    };
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns, plural, name, sub] => (*ns, *plural, Some(*name), Some(*sub)),
        ["namespaces", ns, plural, name] => (*ns, *plural, Some(*name), None),
        ["namespaces", ns, plural] => (*ns, *plural, None, None),
        [plural, name, sub] => ("", *plural, Some(*name), Some(*sub)),
        [plural, name] => ("", *plural, Some(*name), None),
        [plural] => ("", *plural, None, None),
        _ => return None,
    };
    // Strip the version: an object is the same across API versions of its group.
    let group = prefix.rsplit_once('/').map_or(prefix.clone(), |(g, _)| g.to_owned());
    Some(Path {
        key: (group, plural.to_owned(), namespace.to_owned(), name.unwrap_or_default().to_owned()),
        collection: name.is_none(),
        sub: sub.map(str::to_owned),
    })
}

/// The server's version and the API groups it serves (what `gpuplan facts` reads): a fixed
/// 1.31 server serving the groups the plans use.
/// The server's version, as `/version` answers.
fn version() -> J {
    json!({"major": "1", "minor": "31", "gitVersion": "v1.31.0", "gitCommit": "", "gitTreeState": "", "buildDate": "",
           "goVersion": "", "compiler": "", "platform": "linux/amd64"})
}

fn status(code: u16, reason: &str, message: &str) -> (u16, J) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message}),
    )
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl State {
    fn answer(&mut self, method: &str, path: &str, query: &str, merge: bool, body: Option<J>) -> (u16, J) {
        let creates = method == "POST"
            || (method == "PATCH"
                && !merge
                && parse(path).is_some_and(|p| p.sub.is_none() && !self.objects.contains_key(&p.key)));
        self.calls.push(Call {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            body: body.clone(),
            creates,
        });
        if let Some(fault) =
            self.faults.iter_mut().find(|f| f.times > 0 && f.method == method && path.ends_with(&f.path))
        {
            fault.times -= 1;
            if fault.raw {
                return (fault.code, J::String(fault.message.clone()));
            }
            return status(fault.code, fault.reason, &fault.message.clone());
        }
        match (method, path.trim_end_matches('/')) {
            ("GET", "/api") => {
                return (200, json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}));
            }
            ("GET", "/apis") => return (200, self.groups()),
            ("GET", "/version") => return (200, version()),
            _ => {}
        }
        let Some(p) = parse(path) else {
            return status(404, "NotFound", "the server could not find the requested resource");
        };
        match (method, p.collection) {
            ("GET", true) => self.list(&p, query),
            ("GET", false) => self.get(&p),
            ("PATCH", false) if p.sub.as_deref() == Some("status") => self.status(&p, body.unwrap_or_default()),
            ("PATCH", false) if merge => self.merge(&p, body.unwrap_or_default()),
            ("PATCH", false) => self.apply(&p, query, body.unwrap_or_default()),
            ("POST", true) => self.create(&p, body.unwrap_or_default()),
            ("PUT", false) => self.replace(&p, body.unwrap_or_default()),
            ("DELETE", false) => self.delete(&p, body.as_ref()),
            _ => status(405, "MethodNotAllowed", "not supported by the mock"),
        }
    }

    /// Discovery's group list: every group/version served, each group's first as preferred.
    fn groups(&self) -> J {
        let served: Vec<String> = self.served.clone().unwrap_or_else(|| SERVED.map(str::to_owned).to_vec());
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for gv in served {
            let Some((group, version)) = gv.split_once('/') else { continue };
            match groups.iter_mut().find(|(g, _)| g == group) {
                Some((_, versions)) => versions.push(version.to_owned()),
                None => groups.push((group.to_owned(), vec![version.to_owned()])),
            }
        }
        let groups: Vec<J> = groups
            .iter()
            .map(|(g, versions)| {
                let versions: Vec<J> =
                    versions.iter().map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v})).collect();
                json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    fn get(&mut self, p: &Path) -> (u16, J) {
        if let Some(left) = self.lingering.get_mut(&p.key) {
            if *left == 0 {
                self.lingering.remove(&p.key);
                self.objects.remove(&p.key);
            } else {
                *left -= 1;
            }
        }
        match self.objects.get(&p.key) {
            Some(o) => (200, o.clone()),
            None => status(404, "NotFound", &format!("{} \"{}\" not found", p.key.1, p.key.3)),
        }
    }

    fn list(&self, p: &Path, query: &str) -> (u16, J) {
        let selector = query_param(query, "labelSelector").map(percent_decode);
        let items: Vec<J> = self
            .objects
            .iter()
            .filter(|(k, _)| k.0 == p.key.0 && k.1 == p.key.1 && (p.key.2.is_empty() || k.2 == p.key.2))
            .filter(|(_, o)| {
                selector.as_deref().is_none_or(|s| {
                    s.split(',').all(|kv| match kv.split_once('=') {
                        Some((k, v)) => o["metadata"]["labels"][k] == v,
                        // `key` alone: the label exists.
                        None => o["metadata"]["labels"].get(kv).is_some(),
                    })
                })
            })
            .map(|(_, o)| o.clone())
            .collect();
        (
            200,
            json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": self.version.to_string()}, "items": items}),
        )
    }

    fn apply(&mut self, p: &Path, query: &str, desired: J) -> (u16, J) {
        let manager = query_param(query, "fieldManager").unwrap_or_default().to_owned();
        let dry_run = query.contains("dryRun=All");
        let existing = self.objects.get(&p.key).cloned();
        let mut object = desired.clone();
        let meta = object["metadata"].as_object_mut().expect("metadata");
        let old_meta = existing.as_ref().map(|e| e["metadata"].clone()).unwrap_or_default();
        let generation = old_meta["generation"].as_i64().unwrap_or(0);
        let spec_changed = existing.as_ref().is_none_or(|e| e.get("spec") != desired.get("spec"));
        self.version += 1;
        meta.insert(
            "uid".into(),
            old_meta.get("uid").cloned().unwrap_or_else(|| json!(format!("uid-{}", self.version))),
        );
        meta.insert("resourceVersion".into(), json!(self.version.to_string()));
        meta.insert("generation".into(), json!(if spec_changed { generation + 1 } else { generation.max(1) }));
        meta.insert("creationTimestamp".into(), json!("2026-11-28T00:00:00Z"));
        meta.insert("managedFields".into(), json!([{"manager": manager, "operation": "Apply"}]));
        let generation = meta["generation"].clone();
        match desired["kind"].as_str().unwrap_or_default() {
            "DaemonSet" => {
                let ready = if self.never_ready.contains(&p.key.3) { 0 } else { 2 };
                object["status"] = json!({"observedGeneration": generation, "desiredNumberScheduled": 2,
                                          "updatedNumberScheduled": ready, "numberAvailable": ready});
            }
            "Deployment" => {
                let replicas = desired["spec"]["replicas"].as_i64().unwrap_or(1);
                object["status"] = json!({"observedGeneration": generation, "updatedReplicas": replicas, "availableReplicas": replicas});
            }
            "CustomResourceDefinition" => {
                let established = if self.never_ready.contains(&p.key.3) { "False" } else { "True" };
                object["status"] = json!({"conditions": [{"type": "Established", "status": established}, {"type": "NamesAccepted", "status": "True"}]});
            }
            _ => {}
        }
        if !dry_run {
            self.objects.insert(p.key.clone(), object.clone());
        }
        (if existing.is_some() { 200 } else { 201 }, object)
    }

    fn status(&mut self, p: &Path, body: J) -> (u16, J) {
        let Some(object) = self.objects.get_mut(&p.key) else {
            return status(404, "NotFound", &format!("{} \"{}\" not found", p.key.1, p.key.3));
        };
        object["status"] = body["status"].clone();
        self.version += 1;
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        (200, object.clone())
    }

    /// A JSON merge patch (RFC 7386): maps merge, `null` removes.
    fn merge(&mut self, p: &Path, patch: J) -> (u16, J) {
        fn merge(target: &mut J, patch: &J) {
            match (target, patch) {
                (J::Object(t), J::Object(p)) => {
                    for (k, v) in p {
                        if v.is_null() {
                            t.remove(k);
                        } else {
                            merge(t.entry(k.clone()).or_insert(J::Null), v);
                        }
                    }
                }
                (t, p) => *t = p.clone(),
            }
        }
        let Some(object) = self.objects.get_mut(&p.key) else {
            return status(404, "NotFound", &format!("{} \"{}\" not found", p.key.1, p.key.3));
        };
        if !patch.is_object() || !object.is_object() {
            return status(422, "Invalid", "a merge patch is a map");
        }
        merge(object, &patch);
        self.version += 1;
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        let answer = object.clone();
        // As the API server: an object being deleted goes once its last finalizer is removed.
        let finalized = answer["metadata"]["finalizers"].as_array().is_none_or(Vec::is_empty);
        if answer["metadata"]["deletionTimestamp"].is_string() && finalized {
            self.objects.remove(&p.key);
        }
        (200, answer)
    }

    /// An update: refused with 409 when the resourceVersion it read is not the current one.
    fn replace(&mut self, p: &Path, mut body: J) -> (u16, J) {
        let Some(current) = self.objects.get(&p.key) else {
            return status(404, "NotFound", &format!("{} \"{}\" not found", p.key.1, p.key.3));
        };
        if body["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
            return status(409, "Conflict", "Operation cannot be fulfilled: the object has been modified");
        }
        self.version += 1;
        body["metadata"]["resourceVersion"] = json!(self.version.to_string());
        self.objects.insert(p.key.clone(), body.clone());
        (200, body)
    }

    fn create(&mut self, p: &Path, mut body: J) -> (u16, J) {
        self.version += 1;
        let name = body["metadata"]["name"].as_str().map(str::to_owned).unwrap_or_else(|| {
            format!("{}{}", body["metadata"]["generateName"].as_str().unwrap_or("object-"), self.version)
        });
        body["metadata"]["name"] = json!(name);
        body["metadata"]["resourceVersion"] = json!(self.version.to_string());
        let key = (p.key.0.clone(), p.key.1.clone(), p.key.2.clone(), name);
        if self.objects.contains_key(&key) {
            return status(409, "AlreadyExists", "already exists");
        }
        self.objects.insert(key, body.clone());
        (201, body)
    }

    fn delete(&mut self, p: &Path, options: Option<&J>) -> (u16, J) {
        let Some(object) = self.objects.get_mut(&p.key) else {
            return status(404, "NotFound", &format!("{} \"{}\" not found", p.key.1, p.key.3));
        };
        let foreground = options.is_some_and(|o| o["propagationPolicy"] == "Foreground");
        if foreground && self.linger > 0 {
            object["metadata"]["deletionTimestamp"] = json!("2026-11-28T00:00:01Z");
            self.lingering.insert(p.key.clone(), self.linger);
            return (200, object.clone());
        }
        let object = self.objects.remove(&p.key).unwrap_or_default();
        (200, object)
    }
}

impl Server {
    /// A kube client served by this mock, and the task answering it.
    pub fn client(&self) -> kube::Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let state = self.state.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let method = request.method().as_str().to_owned();
                let path = request.uri().path().to_owned();
                let query = request.uri().query().unwrap_or_default().to_owned();
                let merge = request
                    .headers()
                    .get("content-type")
                    .is_some_and(|c| c.to_str().unwrap_or_default().starts_with("application/merge-patch"));
                let bytes = request.into_body().collect_bytes().await.unwrap_or_default();
                let body = serde_json::from_slice::<J>(&bytes).ok();
                let (code, answer) = state.lock().expect("state").answer(&method, &path, &query, merge, body);
                let bytes = match answer {
                    J::String(raw) => raw.into_bytes(),
                    answer => serde_json::to_vec(&answer).unwrap_or_default(),
                };
                let response = Response::builder()
                    .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                    .header("content-type", "application/json")
                    .body(Body::from(bytes))
                    .expect("response");
                send.send_response(response);
            }
        });
        // With the error answers made Statuses, as `gpuplan`'s own client has them.
        kube::Client::new(StatusAnswering(service), "default")
    }

    /// The recorded requests.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().expect("state").calls.clone()
    }

    /// Forget the recorded requests.
    pub fn reset_calls(&self) {
        self.state.lock().expect("state").calls.clear();
    }

    /// Change the scenario.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().expect("state"))
    }
}
