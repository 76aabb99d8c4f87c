//! The Kubernetes fixture: rendered manifests (insta snapshots) and every flow against a mock API server
//! (tower-test), plus one real-cluster test that is ignored here.
//!
//! The mock serves a scripted sequence of expected requests: each step asserts the method and path (and,
//! where it matters, part of the query) and answers with JSON, a JSON-lines watch body, text, or never
//! (a watch that stays open). Every request is recorded so tests can check what was created and deleted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use iogate::Error;
use iogate::fixture::kubernetes::{self, KubernetesFixture, KubernetesOptions, ServerEndpoint};
use iogate::fixture::{CellDir, Fixture};
use iogate::spec::{Cell, KubernetesRuntime, MatrixFile, Pattern, RuntimeKind};
use kube::client::Body;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The study's cells
// ---------------------------------------------------------------------------------------------

const MATRIX: &str = "\
name: seed-test
target: /mnt/beegfs/iogate
runtimes:
  - name: kata
    kubernetes:
      runtime_class: kata-qemu
      node_names: [worker-1, worker-2]
      requests: { cpu: 250m }
      limits: { cpu: \"1\", memory: 2Gi }
  - name: bare
    kubernetes: { host_network: true, node_names: [worker-1, worker-2] }
  - name: selected
    kubernetes: { node_selector: iogate/worker=true }
clients: [1, 8, 64]
nodes: 2
workload: { patterns: [read, randread, write, randwrite], bs: 64k, threads: 4, size: 32GiB, runtime: 60s }
";

fn cell(runtime: &str, clients: u32, pattern: Pattern) -> Cell {
    let file =
        MatrixFile::parse(Path::new("seed-test.yaml"), MATRIX).expect("the test matrix parses");
    file.cells()
        .into_iter()
        .find(|c| {
            c.runtime.name.as_str() == runtime && c.clients == clients && c.pattern == pattern
        })
        .expect("the cell exists")
}

fn spec_of(cell: &Cell) -> KubernetesRuntime {
    match &cell.runtime.kind {
        RuntimeKind::Kubernetes(spec) => spec.clone(),
        other => panic!("not a kubernetes runtime: {other:?}"),
    }
}

const NODES: [&str; 2] = ["worker-1", "worker-2"];

/// A cell repetition's namespace lifetime for the manifest tests (an hour).
const LIFETIME: Duration = Duration::from_secs(3600);

fn nodes() -> Vec<String> {
    NODES.iter().map(|n| (*n).to_owned()).collect()
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serializes")
}

// ---------------------------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------------------------

/// A pod with the fields that differ between clients replaced, to show all 64 are the same otherwise.
fn normalized(pod: &Value) -> Value {
    let mut p = pod.clone();
    p["metadata"]["name"] = json!("<name>");
    p["metadata"]["labels"]["iogate/client"] = json!("<k>");
    p["metadata"]["labels"]["iogate/node"] = json!("<node>");
    p["spec"]["nodeName"] = json!("<node>");
    p["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] = json!("<dir>");
    p["spec"]["containers"][0]["volumeMounts"][0]["subPath"] = json!("<dir>");
    // The guest probe's argument: the client's directory as the pod sees it.
    p["spec"]["containers"][0]["args"][0] = json!("<dir>");
    p
}

#[test]
fn kata_c64_server_pods_spread_32_and_32() {
    let cell = cell("kata", 64, Pattern::Randread);
    assert_eq!(cell.placement, vec![32, 32]);
    let m = kubernetes::manifests(&spec_of(&cell), &cell, 1, "0123abcd", &nodes(), LIFETIME)
        .expect("manifests");
    assert_eq!(m.servers.len(), 64);
    let pods: Vec<Value> = m.servers.iter().map(to_json).collect();
    insta::assert_json_snapshot!("kata_c64_server_pod_0", pods[0]);

    // Every pod is pod 0 but for its name, client index, node and directory.
    let first = normalized(&pods[0]);
    for p in &pods {
        assert_eq!(
            normalized(p),
            first,
            "pod {} differs beyond name/node/dir",
            p["metadata"]["name"]
        );
        // The guest probe reads the mount of the very directory the server measures in.
        let container = &p["spec"]["containers"][0];
        assert_eq!(
            container["args"][0],
            container["volumeMounts"][0]["mountPath"]
        );
    }
    // The placement table: node → count, client range, ports, directories.
    let mut table = Vec::new();
    for node in NODES {
        let on: Vec<&Value> = pods
            .iter()
            .filter(|p| p["spec"]["nodeName"] == node)
            .collect();
        let clients: Vec<u64> = on
            .iter()
            .map(|p| {
                p["metadata"]["labels"]["iogate/client"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        let mut ports: Vec<u64> = on
            .iter()
            .map(|p| {
                p["spec"]["containers"][0]["ports"][0]["containerPort"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        ports.dedup();
        table.push(json!({
            "node": node,
            "pods": on.len(),
            "clients": format!("{}..={}", clients.first().unwrap(), clients.last().unwrap()),
            "ports": ports,
            "first_dir": on[0]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"],
            "last_dir": on[on.len() - 1]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"],
        }));
    }
    insta::assert_json_snapshot!("kata_c64_placement", table);
}

#[test]
fn kata_c64_namespace_policy_and_job_files() {
    let cell = cell("kata", 64, Pattern::Randread);
    let m = kubernetes::manifests(&spec_of(&cell), &cell, 2, "0123abcd", &nodes(), LIFETIME)
        .expect("manifests");
    insta::assert_json_snapshot!(
        "kata_c64_namespace_and_policy",
        json!({ "namespace": to_json(&m.namespace), "networkPolicy": to_json(&m.network_policy) })
    );
    let cm = to_json(&m.config_map);
    let data = cm["data"].as_object().expect("data");
    assert_eq!(
        data.len(),
        2 * 64,
        "a measured and a layout job file per client"
    );
    let compact = json!({
        "metadata": cm["metadata"],
        "files": data.len(),
        "client0.fio": data["client0.fio"],
        "client63.fio": data["client63.fio"],
        "layout0.fio": data["layout0.fio"],
    });
    insta::assert_json_snapshot!("kata_c64_config_map", compact);
}

#[test]
fn kata_c64_client_job_drives_every_server() {
    let cell = cell("kata", 64, Pattern::Randread);
    let servers: Vec<ServerEndpoint> = (0..64u32)
        .map(|k| {
            let node = (k / 32) as usize;
            ServerEndpoint {
                client: k,
                pod: format!("fio-server-{k}"),
                node: NODES[node].into(),
                ip: format!("10.244.{}.{}", node + 1, 10 + k % 32),
                port: kubernetes::SERVER_PORT,
            }
        })
        .collect();
    let job = kubernetes::client_job(
        &spec_of(&cell),
        &cell,
        "0123abcd",
        &servers,
        Duration::from_secs(600),
    )
    .expect("job");
    let job = to_json(&job);
    let args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    assert_eq!(args.len(), 2 + 2 * 64);
    assert_eq!(args[128], "--client=ip:10.244.2.41,8765");
    assert_eq!(args[129], "/jobs/client63.fio");
    insta::assert_json_snapshot!("kata_c64_client_job", job);

    // A named client node pins the client there instead of keeping it off the workers.
    let spec = KubernetesRuntime {
        client_node: Some("client-1".into()),
        ..spec_of(&cell)
    };
    let pinned =
        kubernetes::client_job(&spec, &cell, "0123abcd", &servers, Duration::from_secs(600))
            .expect("job");
    let pod = &to_json(&pinned)["spec"]["template"]["spec"];
    assert_eq!(pod["nodeName"], "client-1");
    assert!(pod.get("affinity").is_none(), "{pod}");
}

#[test]
fn bare_metal_reference_uses_host_network_and_distinct_ports() {
    let cell = cell("bare", 8, Pattern::Write);
    let m = kubernetes::manifests(&spec_of(&cell), &cell, 1, "0123abcd", &nodes(), LIFETIME)
        .expect("manifests");
    assert!(
        m.network_policy.is_none(),
        "NetworkPolicies do not apply to hostNetwork pods"
    );
    assert_eq!(
        to_json(&m.namespace)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged",
        "hostNetwork pods need the privileged Pod Security level"
    );
    let table: Vec<Value> = m
        .servers
        .iter()
        .map(|p| {
            let p = to_json(p);
            json!({
                "pod": p["metadata"]["name"],
                "node": p["spec"]["nodeName"],
                "hostNetwork": p["spec"]["hostNetwork"],
                "runtimeClassName": p["spec"]["runtimeClassName"],
                "args": p["spec"]["containers"][0]["args"],
                "port": p["spec"]["containers"][0]["ports"][0]["containerPort"],
                "probe": p["spec"]["containers"][0]["startupProbe"]["tcpSocket"]["port"],
            })
        })
        .collect();
    insta::assert_json_snapshot!("bare_c8_ports", table);
}

#[test]
fn namespace_names_are_dns_labels() {
    let cell = cell("kata", 64, Pattern::Randwrite);
    let name = kubernetes::namespace_name(&cell, "0123abcd");
    assert_eq!(name, "iogate-kata-c64-randwrite-0123abcd");
    assert!(name.len() <= 63);
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    );
}

#[test]
fn rbac_yaml_grants_every_checked_permission() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/rbac.yaml");
    let text = std::fs::read_to_string(&path).expect("deploy/rbac.yaml");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("rbac.yaml parses");
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == "iogate-runner")
        .expect("ClusterRole iogate-runner");
    let rules = role["rules"].as_array().expect("rules");
    let grants = |p: &kubernetes::Permission| {
        let resource = if p.subresource.is_empty() {
            p.resource.to_owned()
        } else {
            format!("{}/{}", p.resource, p.subresource)
        };
        rules.iter().any(|r| {
            let has =
                |key: &str, v: &str| r[key].as_array().is_some_and(|a| a.iter().any(|x| x == v));
            has("apiGroups", p.group) && has("resources", &resource) && has("verbs", p.verb)
        })
    };
    let all_rules: usize = rules
        .iter()
        .map(|r| r["verbs"].as_array().map_or(0, Vec::len))
        .sum();
    for spec in [
        spec_of(&cell("kata", 1, Pattern::Read)),
        spec_of(&cell("bare", 1, Pattern::Read)),
    ] {
        for p in kubernetes::required_permissions(&spec) {
            assert!(grants(&p), "deploy/rbac.yaml does not grant {p}");
        }
    }
    // Nothing beyond what preflight checks (least privilege): one verb per checked permission.
    let checked = kubernetes::required_permissions(&spec_of(&cell("kata", 1, Pattern::Read))).len();
    assert_eq!(
        all_rules, checked,
        "the ClusterRole grants verbs preflight does not check"
    );
    let rules_text = serde_json::to_string(rules).unwrap();
    assert!(
        !rules_text.contains("secrets") && !rules_text.contains('*'),
        "no secrets, no wildcards: {rules_text}"
    );
    // The optional permissions, in a role of their own an admin may leave out, bound to the
    // same ServiceAccount.
    let results = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == "iogate-runner-results")
        .expect("ClusterRole iogate-runner-results");
    assert_eq!(
        results["rules"],
        json!([{ "apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get"] }])
    );
    assert_eq!(
        kubernetes::optional_permissions()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["get pods/proxy"]
    );
    let binding = docs
        .iter()
        .find(|d| {
            d["kind"] == "ClusterRoleBinding" && d["roleRef"]["name"] == "iogate-runner-results"
        })
        .expect("a binding of iogate-runner-results");
    assert_eq!(binding["subjects"][0]["name"], "iogate-runner");
}

// ---------------------------------------------------------------------------------------------
// Mock API server
// ---------------------------------------------------------------------------------------------

/// One request the mock saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    body: Value,
}

/// How the mock answers a step.
#[derive(Clone)]
enum Reply {
    /// A JSON body with a status code.
    Json(u16, Value),
    /// A watch: JSON lines, then the body ends.
    Lines(Vec<Value>),
    /// A text body (pod logs).
    Text(String),
    /// Never answered (an open watch).
    Hang,
}

type Responder = Arc<dyn Fn(&Seen, &[Seen]) -> Reply + Send + Sync>;

/// One expected request: method, path (`*` matches one segment), optional query fragment, and the reply.
#[derive(Clone)]
struct Step {
    method: &'static str,
    path: String,
    query: Option<String>,
    respond: Responder,
    /// Answers every consecutive request it matches (a poll), not just one.
    repeats: bool,
}

impl Step {
    fn matches(&self, s: &Seen) -> bool {
        let want: Vec<&str> = self.path.split('/').collect();
        let got: Vec<&str> = s.path.split('/').collect();
        self.method == s.method
            && want.len() == got.len()
            && want.iter().zip(&got).all(|(w, g)| *w == "*" || w == g)
            && self
                .query
                .as_ref()
                .is_none_or(|q| urldecode(&s.query).contains(q.as_str()))
    }

    fn with_query(mut self, q: &str) -> Step {
        self.query = Some(q.to_owned());
        self
    }

    fn repeating(mut self) -> Step {
        self.repeats = true;
        self
    }
}

fn urldecode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 3 <= bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (hex, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn step(method: &'static str, path: &str, reply: Reply) -> Step {
    Step {
        method,
        path: path.to_owned(),
        query: None,
        respond: Arc::new(move |_, _| reply.clone()),
        repeats: false,
    }
}

fn step_with(
    method: &'static str,
    path: &str,
    f: impl Fn(&Seen, &[Seen]) -> Reply + Send + Sync + 'static,
) -> Step {
    Step {
        method,
        path: path.to_owned(),
        query: None,
        respond: Arc::new(f),
        repeats: false,
    }
}

/// A create: answers 201 with the posted object plus server-set metadata.
fn echo(path: &str) -> Step {
    step_with("POST", path, |s, _| {
        let mut obj = s.body.clone();
        obj["metadata"]["uid"] = json!(format!(
            "uid-{}",
            obj["metadata"]["name"].as_str().unwrap_or("x")
        ));
        obj["metadata"]["resourceVersion"] = json!("1");
        Reply::Json(201, obj)
    })
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Status", "metadata": {},
        "status": "Failure", "reason": reason, "message": message, "code": code,
    })
}

fn list(kind: &str, api_version: &str, items: Vec<Value>) -> Value {
    json!({ "apiVersion": api_version, "kind": kind, "metadata": { "resourceVersion": "100" }, "items": items })
}

/// The scripted API server: a runtime serving one tower-test mock, recording every request.
struct MockApi {
    rt: tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<(Vec<Seen>, Vec<String>)>,
}

fn mock(steps: Vec<Step>) -> (kube::Client, MockApi) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = {
        let _enter = rt.enter();
        kube::Client::new(svc, "default")
    };
    let task = rt.spawn(async move {
        let mut steps = steps.into_iter().peekable();
        // A repeating step that has answered, kept while requests still match it.
        let mut polled: Option<Step> = None;
        let (mut seen, mut errors, mut open) = (Vec::new(), Vec::new(), Vec::new());
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap_or_default();
            let s = Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().unwrap_or_default().to_owned(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            };
            let poll_again = polled.as_ref().is_some_and(|p| p.matches(&s))
                && !steps.peek().is_some_and(|next| next.matches(&s));
            let reply = if poll_again {
                (polled.as_ref().expect("checked").respond)(&s, &seen)
            } else {
                polled = None;
                match steps.next() {
                    Some(step) if step.matches(&s) => {
                        let reply = (step.respond)(&s, &seen);
                        polled = step.repeats.then_some(step);
                        reply
                    }
                    Some(step) => {
                        errors.push(format!(
                            "expected {} {} (query ~ {:?}), got {} {}?{}",
                            step.method,
                            step.path,
                            step.query,
                            s.method,
                            s.path,
                            urldecode(&s.query)
                        ));
                        Reply::Json(
                            500,
                            status(500, "InternalError", "mock: unexpected request"),
                        )
                    }
                    None => {
                        errors.push(format!(
                            "unexpected request after the script: {} {}?{}",
                            s.method, s.path, s.query
                        ));
                        Reply::Json(500, status(500, "InternalError", "mock: script finished"))
                    }
                }
            };
            seen.push(s);
            let response = match reply {
                Reply::Hang => {
                    open.push(send);
                    continue;
                }
                Reply::Json(code, v) => Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&v).unwrap())),
                Reply::Lines(events) => {
                    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
                    Response::builder()
                        .status(200)
                        .body(Body::from(text.into_bytes()))
                }
                Reply::Text(t) => Response::builder()
                    .status(200)
                    .header("content-type", "text/plain")
                    .body(Body::from(t.into_bytes())),
            };
            send.send_response(response.unwrap());
        }
        let rest: Vec<String> = steps.map(|s| format!("{} {}", s.method, s.path)).collect();
        if !rest.is_empty() {
            errors.push(format!(
                "script not finished; still expected: {}",
                rest.join(", ")
            ));
        }
        drop(open);
        (seen, errors)
    });
    (client, MockApi { rt, task })
}

