//! The sandbox's request handling, over real HTTP to an in-process sandbox: create bodies
//! (JSON parsing, case-insensitive binding, validation), JSON Patch documents, PUT bodies and
//! OData list queries (`$filter`, `$orderby`, `$top`, `$skiptoken`). The parsers are private
//! to the sandbox, so they are reached the way a client reaches them.
//!
//! A panic in a handler aborts the process (libFuzzer's panic hook), and any 5xx answer is
//! reported as a crash: the sandbox runs here without fault injection, so a 5xx is a bug.

#![no_main]

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use referral_sync::sandbox::{RunningSandbox, SandboxConfig, start};
use serde_json::{Value, json};

const ROOT: &str = "/v1.0/engagements/referrals";
/// Paths into a Referral that the validation has rules for.
const PATHS: [&str; 20] = [
    "name",
    "status",
    "substatus",
    "type",
    "qualification",
    "externalReferenceId",
    "customerProfile",
    "customerProfile/name",
    "customerProfile/address/country",
    "customerProfile/size",
    "customerProfile/team",
    "consent",
    "details",
    "details/dealValue",
    "details/currency",
    "details/closingDateTime",
    "details/requirements/products",
    "target",
    "inviteContext/assistanceRequestCode",
    "engagementId",
];

#[derive(Arbitrary, Debug)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    EmptyArray,
    EmptyObject,
    Tags(Vec<String>),
}

#[derive(Arbitrary, Debug)]
struct Edit {
    path: u8,
    other: Option<String>,
    value: Scalar,
}

#[derive(Arbitrary, Debug)]
enum Body {
    Raw(Vec<u8>),
    /// The seed request with some fields replaced.
    Seed(Vec<Edit>),
}

#[derive(Arbitrary, Debug)]
enum Request {
    Create {
        body: Body,
        request_id: Option<String>,
    },
    Patch {
        ops: Vec<(String, Edit)>,
        raw: Option<Vec<u8>>,
        if_match: Option<String>,
        prefer: bool,
    },
    Put {
        body: Body,
        if_match: Option<String>,
    },
    List {
        filter: Option<String>,
        orderby: Option<String>,
        top: Option<String>,
        skiptoken: Option<String>,
        count: bool,
    },
    Get {
        id: String,
    },
}

struct Peer {
    runtime: tokio::runtime::Runtime,
    sandbox: RunningSandbox,
    client: reqwest::Client,
    token: String,
    /// The id of a referral that PATCH and PUT requests address, and the calls since a reset.
    target: Mutex<(String, u64)>,
}

fn seed() -> Value {
    serde_json::from_str(include_str!(
        "../../tests/fixtures/seed-create-request.json"
    ))
    .expect("fuzz: the seed request fixture is JSON")
}

fn peer() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| {
        referral_sync::upload::client::install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("fuzz: tokio runtime");
        let sandbox = runtime
            .block_on(start(SandboxConfig::default()))
            .expect("fuzz: sandbox starts");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("fuzz: http client");
        let token = sandbox.token();
        let peer = Peer {
            runtime,
            sandbox,
            client,
            token,
            target: Mutex::new((String::new(), 0)),
        };
        reset(&peer);
        peer
    })
}

/// Empty the sandbox and create the referral that updates address.
fn reset(peer: &Peer) {
    let base = &peer.sandbox.base_url;
    let id = peer.runtime.block_on(async {
        let _ = peer
            .client
            .post(format!("{base}/sandbox/reset"))
            .send()
            .await;
        let created: Value = peer
            .client
            .post(format!("{base}{ROOT}"))
            .bearer_auth(&peer.token)
            .json(&seed())
            .send()
            .await
            .expect("fuzz: create the target referral")
            .json()
            .await
            .expect("fuzz: created referral is JSON");
        created["id"].as_str().unwrap_or_default().to_string()
    });
    *peer.target.lock().expect("fuzz: target lock") = (id, 0);
}

fn scalar(value: &Scalar) -> Value {
    match value {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => json!(b),
        Scalar::Int(i) => json!(i),
        Scalar::Float(f) => json!(f),
        Scalar::Text(s) => json!(s),
        Scalar::EmptyArray => json!([]),
        Scalar::EmptyObject => json!({}),
        Scalar::Tags(tags) => Value::Array(tags.iter().map(|t| json!({ "id": t })).collect()),
    }
}