impl MockApi {
    /// Drops the fixture (and with it the client), then returns every request; fails on script errors.
    fn finish(self, fixture: KubernetesFixture) -> Vec<Seen> {
        drop(fixture);
        let (seen, errors) = self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(20), self.task).await })
            .expect("the mock server ends once the client is gone")
            .expect("the mock server task");
        assert!(errors.is_empty(), "mock API server: {errors:#?}");
        seen
    }
}

fn short_options() -> KubernetesOptions {
    KubernetesOptions {
        ready_timeout: Duration::from_secs(1),
        layout_timeout: Some(Duration::from_secs(5)),
        job_timeout: Some(Duration::from_secs(5)),
        cleanup_timeout: Duration::from_secs(5),
        stuck_grace: Duration::ZERO,
        poll: Duration::from_millis(10),
    }
}

// ---------------------------------------------------------------------------------------------
// Scripted API objects
// ---------------------------------------------------------------------------------------------

fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.1", "gitCommit": "abc", "gitTreeState": "clean",
        "buildDate": "2025-05-15T00:00:00Z", "goVersion": "go1.24.2", "compiler": "gc", "platform": "linux/amd64",
    })
}

fn kata_runtime_class() -> Value {
    json!({
        "apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
        "metadata": { "name": "kata-qemu" },
        "handler": "kata-qemu",
        "overhead": { "podFixed": { "cpu": "250m", "memory": "160Mi" } },
        "scheduling": { "nodeSelector": { "katacontainers.io/kata-runtime": "true" } },
    })
}

fn node(name: &str, ready: bool, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": { "name": name, "labels": labels },
        "spec": {},
        "status": {
            "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }],
            "nodeInfo": {
                "architecture": "amd64", "bootID": "b", "containerRuntimeVersion": "containerd://1.7.27",
                "kernelVersion": "6.1.0-37-amd64", "kubeProxyVersion": "", "kubeletVersion": "v1.33.1",
                "machineID": "m", "operatingSystem": "linux", "osImage": "Debian GNU/Linux 12", "systemUUID": "u",
            },
            // As `kind load docker-image iogate-fio:latest` leaves it.
            "images": [{ "names": ["docker.io/library/iogate-fio:latest"], "sizeBytes": 90000000 }],
        },
    })
}

fn cluster_nodes() -> Value {
    let kata = json!({ "katacontainers.io/kata-runtime": "true", "iogate/worker": "true" });
    list(
        "NodeList",
        "v1",
        vec![
            node(
                "control-1",
                true,
                json!({ "node-role.kubernetes.io/control-plane": "" }),
            ),
            node("worker-1", true, kata.clone()),
            node("worker-2", true, kata),
        ],
    )
}

/// version → one SelfSubjectAccessReview per permission (all allowed) → RuntimeClass → nodes.
fn preflight_steps(spec: &KubernetesRuntime) -> Vec<Step> {
    let mut steps = vec![step("GET", "/version", Reply::Json(200, version()))];
    steps.extend(access_reviews(spec, |_| false));
    if spec.runtime_class.is_some() {
        steps.push(step(
            "GET",
            "/apis/node.k8s.io/v1/runtimeclasses/kata-qemu",
            Reply::Json(200, kata_runtime_class()),
        ));
    }
    steps.push(step(
        "GET",
        "/api/v1/nodes",
        Reply::Json(200, cluster_nodes()),
    ));
    steps
}

/// The pod `name` as it was created, with a status.
fn created_pod(seen: &[Seen], name: &str) -> Value {
    seen.iter()
        .rev()
        .find(|s| {
            s.method == "POST" && s.path.ends_with("/pods") && s.body["metadata"]["name"] == name
        })
        .map(|s| s.body.clone())
        .unwrap_or_else(|| panic!("pod {name} was never created"))
}

fn with_status(mut pod: Value, status: Value) -> Value {
    pod["metadata"]["resourceVersion"] = json!("101");
    pod["metadata"]["uid"] = json!("uid-pod");
    pod["status"] = status;
    pod
}

fn ready_status(k: u32) -> Value {
    json!({
        "phase": "Running",
        "podIP": format!("10.244.{}.{}", 1 + k % 2, 10 + k),
        "conditions": [{ "type": "Ready", "status": "True" }],
        "containerStatuses": [{
            "name": "fio", "image": "iogate-fio:latest", "imageID": "", "ready": true, "restartCount": 0,
            "started": true, "state": { "running": {} },
        }],
    })
}

fn creating_status() -> Value {
    json!({
        "phase": "Pending",
        "conditions": [
            { "type": "PodScheduled", "status": "True" },
            { "type": "Ready", "status": "False", "reason": "ContainersNotReady",
              "message": "containers with unready status: [fio]" },
        ],
        "containerStatuses": [{
            "name": "fio", "image": "iogate-fio:latest", "imageID": "", "ready": false, "restartCount": 0,
            "state": { "waiting": { "reason": "ContainerCreating" } },
        }],
    })
}

/// `await_condition` on pod `fio-server-<k>`: a list filtered by name, answered with the pod in `status`.
fn pod_list_step(k: u32, status: fn(u32) -> Value) -> Step {
    let name = format!("fio-server-{k}");
    step_with("GET", "/api/v1/namespaces/*/pods", move |_, seen| {
        Reply::Json(
            200,
            list(
                "PodList",
                "v1",
                vec![with_status(created_pod(seen, &name), status(k))],
            ),
        )
    })
    .with_query(&format!("metadata.name=fio-server-{k}"))
}

/// The check that no earlier cell's namespace is still terminating (none is).
fn none_terminating_step() -> Step {
    step(
        "GET",
        "/api/v1/namespaces",
        Reply::Json(200, list("NamespaceList", "v1", vec![])),
    )
    .with_query("labelSelector=app.kubernetes.io/managed-by=iogate")
}

/// No namespace terminating, then namespace, NetworkPolicy and ConfigMap.
fn namespace_steps() -> Vec<Step> {
    vec![
        none_terminating_step(),
        echo("/api/v1/namespaces"),
        echo("/apis/networking.k8s.io/v1/namespaces/*/networkpolicies"),
        echo("/api/v1/namespaces/*/configmaps"),
    ]
}

/// A server-side dry-run create of a pod (the admission check before anything waits).
fn dry_run_pod_step() -> Step {
    echo("/api/v1/namespaces/*/pods").with_query("dryRun=All")
}

fn is_dry_run(s: &Seen) -> bool {
    urldecode(&s.query).contains("dryRun=All")
}

/// A server-side dry-run of a pod that admission rejects with 403 and `message`.
fn dry_run_rejected(message: &str) -> Step {
    step(
        "POST",
        "/api/v1/namespaces/*/pods",
        Reply::Json(403, status(403, "Forbidden", message)),
    )
    .with_query("dryRun=All")
}

/// Runs repetition 1 of `cell` against the scripted API; returns the error it must fail with and
/// every request seen. Panics if the cell succeeds.
fn run_failing(cell: &Cell, steps: Vec<Step>, name: &str) -> (Error, Vec<Seen>) {
    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec_of(cell), client, short_options());
    fixture.preflight().expect("preflight");
    let run_dir = temp_dir(name);
    let err = fixture
        .run(cell, 1, &cell_dir(&run_dir, cell))
        .expect_err("the cell fails");
    std::fs::remove_dir_all(run_dir).ok();
    (err, api.finish(fixture))
}

/// No pod was created for real (dry-runs aside).
fn assert_no_pod_created(seen: &[Seen]) {
    assert!(
        !seen
            .iter()
            .any(|s| s.method == "POST" && s.path.ends_with("/pods") && !is_dry_run(s)),
        "a rejected dry-run stops the cell before any pod is made"
    );
}

/// [`namespace_steps`], the admission dry-runs of the first server pod and the client's pod, and
/// `clients` server pods.
fn create_steps(clients: u32) -> Vec<Step> {
    let mut steps = namespace_steps();
    steps.extend([dry_run_pod_step(), dry_run_pod_step()]);
    for _ in 0..clients {
        steps.push(echo("/api/v1/namespaces/*/pods"));
    }
    steps
}

/// DELETE of the namespace, then the wait until it is gone (a list that no longer has it).
fn delete_steps() -> Vec<Step> {
    vec![
        step_with("DELETE", "/api/v1/namespaces/*", |s, _| {
            let name = s.path.rsplit('/').next().unwrap_or_default().to_owned();
            Reply::Json(
                200,
                json!({
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": { "name": name, "uid": "uid-ns", "deletionTimestamp": "2025-06-01T00:00:00Z" },
                    "status": { "phase": "Terminating" },
                }),
            )
        }),
        step(
            "GET",
            "/api/v1/namespaces",
            Reply::Json(200, list("NamespaceList", "v1", vec![])),
        )
        .with_query("metadata.name=iogate-"),
    ]
}

/// A poll of the client Job, answered with the Job as created and `conditions`.
fn job_status_step(conditions: Value) -> Step {
    job_status_step_of("fio-client", conditions)
}

/// A poll of Job `name`, answered with the Job as created and `conditions`.
fn job_status_step_of(name: &'static str, conditions: Value) -> Step {
    step_with(
        "GET",
        &format!("/apis/batch/v1/namespaces/*/jobs/{name}"),
        move |_, seen| {
            let mut job = seen
                .iter()
                .find(|s| {
                    s.method == "POST"
                        && s.path.ends_with("/jobs")
                        && s.body["metadata"]["name"] == name
                })
                .expect("the Job was created")
                .body
                .clone();
            job["metadata"]["resourceVersion"] = json!("102");
            job["status"] = json!({ "conditions": conditions });
            Reply::Json(200, job)
        },
    )
}

fn client_pod_step(phase: &str, state: Value) -> Step {
    job_pod_step("client", "fio-client-x7k2p", phase, state)
}

/// The pod list of the Job whose pods carry `component`: one pod, `name`, in `phase` and `state`.
fn job_pod_step(component: &str, name: &str, phase: &str, state: Value) -> Step {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "creationTimestamp": "2025-06-01T00:00:00Z" },
        "spec": { "containers": [{ "name": "fio", "image": "iogate-fio:latest" }], "nodeName": "worker-1" },
        "status": {
            "phase": phase,
            "containerStatuses": [{
                "name": "fio", "image": "iogate-fio:latest", "imageID": "", "ready": false, "restartCount": 0,
                "state": state,
            }],
        },
    });
    step(
        "GET",
        "/api/v1/namespaces/*/pods",
        Reply::Json(200, list("PodList", "v1", vec![pod])),
    )
    .with_query(&format!("app.kubernetes.io/component={component}"))
}

/// The layout Job is created and completes.
fn layout_completes() -> Vec<Step> {
    vec![
        echo("/apis/batch/v1/namespaces/*/jobs"),
        job_status_step_of(
            "fio-layout",
            json!([{ "type": "Complete", "status": "True" }]),
        ),
    ]
}

/// The client pod's log when fio's output was `output`: a message on stderr, then the output
/// gzip-compressed and base64-encoded in 76-column lines between the markers, as busybox prints it.
fn client_pod_log(output: &str) -> String {
    use base64::Engine as _;
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(output.as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "fio: note: a message on stderr\niogate-output gzip+base64 bytes={}\n{}\niogate-output end\n",
        output.len(),
        lines.join("\n")
    )
}

/// What server pod 0 logs first: the guest, as `SERVER_SCRIPT` prints it inside a Kata VM.
const GUEST_LOG: &str = "iogate-guest kernel 6.1.62\niogate-guest cpus 1\n\
    iogate-guest memory MemTotal:        2014512 kB\n\
    iogate-guest mount kataShared /data/kata/c8/client0 virtiofs rw,relatime 0 0\n";

/// The encoded block the client pod serves (and prints after fio's messages) for fio output
/// `output`.
fn served_output(output: &str) -> String {
    let log = client_pod_log(output);
    log[log.find("iogate-output").unwrap()..].to_owned()
}

/// How the measured client's output comes back in a scripted run.
enum Output {
    /// The pod turns Ready and the API server's proxy hands over what it serves.
    Served(String),
    /// The pod turns Ready, but the API server refuses `get pods/proxy`.
    ProxyForbidden,
    /// The Job completes without the pod ever being Ready (an image without `httpd`).
    NotServed,
}

/// The layout Job completes, then the client Job is created; fio's output comes back as the pod
/// serves it, and its pod's log tells fio's messages and prints the output too; server pod 0's
/// log tells its guest; then the namespace goes.
fn client_completes_with(output: &str) -> Vec<Step> {
    client_runs(
        &client_pod_log(output),
        GUEST_LOG,
        Output::Served(served_output(output)),
    )
}

/// A `sync` pod is created on each worker, and they all succeed.
fn workers_settle() -> Vec<Step> {
    vec![
        echo("/api/v1/namespaces/*/pods").repeating(),
        step_with("GET", "/api/v1/namespaces/*/pods", |_, seen| {
            let settled: Vec<Value> = seen
                .iter()
                .filter(|s| {
                    s.method == "POST"
                        && s.body["metadata"]["labels"]["app.kubernetes.io/component"] == "settle"
                })
                .map(|s| with_status(s.body.clone(), json!({ "phase": "Succeeded" })))
                .collect();
            Reply::Json(200, list("PodList", "v1", settled))
        })
        .with_query("app.kubernetes.io/component=settle"),
    ]
}

/// The client Job completes without serving, its pod's log being `log` as it is: the output
/// comes from the log.
fn client_completes_with_log(log: &str) -> Vec<Step> {
    client_runs(log, GUEST_LOG, Output::NotServed)
}

/// The path of the API server's proxy to the client pod's output.
const PROXY_PATH: &str = "/api/v1/namespaces/*/pods/fio-client-x7k2p:8080/proxy/output";

/// The measured run with the client pod's log `log`, server pod 0's log starting with `guest`,
/// and the output coming back as `output` says.
fn client_runs(log: &str, guest: &str, output: Output) -> Vec<Step> {
    let mut steps = layout_completes();
    steps.extend(workers_settle());
    steps.push(echo("/apis/batch/v1/namespaces/*/jobs"));
    let serving = match output {
        Output::NotServed => {
            steps.push(job_status_step(
                json!([{ "type": "Complete", "status": "True" }]),
            ));
            steps.push(client_pod_step(
                "Succeeded",
                json!({ "terminated": { "exitCode": 0, "reason": "Completed" } }),
            ));
            None
        }
        Output::Served(text) => Some(Reply::Text(text)),
        Output::ProxyForbidden => Some(Reply::Json(
            403,
            status(
                403,
                "Forbidden",
                "pods \"fio-client-x7k2p\" is forbidden: User \"runner\" cannot get resource \"pods/proxy\" in API group \"\"",
            ),
        )),
    };
    if let Some(reply) = serving {
        // Still running: fio has ended and the pod serves its output, so it is Ready.
        steps.push(job_status_step(json!([])));
        steps.push(serving_client_pod_step());
        steps.push(step("GET", PROXY_PATH, reply));
        steps.push(serving_client_pod_step());
    }
    steps.extend([
        step(
            "GET",
            "/api/v1/namespaces/*/pods/fio-client-x7k2p/log",
            Reply::Text(log.to_owned()),
        )
        .with_query("container=fio"),
        step(
            "GET",
            "/api/v1/namespaces/*/pods/fio-server-0/log",
            Reply::Text(format!(
                "{guest}fio: server listening on 10.244.1.10,8765\n"
            )),
        )
        .with_query("limitBytes=65536"),
    ]);
    steps.extend(delete_steps());
    steps
}