fn edit_path(edit: &Edit) -> String {
    match &edit.other {
        Some(other) => other.clone(),
        None => PATHS[usize::from(edit.path) % PATHS.len()].to_string(),
    }
}

/// Set `path` (slash-separated) in `doc`, creating objects on the way.
fn set(doc: &mut Value, path: &str, value: Value) {
    let mut at = doc;
    let keys: Vec<&str> = path.split('/').collect();
    for (i, key) in keys.iter().enumerate() {
        if !at.is_object() {
            *at = json!({});
        }
        let Some(map) = at.as_object_mut() else {
            return;
        };
        if i + 1 == keys.len() {
            map.insert((*key).to_string(), value);
            return;
        }
        at = map.entry((*key).to_string()).or_insert_with(|| json!({}));
    }
}

fn body_bytes(body: &Body) -> Vec<u8> {
    match body {
        Body::Raw(bytes) => bytes.clone(),
        Body::Seed(edits) => {
            let mut doc = seed();
            for edit in edits {
                set(&mut doc, &edit_path(edit), scalar(&edit.value));
            }
            serde_json::to_vec(&doc).unwrap_or_default()
        }
    }
}

fn build(peer: &Peer, request: &Request, id: &str) -> reqwest::RequestBuilder {
    let url = format!("{}{ROOT}", peer.sandbox.base_url);
    let c = &peer.client;
    let json = |b: reqwest::RequestBuilder| b.header("Content-Type", "application/json");
    match request {
        Request::Create { body, request_id } => {
            let mut b = json(c.post(&url)).body(body_bytes(body));
            if let Some(rid) = request_id {
                b = b.header("MS-RequestId", rid.as_str());
            }
            b
        }
        Request::Patch {
            ops,
            raw,
            if_match,
            prefer,
        } => {
            let body = match raw {
                Some(raw) => raw.clone(),
                None => {
                    let ops: Vec<Value> = ops
                        .iter()
                        .map(|(op, e)| json!({"op": op, "path": format!("/{}", edit_path(e)), "value": scalar(&e.value)}))
                        .collect();
                    serde_json::to_vec(&ops).unwrap_or_default()
                }
            };
            let mut b = json(c.patch(format!("{url}/{id}"))).body(body);
            if let Some(tag) = if_match {
                b = b.header("If-Match", tag.as_str());
            }
            if *prefer {
                b = b.header("Prefer", "return=representation");
            }
            b
        }
        Request::Put { body, if_match } => {
            let mut b = json(c.put(format!("{url}/{id}"))).body(body_bytes(body));
            if let Some(tag) = if_match {
                b = b.header("If-Match", tag.as_str());
            }
            b
        }
        Request::List {
            filter,
            orderby,
            top,
            skiptoken,
            count,
        } => {
            let mut query: Vec<(&str, &str)> = Vec::new();
            for (key, value) in [
                ("$filter", filter),
                ("$orderby", orderby),
                ("$top", top),
                ("$skiptoken", skiptoken),
            ] {
                if let Some(v) = value {
                    query.push((key, v.as_str()));
                }
            }
            if *count {
                query.push(("$count", "true"));
            }
            c.get(&url).query(&query)
        }
        Request::Get { id } => c.get(format!("{url}/{}", id.replace(['/', '?', '#'], "_"))),
    }
}

fuzz_target!(|request: Request| {
    let peer = peer();
    let (id, calls) = {
        let mut target = peer.target.lock().expect("fuzz: target lock");
        target.1 += 1;
        target.clone()
    };
    if calls > 2_000 {
        reset(peer);
    }
    let builder = build(peer, &request, &id).bearer_auth(&peer.token);
    let status = peer
        .runtime
        .block_on(async { builder.send().await.map(|r| r.status()) });
    match status {
        Ok(status) => assert!(!status.is_server_error(), "{status} for {request:?}"),
        // A URL or header the client itself refuses to send is not the sandbox's business.
        Err(err) if err.is_builder() => {}
        Err(err) => panic!("no answer ({err}) for {request:?}"),
    }
});