/// The client pod running and Ready: it serves its output.
fn serving_client_pod_step() -> Step {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "fio-client-x7k2p", "creationTimestamp": "2025-06-01T00:00:00Z" },
        "spec": { "containers": [{ "name": "fio", "image": "iogate-fio:latest" }], "nodeName": "worker-1" },
        "status": {
            "phase": "Running",
            "conditions": [{ "type": "Ready", "status": "True" }],
            "containerStatuses": [{
                "name": "fio", "image": "iogate-fio:latest", "imageID": "", "ready": true, "restartCount": 0,
                "state": { "running": {} },
            }],
        },
    });
    step(
        "GET",
        "/api/v1/namespaces/*/pods",
        Reply::Json(200, list("PodList", "v1", vec![pod])),
    )
    .with_query("app.kubernetes.io/component=client")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iogate-k8s-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cell_dir(run_dir: &Path, cell: &Cell) -> CellDir {
    CellDir {
        run_dir: run_dir.to_owned(),
        rel: PathBuf::from("cells").join(cell.slug()),
    }
}

fn created_namespace(seen: &[Seen]) -> String {
    seen.iter()
        .find(|s| s.method == "POST" && s.path == "/api/v1/namespaces")
        .map(|s| s.body["metadata"]["name"].as_str().unwrap().to_owned())
        .expect("a namespace was created")
}

fn assert_namespace_deleted(seen: &[Seen]) {
    let ns = created_namespace(seen);
    assert!(ns.starts_with("iogate-kata-c"), "{ns}");
    assert!(
        seen.iter()
            .any(|s| s.method == "DELETE" && s.path == format!("/api/v1/namespaces/{ns}")),
        "namespace {ns} was not deleted"
    );
}

// ---------------------------------------------------------------------------------------------
// Flows against the mock
// ---------------------------------------------------------------------------------------------

#[test]
fn happy_path_returns_and_writes_the_client_log_then_deletes_the_namespace() {
    let cell = cell("kata", 8, Pattern::Read);
    let spec = spec_of(&cell);
    let log = "<10.244.1.10> fio-3.33\nhostname=fio-server-0, be=0, 64-bit, os=Linux\n{\n  \"fio version\" : \"fio-3.33\",\n  \"client_stats\" : []\n}\n";
    let mut steps = preflight_steps(&spec);
    steps.extend(create_steps(8));
    // Pod 0 is still starting when first listed; a watch event makes it Ready. The others are Ready at once.
    steps.push(pod_list_step(0, |_| creating_status()));
    steps.push(
        step_with("GET", "/api/v1/namespaces/*/pods", |_, seen| {
            Reply::Lines(vec![json!({
                "type": "MODIFIED",
                "object": with_status(created_pod(seen, "fio-server-0"), ready_status(0)),
            })])
        })
        .with_query("watch=true"),
    );
    for k in 1..8 {
        steps.push(pod_list_step(k, ready_status));
    }
    steps.extend(client_completes_with(log));

    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec, client, short_options());
    let info = fixture.preflight().expect("preflight");
    let run_dir = temp_dir("happy");
    let dir = cell_dir(&run_dir, &cell);
    let out = fixture.run(&cell, 1, &dir).expect("run");
    let seen = api.finish(fixture);

    insta::assert_json_snapshot!("kata_runtime_info", info);
    // The namespace records how long it may live: readiness 1 s + layout 5 s + settling under
    // the layout's bound 5 s + measuring 5 s + stuck grace 0 + cleanup 5 s + a minute's slack
    // (short_options).
    let namespace = seen
        .iter()
        .find(|s| s.method == "POST" && s.path == "/api/v1/namespaces")
        .expect("a namespace was created");
    assert_eq!(
        namespace.body["metadata"]["annotations"]["iogate/lifetime-seconds"],
        "81"
    );
    assert_eq!(out.json, dir.rel_path("r1.json"));
    assert_eq!(
        std::fs::read_to_string(dir.path("r1.json")).unwrap(),
        log,
        "the raw client log, as read"
    );
    let placement = std::fs::read_to_string(dir.path("r1.kubernetes.log")).unwrap();
    assert!(
        placement.contains("0 fio-server-0 worker-1 10.244.1.10 8765"),
        "{placement}"
    );
    assert!(
        placement.contains("4 fio-server-4 worker-2 10.244.1.14 8765"),
        "{placement}"
    );
    assert_eq!(
        out.logs,
        vec![
            dir.rel_path("r1.kubernetes.log"),
            dir.rel_path("r1.client.log"),
            dir.rel_path("r1.client.output"),
        ]
    );
    // The output came from the pod, through the API server's proxy, once the pod was Ready
    // (serving it): the measured Job was not waited out.
    assert!(
        placement.contains("output: fetched from the client pod through the API server"),
        "{placement}"
    );
    assert!(
        seen.iter()
            .any(|s| s.method == "GET"
                && s.path.ends_with("/pods/fio-client-x7k2p:8080/proxy/output"))
    );
    let job = &seen
        .iter()
        .find(|s| s.method == "POST" && s.body["metadata"]["name"] == "fio-client")
        .expect("the client Job")
        .body;
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["readinessProbe"]["httpGet"],
        json!({ "path": "/output", "port": 8080 })
    );
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    // The guest server pod 0 printed: Kata's storage path and the VM's size, for provenance.
    let guest = out.guest.expect("the guest server pod 0 reported");
    assert_eq!(guest.seen_by, "fio-server-0 on worker-1");
    assert_eq!(guest.kernel.as_deref(), Some("6.1.62"));
    assert_eq!(guest.node_kernel.as_deref(), Some("6.1.0-37-amd64"));
    assert_eq!(guest.cpus, Some(1));
    assert_eq!(guest.memory_bytes, Some(2014512 * 1024));
    assert_eq!(guest.data_fs.as_deref(), Some("virtiofs"));
    assert_eq!(guest.data_options.as_deref(), Some("rw,relatime"));
    let job_file = std::fs::read_to_string(dir.path("client7.fio")).unwrap();
    assert!(
        job_file.contains("directory=/data/kata/c8/client7"),
        "{job_file}"
    );

    // The Job drives every server at the address its pod reported.
    let job = &seen
        .iter()
        .find(|s| {
            s.method == "POST"
                && s.path.ends_with("/jobs")
                && s.body["metadata"]["name"] == "fio-client"
        })
        .unwrap()
        .body;
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let command = container["command"].as_array().unwrap();
    assert_eq!(command[..2], [json!("sh"), json!("-c")]);
    assert!(
        command[2]
            .as_str()
            .unwrap()
            .starts_with("fio \"$@\" --output=/tmp/fio.json"),
        "{command:?}"
    );
    let args = container["args"].as_array().unwrap();
    assert_eq!(args[0], "--output-format=json+");
    assert_eq!(args[1], "--clocksource=clock_gettime");
    assert_eq!(args[2], "--client=ip:10.244.1.10,8765");
    assert_eq!(args[3], "/jobs/client0.fio");
    assert_eq!(args[17], "/jobs/client7.fio");
    // Before it, a layout Job ran the same servers with the layout job files (fio's setup phase
    // only), under its own deadline; the pods of each carry their own component label.
    let jobs: Vec<&Value> = seen
        .iter()
        .filter(|s| s.method == "POST" && s.path.ends_with("/jobs"))
        .map(|s| &s.body)
        .collect();
    assert_eq!(jobs.len(), 2);
    let layout = jobs[0];
    assert_eq!(layout["metadata"]["name"], "fio-layout");
    let layout_args = layout["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    assert_eq!(layout_args[..3], args[..3]);
    assert_eq!(layout_args[3], "/jobs/layout0.fio");
    assert_eq!(layout_args[17], "/jobs/layout7.fio");
    assert_eq!(
        layout["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"],
        "layout"
    );
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"],
        "client"
    );
    let config_map = &seen
        .iter()
        .find(|s| s.method == "POST" && s.path.ends_with("/configmaps"))
        .unwrap()
        .body;
    let layout0 = config_map["data"]["layout0.fio"].as_str().unwrap();
    let client0 = config_map["data"]["client0.fio"].as_str().unwrap();
    assert_eq!(layout0, format!("{client0}create_only=1\n"));
    // Before any pod was made, admission saw the first server pod and the client's pod (the
    // Job's template with placeholder addresses), as dry-runs.
    let dry_runs: Vec<&Value> = seen
        .iter()
        .filter(|s| s.method == "POST" && s.path.ends_with("/pods") && is_dry_run(s))
        .map(|s| &s.body)
        .collect();
    assert_eq!(dry_runs.len(), 2);
    assert_eq!(dry_runs[0]["metadata"]["name"], "fio-server-0");
    assert_eq!(
        dry_runs[1]["metadata"]["name"],
        "fio-client-admission-check"
    );
    assert_eq!(
        dry_runs[1]["spec"],
        job["spec"]["template"]["spec"]
            .as_object()
            .map(|spec| {
                let mut spec = Value::Object(spec.clone());
                let args = spec["containers"][0]["args"].as_array_mut().unwrap();
                let clients = args
                    .iter_mut()
                    .filter(|a| a.as_str().is_some_and(|a| a.starts_with("--client=")));
                for (k, arg) in clients.enumerate() {
                    *arg = json!(format!("--client=ip:192.0.2.{},8765", k + 1));
                }
                spec
            })
            .unwrap(),
        "the dry-run client pod is the Job's pod but for the servers' placeholder addresses"
    );
    let first_real = seen
        .iter()
        .position(|s| s.method == "POST" && s.path.ends_with("/pods") && !is_dry_run(s))
        .expect("server pods were created");
    let last_dry_run = seen
        .iter()
        .rposition(|s| s.method == "POST" && is_dry_run(s))
        .unwrap();
    assert!(last_dry_run < first_real, "dry-runs come first");
    // Between the layout and the measured Job, a `sync` pod on each worker, under the node's
    // own handler (no RuntimeClass: a Kata VM's sync would not reach the node), as nobody.
    let position = |pred: &dyn Fn(&Seen) -> bool| seen.iter().position(pred).unwrap();
    let settle: Vec<(usize, &Value)> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.method == "POST"
                && s.body["metadata"]["labels"]["app.kubernetes.io/component"] == "settle"
        })
        .map(|(i, s)| (i, &s.body))
        .collect();
    assert_eq!(settle.len(), 2, "one per worker");
    for ((i, pod), node) in settle.iter().zip(NODES) {
        assert_eq!(pod["spec"]["nodeName"], node);
        assert_eq!(pod["spec"].get("runtimeClassName"), None);
        assert_eq!(
            pod["spec"]["containers"][0]["command"],
            json!(["sh", "-c", "sync"])
        );
        assert_eq!(
            pod["spec"]["containers"][0]["securityContext"]["runAsNonRoot"],
            true
        );
        assert!(*i > position(&|s| s.body["metadata"]["name"] == "fio-layout"));
        assert!(*i < position(&|s| s.body["metadata"]["name"] == "fio-client"));
    }
    // Server pods: 4 + 4 over the two workers, under kata-qemu.
    let pods: Vec<&Value> = seen
        .iter()
        .filter(|s| {
            s.method == "POST"
                && s.path.ends_with("/pods")
                && !is_dry_run(s)
                && s.body["metadata"]["labels"]["app.kubernetes.io/component"] == "server"
        })
        .map(|s| &s.body)
        .collect();
    assert_eq!(pods.len(), 8);
    for (i, node) in NODES.iter().enumerate() {
        assert_eq!(
            pods.iter()
                .filter(|p| p["spec"]["nodeName"] == *node)
                .count(),
            4,
            "{node}"
        );
        assert_eq!(pods[i * 4]["spec"]["runtimeClassName"], "kata-qemu");
    }
    assert_namespace_deleted(&seen);
    std::fs::remove_dir_all(run_dir).ok();
}

/// The happy path with what a real client pod logs (fio 3.33 client mode, 1 server × 4 threads,
/// `<host>` lines before the json+): the raw file the fixture writes parses into every thread's
/// numbers, summed and merged as the session does.
#[test]
fn happy_path_with_a_real_client_log_parses_into_numbers() {
    let cell = cell("kata", 1, Pattern::Read);
    let spec = spec_of(&cell);
    let log = include_str!("fixtures/fio/client-log-1server-4threads.txt");
    let mut steps = preflight_steps(&spec);
    steps.extend(create_steps(1));
    steps.push(pod_list_step(0, ready_status));
    steps.extend(client_completes_with(log));
    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec, client, short_options());
    fixture.preflight().expect("preflight");
    let run_dir = temp_dir("reallog");
    let dir = cell_dir(&run_dir, &cell);
    let out = fixture.run(&cell, 1, &dir).expect("run");
    let seen = api.finish(fixture);
    assert_namespace_deleted(&seen);

    let output = iogate::fio::output::parse_file(&run_dir.join(&out.json)).expect("json+ parses");
    let m = iogate::run::Measurement::from_output(&cell, &output).expect("4 threads, no errors");
    // The same sums, read straight from the document.
    let json_start = log.find("\n{").expect("the json+ document") + 1;
    let doc: Value = serde_json::from_str(&log[json_start..]).expect("fio's JSON");
    let threads: Vec<&Value> = doc["client_stats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["jobname"] != "All clients")
        .collect();
    assert_eq!(threads.len(), 4);
    let bw: f64 = threads
        .iter()
        .map(|j| j["read"]["bw_bytes"].as_f64().unwrap())
        .sum();
    let ios: u64 = threads
        .iter()
        .map(|j| j["read"]["total_ios"].as_u64().unwrap())
        .sum();
    assert!(
        bw > 0.0 && (m.bw_bytes - bw).abs() < 1.0,
        "{} vs {bw}",
        m.bw_bytes
    );
    assert_eq!(m.ios, ios, "the merged histogram counts every I/O");
    let lat = iogate::run::Latency::of(&m.histogram).expect("percentiles");
    assert!(0 < lat.p50 && lat.p50 <= lat.p99, "{lat:?}");
    std::fs::remove_dir_all(run_dir).ok();
}

#[test]
fn missing_runtime_class_lists_the_ones_that_exist() {
    let cell = cell("kata", 8, Pattern::Read);
    let spec = spec_of(&cell);
    let mut steps: Vec<Step> = preflight_steps(&spec)
        .into_iter()
        .filter(|s| !s.path.contains("runtimeclasses") && s.path != "/api/v1/nodes")
        .collect();
    steps.push(step(
        "GET",
        "/apis/node.k8s.io/v1/runtimeclasses/kata-qemu",
        Reply::Json(
            404,
            status(
                404,
                "NotFound",
                "runtimeclasses.node.k8s.io \"kata-qemu\" not found",
            ),
        ),
    ));
    steps.push(step(
        "GET",
        "/apis/node.k8s.io/v1/runtimeclasses",
        Reply::Json(
            200,
            list(
                "RuntimeClassList",
                "node.k8s.io/v1",
                vec![
                    json!({ "apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": { "name": "gvisor" }, "handler": "runsc" }),
                    json!({ "apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": { "name": "kata-clh" }, "handler": "kata-clh" }),
                ],
            ),
        ),
    ));
    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec, client, short_options());
    let err = fixture.preflight().expect_err("no kata-qemu");
    // run() runs preflight first and fails the same way, creating nothing.
    let seen = api.finish(fixture);
    match &err {
        Error::Missing { what, how } => {
            assert!(what.contains("RuntimeClass `kata-qemu`"), "{what}");
            assert!(
                what.contains("gvisor (handler runsc), kata-clh (handler kata-clh)"),
                "{what}"
            );
            assert!(how.contains("kata-deploy"), "{how}");
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    assert!(
        !seen
            .iter()
            .any(|s| s.method == "POST" && s.path == "/api/v1/namespaces")
    );
}

#[test]
fn denied_permission_names_the_verb_and_the_rbac_file() {
    let cell = cell("kata", 8, Pattern::Read);
    let spec = spec_of(&cell);
    let mut steps = vec![step("GET", "/version", Reply::Json(200, version()))];
    steps.extend(access_reviews(&spec, |attrs| {
        attrs["resource"] == "pods" && (attrs["verb"] == "create" || attrs["subresource"] == "log")
    }));
    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec, client, short_options());
    let err = fixture.preflight().expect_err("denied");
    api.finish(fixture);
    let text = err.to_string();
    assert!(matches!(err, Error::Missing { .. }), "{text}");
    assert!(
        text.contains("create pods (no RBAC policy matched)"),
        "{text}"
    );
    assert!(text.contains("get pods/log"), "{text}");
    assert!(text.contains("deploy/rbac.yaml"), "{text}");
}

/// Without the optional `get pods/proxy` preflight passes, with a warning in the runtime's notes
/// that names the role to apply and what happens without it.
#[test]
fn a_denied_optional_permission_is_a_warning() {
    let cell = cell("kata", 8, Pattern::Read);
    let spec = spec_of(&cell);
    let mut steps = preflight_steps(&spec);
    steps.splice(
        1..1 + kubernetes::required_permissions(&spec).len() + 1,
        access_reviews(&spec, |attrs| attrs["subresource"] == "proxy"),
    );
    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec, client, short_options());
    let info = fixture
        .preflight()
        .expect("an optional permission does not stop a run");
    api.finish(fixture);
    let warning = info
        .notes
        .iter()
        .find(|n| n.contains("get pods/proxy"))
        .unwrap_or_else(|| panic!("{:#?}", info.notes));
    assert!(
        warning.starts_with("warning: may not get pods/proxy (no RBAC policy matched)")
            && warning.contains("client pod's log")
            && warning.contains("iogate-runner-results"),
        "{warning}"
    );
}

/// One SelfSubjectAccessReview per checked permission, required then optional, each denied when
/// `denied` says so of its resource attributes.
fn access_reviews(spec: &KubernetesRuntime, denied: fn(&Value) -> bool) -> Vec<Step> {
    let checked =
        kubernetes::required_permissions(spec).len() + kubernetes::optional_permissions().len();
    (0..checked)
        .map(|_| {
            step_with(
                "POST",
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                move |s, _| {
                    let mut review = s.body.clone();
                    review["status"] = if denied(&s.body["spec"]["resourceAttributes"]) {
                        json!({ "allowed": false, "reason": "no RBAC policy matched" })
                    } else {
                        json!({ "allowed": true })
                    };
                    Reply::Json(201, review)
                },
            )
        })
        .collect()
}

#[test]
fn pod_stuck_in_container_creating_times_out_with_its_events() {
    let cell = cell("kata", 8, Pattern::Randread);
    let spec = spec_of(&cell);
    let mut steps = preflight_steps(&spec);
    steps.extend(create_steps(8));
    steps.push(pod_list_step(0, ready_status));
    steps.push(pod_list_step(1, |_| creating_status()));
    steps.push(
        step_with("GET", "/api/v1/namespaces/*/pods", |_, seen| {
            Reply::Lines(vec![json!({
                "type": "MODIFIED",
                "object": with_status(created_pod(seen, "fio-server-1"), creating_status()),
            })])
        })
        .with_query("watch=true"),
    );
    // The watch ends; the watcher opens another, which stays open until the fixture gives up.
    steps.push(step("GET", "/api/v1/namespaces/*/pods", Reply::Hang).with_query("watch=true"));
    // Diagnostics: every server pod, then the namespace's events.
    steps.push(
        step_with("GET", "/api/v1/namespaces/*/pods", |_, seen| {
            let pods = (0..8)
                .map(|k| {
                    let status = if k == 0 {
                        ready_status(0)
                    } else {
                        creating_status()
                    };
                    with_status(created_pod(seen, &format!("fio-server-{k}")), status)
                })
                .collect();
            Reply::Json(200, list("PodList", "v1", pods))
        })
        .with_query("app.kubernetes.io/component=server"),
    );
    let event = |pod: &str, type_: &str, reason: &str, message: &str, count: i32| {
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": { "name": format!("{pod}.{reason}"), "namespace": "iogate" },
            "involvedObject": { "kind": "Pod", "name": pod },
            "type": type_, "reason": reason, "message": message, "count": count,
        })
    };
    steps.push(step(
        "GET",
        "/api/v1/namespaces/*/events",
        Reply::Json(
            200,
            list(
                "EventList",
                "v1",
                vec![
                    event("fio-server-0", "Normal", "Started", "Started container fio", 1),
                    event("fio-server-1", "Normal", "Scheduled", "Successfully assigned to worker-1", 1),
                    event(
                        "fio-server-1",
                        "Warning",
                        "FailedCreatePodSandBox",
                        "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to create containerd \
                         task: Could not access KVM kernel module: No such file or directory",
                        7,
                    ),
                ],
            ),
        ),
    ));
    steps.extend(delete_steps());

    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec, client, short_options());
    fixture.preflight().expect("preflight");
    let run_dir = temp_dir("stuck");
    let err = fixture
        .run(&cell, 1, &cell_dir(&run_dir, &cell))
        .expect_err("times out");
    let seen = api.finish(fixture);
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Fixture {
                fixture: "kubernetes",
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("not Ready within 1s (RuntimeClass kata-qemu, 8 pods on 2 nodes: 4 + 4)"),
        "{text}"
    );
    assert!(text.contains("7 of 8 server pods not Ready"), "{text}");
    assert!(
        text.contains("fio-server-1 on worker-1: phase Pending; Ready=False ContainersNotReady"),
        "{text}"
    );
    assert!(
        text.contains("container fio waiting: ContainerCreating"),
        "{text}"
    );
    assert!(
        text.contains(
            "pod/fio-server-1: Warning FailedCreatePodSandBox (x7): Failed to create pod sandbox"
        ),
        "{text}"
    );
    assert!(
        text.contains("Could not access KVM kernel module"),
        "{text}"
    );
    assert!(
        !text.contains("Started container fio"),
        "Normal events of Ready pods are left out: {text}"
    );
    assert!(text.contains("hint:"), "{text}");
    assert_namespace_deleted(&seen);
    assert!(!std::fs::exists(cell_dir(&run_dir, &cell).path("r1.json")).unwrap());
    std::fs::remove_dir_all(run_dir).ok();
}

#[test]
fn failed_client_job_reports_its_log_tail() {
    let cell = cell("kata", 1, Pattern::Write);
    let spec = spec_of(&cell);
    let mut steps = preflight_steps(&spec);
    steps.extend(create_steps(1));
    steps.push(pod_list_step(0, ready_status));
    steps.extend(layout_completes());
    steps.extend(workers_settle());
    steps.push(echo("/apis/batch/v1/namespaces/*/jobs"));
    steps.push(job_status_step(json!([{
        "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
    }])));
    steps.push(client_pod_step(
        "Failed",
        json!({ "terminated": { "exitCode": 1, "reason": "Error" } }),
    ));
    steps.push(
        step(
            "GET",
            "/api/v1/namespaces/*/pods/fio-client-x7k2p/log",
            Reply::Text("fio: connect: Connection refused\nfio: client: unable to connect to server 10.244.1.10,8765\n".into()),
        )
        .with_query("tailLines=40"),
    );
    steps.extend(delete_steps());

    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec, client, short_options());
    fixture.preflight().expect("preflight");
    let run_dir = temp_dir("jobfail");
    let err = fixture
        .run(&cell, 1, &cell_dir(&run_dir, &cell))
        .expect_err("the Job failed");
    let seen = api.finish(fixture);
    match &err {
        Error::Fio { message, tail } => {
            assert!(
                message.contains("failed: BackoffLimitExceeded"),
                "{message}"
            );
            assert!(
                message.contains("container fio terminated: Error (exit 1)"),
                "{message}"
            );
            assert!(
                tail.contains("unable to connect to server 10.244.1.10,8765"),
                "{tail}"
            );
        }
        other => panic!("expected Error::Fio, got {other:?}"),
    }
    assert_namespace_deleted(&seen);
    std::fs::remove_dir_all(run_dir).ok();
}

/// A cluster whose Pod Security policy rejects the server pods: the error says so (not RBAC), the
/// namespace carried the level the pods need, and it is deleted.
#[test]
fn pod_security_rejection_is_reported_as_such() {
    let cell = cell("kata", 1, Pattern::Read);
    let mut steps = preflight_steps(&spec_of(&cell));
    steps.extend(namespace_steps());
    steps.push(dry_run_rejected(
        "pods \"fio-server-0\" is forbidden: violates PodSecurity \"restricted:latest\": \
         hostPath volumes (volume \"data\")",
    ));
    steps.extend(delete_steps());
    let (err, seen) = run_failing(&cell, steps, "podsecurity");
    let text = err.to_string();
    assert!(
        text.contains("rejected by Pod Security admission") && !text.contains("rbac.yaml"),
        "{text}"
    );
    assert!(
        text.contains("admission dry-run of server pod fio-server-0"),
        "{text}"
    );
    assert_no_pod_created(&seen);
    let namespace = &seen
        .iter()
        .find(|s| s.method == "POST" && s.path == "/api/v1/namespaces")
        .expect("the namespace was created")
        .body;
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "privileged",
        "hostPath pods need the privileged level"
    );
    assert_namespace_deleted(&seen);
}

/// A ResourceQuota that leaves no room for the client's pod: the admission dry-run says so before
/// any server pod is made or waited for (without it, the Job's pod would never appear, after the
/// servers' wait), and the namespace is deleted.
#[test]
fn quota_rejecting_the_client_pod_fails_before_any_server_starts() {
    let cell = cell("kata", 8, Pattern::Read);
    let mut steps = preflight_steps(&spec_of(&cell));
    steps.extend(namespace_steps());
    steps.push(dry_run_pod_step());
    steps.push(dry_run_rejected(
        "pods \"fio-client-admission-check\" is forbidden: exceeded quota: compute, requested: \
         requests.cpu=100m, used: requests.cpu=4, limited: requests.cpu=4",
    ));
    steps.extend(delete_steps());
    let (err, seen) = run_failing(&cell, steps, "quota");
    let text = err.to_string();
    assert!(
        text.contains("admission dry-run of the client pod")
            && text.contains("rejected by a ResourceQuota")
            && !text.contains("rbac.yaml"),
        "{text}"
    );
    assert_no_pod_created(&seen);
    assert_namespace_deleted(&seen);
}

/// The client pod (of the first Job, the layout) cannot pull the fio image: the cell fails once the grace is over (zero
/// here), with the pod's state and the events, instead of waiting for the Job's deadline.
#[test]
fn client_pod_without_its_image_fails_the_cell_at_once() {
    let cell = cell("kata", 1, Pattern::Read);
    let spec = spec_of(&cell);
    let mut steps = preflight_steps(&spec);
    steps.extend(create_steps(1));
    steps.push(pod_list_step(0, ready_status));
    // The first Job, the layout, meets the missing image.
    steps.push(echo("/apis/batch/v1/namespaces/*/jobs"));
    steps.push(job_status_step_of("fio-layout", json!([])));
    steps.push(job_pod_step(
        "layout",
        "fio-layout-x7k2p",
        "Pending",
        json!({ "waiting": { "reason": "ImagePullBackOff",
                "message": "Back-off pulling image \"iogate-fio:latest\"" } }),
    ));
    steps.push(
        step(
            "GET",
            "/api/v1/namespaces/*/pods",
            Reply::Json(200, list("PodList", "v1", vec![])),
        )
        .with_query("app.kubernetes.io/component=server"),
    );
    steps.push(step(
        "GET",
        "/api/v1/namespaces/*/events",
        Reply::Json(
            200,
            list(
                "EventList",
                "v1",
                vec![json!({
                    "metadata": { "name": "e1", "namespace": "x" },
                    "involvedObject": { "kind": "Pod", "name": "fio-layout-x7k2p" },
                    "type": "Warning", "reason": "Failed",
                    "message": "Failed to pull image \"iogate-fio:latest\": not found",
                })],
            ),
        ),
    ));
    steps.extend(delete_steps());
    let (client, api) = mock(steps);
    let options = KubernetesOptions {
        job_timeout: Some(Duration::from_secs(3600)),
        ..short_options()
    };
    let mut fixture = KubernetesFixture::with_client(spec, client, options);
    fixture.preflight().expect("preflight");
    let run_dir = temp_dir("noimage");
    let started = std::time::Instant::now();
    let err = fixture
        .run(&cell, 1, &cell_dir(&run_dir, &cell))
        .expect_err("the client cannot start");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no waiting for the Job's deadline"
    );
    let seen = api.finish(fixture);
    let text = err.to_string();
    assert!(
        text.contains("cannot run: container fio ImagePullBackOff")
            && text.contains("Failed to pull image"),
        "{text}"
    );
    assert_namespace_deleted(&seen);
    std::fs::remove_dir_all(run_dir).ok();
}

/// An earlier cell's namespace still terminating past the cleanup timeout (polled for 0.3 s
/// here): the cell does not start, and says which namespace it waited for.
#[test]
fn a_cell_does_not_start_beside_a_terminating_namespace() {
    let cell = cell("kata", 1, Pattern::Read);
    let spec = spec_of(&cell);
    let mut steps = preflight_steps(&spec);
    steps.push(
        step(
            "GET",
            "/api/v1/namespaces",
            Reply::Json(
                200,
                list(
                    "NamespaceList",
                    "v1",
                    vec![json!({
                        "apiVersion": "v1", "kind": "Namespace",
                        "metadata": { "name": "iogate-kata-c64-read-deadbeef", "uid": "u1",
                                      "deletionTimestamp": "2025-06-01T00:00:00Z",
                                      "labels": { "app.kubernetes.io/managed-by": "iogate" } },
                        "status": { "phase": "Terminating" },
                    })],
                ),
            ),
        )
        .with_query("labelSelector=app.kubernetes.io/managed-by=iogate")
        .repeating(),
    );
    steps.extend(delete_steps());
    let (client, api) = mock(steps);
    let options = KubernetesOptions {
        cleanup_timeout: Duration::from_millis(300),
        ..short_options()
    };
    let mut fixture = KubernetesFixture::with_client(spec, client, options);
    fixture.preflight().expect("preflight");
    let run_dir = temp_dir("terminating");
    let err = fixture
        .run(&cell, 1, &cell_dir(&run_dir, &cell))
        .expect_err("an earlier namespace is still going");
    let seen = api.finish(fixture);
    let text = err.to_string();
    assert!(
        text.contains("iogate-kata-c64-read-deadbeef of earlier cells still terminating"),
        "{text}"
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.method == "POST" && s.path == "/api/v1/namespaces"),
        "no namespace was created"
    );
    std::fs::remove_dir_all(run_dir).ok();
}

/// The study's c64 Kata cell on workers too small for 32 pods each (requests 250m + Kata's 250m
/// overhead per pod against 8 CPUs): refused with the arithmetic before anything is created.
#[test]
fn a_cell_that_cannot_fit_its_nodes_is_refused_before_creating_anything() {
    let cell = cell("kata", 64, Pattern::Read);
    let spec = spec_of(&cell);
    let mut steps: Vec<Step> = preflight_steps(&spec)
        .into_iter()
        .filter(|s| s.path != "/api/v1/nodes")
        .collect();
    let kata = json!({ "katacontainers.io/kata-runtime": "true" });
    let small = |name: &str| {
        let mut n = node(name, true, kata.clone());
        n["status"]["allocatable"] = json!({ "cpu": "8", "memory": "31Gi", "pods": "110" });
        n
    };
    steps.push(step(
        "GET",
        "/api/v1/nodes",
        Reply::Json(
            200,
            list("NodeList", "v1", vec![small("worker-1"), small("worker-2")]),
        ),
    ));
    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec, client, short_options());
    fixture.preflight().expect("preflight");
    let run_dir = temp_dir("capacity");
    let err = fixture
        .run(&cell, 1, &cell_dir(&run_dir, &cell))
        .expect_err("32 pods do not fit");
    let seen = api.finish(fixture);
    let text = err.to_string();
    assert!(
        text.contains("room on node worker-1 for 32 fio server pods: they need 16000m CPU")
            && text.contains("the node can allocate 8000m"),
        "{text}"
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.method == "POST" && !s.path.contains("selfsubjectaccessreviews")),
        "nothing created"
    );
    std::fs::remove_dir_all(run_dir).ok();
}

#[test]
fn server_pod_that_fails_to_start_stops_the_wait_at_once() {
    let cell = cell("kata", 1, Pattern::Read);
    let spec = spec_of(&cell);
    let failed = |_| {
        json!({
            "phase": "Failed", "reason": "NodeAffinity",
            "message": "Pod was rejected: Predicate NodeAffinity failed",
        })
    };
    let mut steps = preflight_steps(&spec);
    steps.extend(create_steps(1));
    steps.push(pod_list_step(0, failed));
    steps.push(
        step_with("GET", "/api/v1/namespaces/*/pods", move |_, seen| {
            Reply::Json(
                200,
                list(
                    "PodList",
                    "v1",
                    vec![with_status(created_pod(seen, "fio-server-0"), failed(0))],
                ),
            )
        })
        .with_query("app.kubernetes.io/component=server"),
    );
    steps.push(step(
        "GET",
        "/api/v1/namespaces/*/events",
        Reply::Json(200, list("EventList", "v1", vec![])),
    ));
    steps.extend(delete_steps());
    let (client, api) = mock(steps);
    let options = KubernetesOptions {
        ready_timeout: Duration::from_secs(60),
        ..short_options()
    };
    let mut fixture = KubernetesFixture::with_client(spec, client, options);
    fixture.preflight().expect("preflight");
    let run_dir = temp_dir("podfail");
    let started = std::time::Instant::now();
    let err = fixture
        .run(&cell, 1, &cell_dir(&run_dir, &cell))
        .expect_err("the pod failed");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no waiting for the timeout"
    );
    let seen = api.finish(fixture);
    let text = err.to_string();
    assert!(text.contains("stopped instead of becoming Ready"), "{text}");
    assert!(
        text.contains("phase Failed (NodeAffinity: Pod was rejected"),
        "{text}"
    );
    assert_namespace_deleted(&seen);
    std::fs::remove_dir_all(run_dir).ok();
}

#[test]
fn node_selector_picks_ready_schedulable_nodes_by_name() {
    let cell = cell("selected", 8, Pattern::Read);
    let spec = spec_of(&cell);
    let mut steps: Vec<Step> = preflight_steps(&spec)
        .into_iter()
        .filter(|s| s.path != "/api/v1/nodes")
        .collect();
    let labels = json!({ "iogate/worker": "true" });
    let mut cordoned = node("worker-0", true, labels.clone());
    cordoned["spec"]["unschedulable"] = json!(true);
    steps.push(
        step(
            "GET",
            "/api/v1/nodes",
            Reply::Json(
                200,
                list(
                    "NodeList",
                    "v1",
                    vec![
                        node("worker-3", false, labels.clone()),
                        without_images(node("worker-2", true, labels.clone())),
                        cordoned,
                        node("worker-1", true, labels),
                    ],
                ),
            ),
        )
        .with_query("labelSelector=iogate/worker=true"),
    );
    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec, client, short_options());
    let info = fixture.preflight().expect("preflight");
    api.finish(fixture);
    assert_eq!(info.handler.as_deref(), Some("runc (no RuntimeClass)"));
    assert_eq!(info.hosts, ["worker-1", "worker-2"]);
    assert!(
        info.notes
            .iter()
            .any(|n| n.contains("matching `iogate/worker=true`")),
        "{:?}",
        info.notes
    );
    let warnings: Vec<&String> = info
        .notes
        .iter()
        .filter(|n| n.starts_with("warning: image"))
        .collect();
    assert!(
        warnings.len() == 1
            && warnings[0]
                .contains("iogate-fio:latest is not among the images nodes worker-2 report")
            && warnings[0].contains("iogate image"),
        "worker-2 lacks the image, worker-1 has it: {:?}",
        info.notes
    );
}

fn without_images(mut node: Value) -> Value {
    node["status"]["images"] = json!([]);
    node
}

#[test]
fn named_node_without_kata_is_missing() {
    let cell = cell("kata", 8, Pattern::Read);
    let spec = spec_of(&cell);
    let mut steps: Vec<Step> = preflight_steps(&spec)
        .into_iter()
        .filter(|s| s.path != "/api/v1/nodes")
        .collect();
    let kata = json!({ "katacontainers.io/kata-runtime": "true" });
    steps.push(step(
        "GET",
        "/api/v1/nodes",
        Reply::Json(
            200,
            list(
                "NodeList",
                "v1",
                vec![
                    node("worker-1", true, kata),
                    node("worker-2", true, json!({})),
                ],
            ),
        ),
    ));
    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec, client, short_options());
    let err = fixture.preflight().expect_err("worker-2 has no Kata");
    api.finish(fixture);
    let text = err.to_string();
    assert!(matches!(err, Error::Missing { .. }), "{text}");
    assert!(
        text.contains("RuntimeClass kata-qemu on worker node `worker-2`"),
        "{text}"
    );
    assert!(
        text.contains("katacontainers.io/kata-runtime=true"),
        "{text}"
    );
}

/// A client log the kubelet rotated (only the newest part of the encoded output is left) fails
/// the cell with the kubelet setting to raise, and keeps the log.
#[test]
fn a_rotated_client_log_fails_with_the_kubelet_limit_to_raise() {
    let cell = cell("kata", 1, Pattern::Read);
    let spec = spec_of(&cell);
    let whole = client_pod_log(include_str!("fixtures/fio/client-log-1server-4threads.txt"));
    let newest = &whole[whole.len() / 2..];
    let mut steps = preflight_steps(&spec);
    steps.extend(create_steps(1));
    steps.push(pod_list_step(0, ready_status));
    steps.extend(client_runs(newest, GUEST_LOG, Output::ProxyForbidden));
    let (err, _) = run_failing(&cell, steps, "rotated");
    let text = err.to_string();
    assert!(
        text.contains("containerLogMaxSize")
            && text.contains("r1.client.log")
            && text.contains("refused `get pods/proxy`")
            && text.contains("deploy/rbac.yaml"),
        "{text}"
    );
}

/// Without `get pods/proxy` the output comes from the client pod's log, and the cell's log says
/// why it was not fetched from the pod; with it, from the pod, whatever the log holds.
#[test]
fn the_output_comes_from_the_pod_and_from_the_log_only_when_the_proxy_is_refused() {
    let cell = cell("kata", 1, Pattern::Read);
    let spec = spec_of(&cell);
    let output = include_str!("fixtures/fio/client-log-1server-4threads.txt");
    let run = |log: &str, how: Output, name: &str| {
        let mut steps = preflight_steps(&spec);
        steps.extend(create_steps(1));
        steps.push(pod_list_step(0, ready_status));
        steps.extend(client_runs(log, GUEST_LOG, how));
        let (client, api) = mock(steps);
        let mut fixture = KubernetesFixture::with_client(spec.clone(), client, short_options());
        fixture.preflight().expect("preflight");
        let run_dir = temp_dir(name);
        let dir = cell_dir(&run_dir, &cell);
        let out = fixture.run(&cell, 1, &dir);
        let seen = api.finish(fixture);
        assert_namespace_deleted(&seen);
        let placement = std::fs::read_to_string(dir.path("r1.kubernetes.log")).unwrap_or_default();
        let json = std::fs::read_to_string(dir.path("r1.json")).unwrap_or_default();
        std::fs::remove_dir_all(run_dir).ok();
        (out, placement, json)
    };

    let (out, placement, json) = run(&client_pod_log(output), Output::ProxyForbidden, "bylog");
    let out = out.expect("the log still carries the output");
    assert_eq!(json, output);
    assert!(
        placement.contains("output: read from the client pod's log")
            && placement.contains("refused `get pods/proxy`"),
        "{placement}"
    );
    assert!(!out.logs.iter().any(|l| l.ends_with("r1.client.output")));

    // A log the kubelet rotated does not matter when the pod serves the output.
    let log = client_pod_log(output);
    let (out, placement, json) = run(
        &log[log.len() / 2..],
        Output::Served(served_output(output)),
        "bypod",
    );
    let out = out.expect("the served output decodes");
    assert_eq!(json, output);
    assert!(
        placement.contains("output: fetched from the client pod through the API server"),
        "{placement}"
    );
    assert!(out.logs.iter().any(|l| l.ends_with("r1.client.output")));
}

/// A runtime without a RuntimeClass runs under the node's default handler, taken for runc: a
/// server that saw a kernel of its own (a lab whose default handler is Kata) fails the cell, which
/// would otherwise report a VM's numbers as runc's. The node's own kernel passes.
#[test]
fn a_default_handler_that_is_not_runc_fails_the_cell() {
    let cell = cell("selected", 1, Pattern::Read);
    let spec = spec_of(&cell);
    assert_eq!(spec.runtime_class, None);
    let flow = |guest: &str| {
        let mut steps = preflight_steps(&spec);
        steps.extend(create_steps(1));
        steps.push(pod_list_step(0, ready_status));
        let output = include_str!("fixtures/fio/client-log-1server-4threads.txt");
        steps.extend(client_runs(
            &client_pod_log(output),
            guest,
            Output::Served(served_output(output)),
        ));
        steps
    };
    let (err, seen) = run_failing(&cell, flow(GUEST_LOG), "defaultvm");
    let text = err.to_string();
    assert!(
        text.contains("ran under kernel 6.1.62, but its node reports 6.1.0-37-amd64")
            && text.contains("runtime_class"),
        "{text}"
    );
    assert!(
        seen.iter().any(|s| s.method == "DELETE"),
        "namespace deleted"
    );

    let runc_guest = "iogate-guest kernel 6.1.0-37-amd64\n";
    let (client, api) = mock(flow(runc_guest));
    let mut fixture = KubernetesFixture::with_client(spec.clone(), client, short_options());
    fixture.preflight().expect("preflight");
    let run_dir = temp_dir("defaultrunc");
    let out = fixture
        .run(&cell, 1, &cell_dir(&run_dir, &cell))
        .expect("the node's own kernel: runc");
    api.finish(fixture);
    assert_eq!(
        out.guest.and_then(|g| g.kernel).as_deref(),
        Some("6.1.0-37-amd64")
    );
    std::fs::remove_dir_all(run_dir).ok();
}

/// A worker whose `sync` pod fails (here: its node rejected it) fails the cell before anything is
/// measured, naming the pod, and the namespace goes.
#[test]
fn a_worker_that_cannot_settle_fails_the_cell_before_measuring() {
    let cell = cell("kata", 1, Pattern::Read);
    let spec = spec_of(&cell);
    let mut steps = preflight_steps(&spec);
    steps.extend(create_steps(1));
    steps.push(pod_list_step(0, ready_status));
    steps.extend(layout_completes());
    steps.push(echo("/api/v1/namespaces/*/pods"));
    steps.push(
        step_with("GET", "/api/v1/namespaces/*/pods", |_, seen| {
            let pod = seen
                .last()
                .expect("the settle pod was created")
                .body
                .clone();
            let failed = json!({ "phase": "Failed", "reason": "OutOfmemory",
                                 "message": "Pod was rejected: Node didn't have enough resource" });
            Reply::Json(200, list("PodList", "v1", vec![with_status(pod, failed)]))
        })
        .with_query("app.kubernetes.io/component=settle"),
    );
    steps.extend(delete_steps());
    let (err, seen) = run_failing(&cell, steps, "nosettle");
    let text = err.to_string();
    assert!(
        text.contains("settling the workers (worker-1") && text.contains("fio-settle-1"),
        "{text}"
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.body["metadata"]["name"] == "fio-client"),
        "nothing measured"
    );
    assert_namespace_deleted(&seen);
}

/// An output that lost part of its encoded text on the way fails the cell; it is never parsed
/// as numbers.
#[test]
fn a_client_log_cut_in_the_middle_fails_the_cell() {
    let cell = cell("kata", 1, Pattern::Read);
    let spec = spec_of(&cell);
    let whole = client_pod_log(include_str!("fixtures/fio/client-log-1server-4threads.txt"));
    let lines: Vec<&str> = whole.lines().collect();
    let cut: Vec<&str> = lines[..4].iter().chain(&lines[8..]).copied().collect();
    let mut steps = preflight_steps(&spec);
    steps.extend(create_steps(1));
    steps.push(pod_list_step(0, ready_status));
    steps.extend(client_completes_with_log(&cut.join("\n")));
    let (err, _) = run_failing(&cell, steps, "cut");
    let text = err.to_string();
    assert!(
        text.contains("not whole") && text.contains("r1.client.log"),
        "{text}"
    );
}

/// The sweep at the start of a run deletes what crashed runs left: namespaces past their recorded
/// lifetime, and those without one. It leaves those of a run that may still be live, and those
/// already going.
#[test]
fn sweep_deletes_expired_namespaces_and_leaves_a_live_runs() {
    let cell = cell("kata", 1, Pattern::Read);
    let now = jiff::Timestamp::now();
    let ns = |name: &str, created: jiff::Timestamp, lifetime: Option<u64>, terminating: bool| {
        let mut v = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": { "app.kubernetes.io/managed-by": "iogate" },
                "creationTimestamp": created.to_string(),
            },
        });
        if let Some(lifetime) = lifetime {
            v["metadata"]["annotations"] =
                json!({ "iogate/lifetime-seconds": lifetime.to_string() });
        }
        if terminating {
            v["metadata"]["deletionTimestamp"] = json!("2025-06-01T00:00:00Z");
        }
        v
    };
    let hour_ago = now - jiff::SignedDuration::from_hours(1);
    let steps = vec![
        step(
            "GET",
            "/api/v1/namespaces",
            Reply::Json(
                200,
                list(
                    "NamespaceList",
                    "v1",
                    vec![
                        // Made an hour ago to live 10 minutes: a crashed run's.
                        ns("iogate-kata-c8-read-aaaa1111", hour_ago, Some(600), false),
                        ns("iogate-kata-c8-read-bbbb2222", hour_ago, Some(600), true),
                        // Made an hour ago to live two: another run's, maybe still measuring.
                        ns("iogate-kata-c8-read-cccc3333", hour_ago, Some(7200), false),
                        // No lifetime: an older iogate's, or made by hand.
                        ns("iogate-kata-c8-read-dddd4444", now, None, false),
                    ],
                ),
            ),
        )
        .with_query("labelSelector=app.kubernetes.io/managed-by=iogate"),
        step(
            "DELETE",
            "/api/v1/namespaces/iogate-kata-c8-read-aaaa1111",
            Reply::Json(
                200,
                ns("iogate-kata-c8-read-aaaa1111", hour_ago, Some(600), true),
            ),
        ),
        step(
            "DELETE",
            "/api/v1/namespaces/iogate-kata-c8-read-dddd4444",
            Reply::Json(200, ns("iogate-kata-c8-read-dddd4444", now, None, true)),
        ),
    ];
    let (client, api) = mock(steps);
    let mut fixture = KubernetesFixture::with_client(spec_of(&cell), client, short_options());
    fixture.sweep().expect("sweep");
    let seen = api.finish(fixture);
    assert!(
        !seen.iter().any(|s| s.path.ends_with("cccc3333")),
        "a live run's namespace was touched: {seen:?}"
    );
}

/// Runs in a child process (env is process-global): no KUBECONFIG file, an empty HOME, not in a pod.
#[test]
fn no_kubeconfig_is_missing() {
    let home = temp_dir("home");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "no_kubeconfig_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("IOGATE_K8S_CHILD", "1")
        .env("KUBECONFIG", home.join("does-not-exist.yaml"))
        .env("HOME", &home)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "the child test ran: {stdout}");
    std::fs::remove_dir_all(home).ok();
}

/// The child half of [`no_kubeconfig_is_missing`]; does nothing when run directly.
#[test]
fn no_kubeconfig_child() {
    if std::env::var_os("IOGATE_K8S_CHILD").is_none() {
        return;
    }
    let cell = cell("kata", 1, Pattern::Read);
    let mut fixture = KubernetesFixture::new(spec_of(&cell));
    match fixture.preflight() {
        Err(Error::Missing { what, how }) => {
            assert_eq!(what, "a Kubernetes cluster (no kubeconfig)");
            assert!(
                how.contains("KUBECONFIG") && how.contains("skipped"),
                "{how}"
            );
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    // Nothing to sweep without a cluster.
    fixture.sweep().expect("sweep without a cluster is a no-op");
}

/// A real kata-qemu cell on the current kubeconfig: 2 clients over 2 nodes, 5 s of randread.
/// `IOGATE_K8S_NODES=a,b` names the nodes (default: the Ready untainted ones), `IOGATE_K8S_TARGET` the
/// shared directory on them (default /mnt/beegfs/iogate), `IOGATE_K8S_IMAGE` the fio image.
#[test]
#[ignore = "needs cluster: runs a real kata-qemu cell on the current kubeconfig"]
fn real_cluster_kata_cell() {
    let target = std::env::var("IOGATE_K8S_TARGET").unwrap_or_else(|_| "/mnt/beegfs/iogate".into());
    let nodes = std::env::var("IOGATE_K8S_NODES").unwrap_or_default();
    let mut runtime = "{ runtime_class: kata-qemu".to_owned();
    if !nodes.is_empty() {
        runtime += &format!(", node_names: [{nodes}]");
    }
    if let Ok(image) = std::env::var("IOGATE_K8S_IMAGE") {
        runtime += &format!(", image: \"{image}\"");
    }
    runtime += " }";
    let text = format!(
        "name: lab-kata\ntarget: {target}\nruntimes:\n  - name: kata\n    kubernetes: {runtime}\nclients: [2]\nnodes: 2\n\
         workload: {{ patterns: [randread], bs: 64k, threads: 1, size: 64m, runtime: 5s }}\n"
    );
    let file = MatrixFile::parse(Path::new("lab-kata.yaml"), &text).expect("matrix");
    let cell = file.cells().remove(0);
    let mut fixture = KubernetesFixture::new(spec_of(&cell));
    fixture.sweep().expect("sweep");
    let info = fixture.preflight().expect("preflight");
    eprintln!("{info:#?}");
    let run_dir = temp_dir("real");
    let dir = cell_dir(&run_dir, &cell);
    let out = fixture.run(&cell, 1, &dir).expect("run");
    let raw = std::fs::read_to_string(run_dir.join(&out.json)).unwrap();
    let json = &raw[raw.find('{').expect("JSON in the client log")..];
    assert!(json.contains("\"client_stats\""), "{raw}");
    std::fs::remove_dir_all(run_dir).ok();
}

/// `iogate manifests` on the study's largest Kata cell: every object, in YAML a cluster admin can
/// `kubectl apply --dry-run=server`, with the Pod Security level, the pinned client, the
/// matrix's limits, and nothing the Kubernetes types do not know.
#[test]
fn manifests_command_prints_the_seed_kata_c64_cell() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iogate"))
        .args(["manifests", "matrices/seed.yaml", "seed/kata/c64/read"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("YAML documents");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 1 + 1 + 1 + 64 + 1 + 2 + 1, "{kinds:?}");
    assert_eq!(
        (kinds[0], kinds[1], kinds[2], kinds[3], kinds[67], kinds[70]),
        (
            "Namespace",
            "NetworkPolicy",
            "ConfigMap",
            "Pod",
            "Job",
            "Job"
        )
    );
    // Laying out 64 clients × 4 threads × 32 GiB may take hours (8 TiB at 20 MiB/s, plus a
    // minute); the measured run gets its ramp and runtime plus a minute, so a hung fio fails the
    // cell in minutes.
    assert_eq!(docs[67]["metadata"]["name"], "fio-layout");
    assert_eq!(
        docs[67]["spec"]["activeDeadlineSeconds"],
        60 + (8u64 << 40) / (20 << 20)
    );
    // Between them, a `sync` pod on each of the two workers.
    for (doc, n) in docs[68..70].iter().zip(1..) {
        assert_eq!(doc["kind"], "Pod");
        assert_eq!(doc["metadata"]["name"], format!("fio-settle-{n}"));
        assert_eq!(doc["spec"]["nodeName"], format!("node-{n}"));
    }
    assert_eq!(docs[70]["metadata"]["name"], "fio-client");
    // It then serves its output for up to 5 minutes (`transport`).
    assert_eq!(docs[70]["spec"]["activeDeadlineSeconds"], 60 + 5 + 60 + 300);
    assert_eq!(
        docs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
    // Each document is exactly a Kubernetes object: deserialized and written back, nothing lost.
    fn same_as_typed<K: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) {
        let typed: K = serde_json::from_value(doc.clone()).expect("a valid object");
        assert_eq!(&serde_json::to_value(typed).unwrap(), doc);
    }
    same_as_typed::<k8s_openapi::api::core::v1::Namespace>(&docs[0]);
    same_as_typed::<k8s_openapi::api::networking::v1::NetworkPolicy>(&docs[1]);
    same_as_typed::<k8s_openapi::api::core::v1::ConfigMap>(&docs[2]);
    for pod in &docs[3..67] {
        same_as_typed::<k8s_openapi::api::core::v1::Pod>(pod);
        assert_eq!(pod["spec"]["runtimeClassName"], "kata-qemu");
        assert_eq!(
            pod["spec"]["containers"][0]["resources"]["limits"],
            json!({ "cpu": "1", "memory": "2Gi" })
        );
    }
    same_as_typed::<k8s_openapi::api::batch::v1::Job>(&docs[67]);
    same_as_typed::<k8s_openapi::api::core::v1::Pod>(&docs[68]);
    same_as_typed::<k8s_openapi::api::core::v1::Pod>(&docs[69]);
    same_as_typed::<k8s_openapi::api::batch::v1::Job>(&docs[70]);
    let affinity = &docs[70]["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0]["matchExpressions"][0];
    assert_eq!(affinity["operator"], "NotIn");
    assert_eq!(affinity["values"], json!(["node-1", "node-2"]));
}
