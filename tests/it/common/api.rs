//! A synchronous view of a Referrals API for tests that drive the real binary: the sandbox's
//! stats, every referral it holds, and direct changes made behind the uploader's back. It
//! owns a tokio runtime, so an in-process sandbox ([`Peer`]) keeps serving on the runtime's
//! threads while the test blocks on a child process.

use std::collections::BTreeMap;
use std::time::Duration;

use referral_sync::ledger::State;
use referral_sync::sandbox::{self, ROOT, RunningSandbox, SandboxConfig};
use serde_json::Value;

use super::sandbox::{TestResult, http_client};
use super::upload::Workspace;

/// The token the test's own requests carry: not the uploader's, so that they never share its
/// per-token rate limit.
pub const OBSERVER_TOKEN: &str = "upload-run-test-observer";

/// How often a read is tried before the test gives up on it.
const READ_ATTEMPTS: usize = 12;

/// An API at `base_url`, asked with [`OBSERVER_TOKEN`].
pub struct Api {
    pub base_url: String,
    client: reqwest::Client,
    token: String,
    runtime: tokio::runtime::Runtime,
}

impl Api {
    pub fn new(base_url: &str) -> TestResult<Api> {
        Self::with_token(base_url, OBSERVER_TOKEN)
    }

    pub fn with_token(base_url: &str, token: &str) -> TestResult<Api> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Api {
            base_url: base_url.to_owned(),
            // Short: a response the sandbox loses holds its connection for minutes.
            client: http_client(Duration::from_secs(3))?,
            token: token.to_owned(),
            runtime,
        })
    }

    /// Run a future on this view's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// `GET /sandbox/stats`.
    pub fn stats(&self) -> TestResult<Value> {
        let url = format!("{}/sandbox/stats", self.base_url);
        self.block_on(async { Ok(self.client.get(url).send().await?.json().await?) })
    }

    /// One counter of the stats.
    pub fn stat(&self, key: &str) -> TestResult<u64> {
        let stats = self.stats()?;
        stats
            .get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("stats have no counter {key:?}: {stats}").into())
    }

    /// A request with the bearer token; status and JSON body (Null when empty). A GET is
    /// tried again (up to [`READ_ATTEMPTS`] times) after a transport error or a 5xx: the
    /// sandbox's faults hit the test's reads as well as the uploader's requests.
    pub fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> TestResult<(u16, Value)> {
        let attempts = if method == reqwest::Method::GET {
            READ_ATTEMPTS
        } else {
            1
        };
        let mut last = None;
        for _ in 0..attempts {
            match self.send_once(method.clone(), url, body, if_match) {
                Ok((status, _)) if status >= 500 => last = Some(format!("status {status}")),
                Ok(answer) => return Ok(answer),
                Err(err) => last = Some(err.to_string()),
            }
        }
        Err(format!("{method} {url}: {}", last.unwrap_or_default()).into())
    }

    fn send_once(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> TestResult<(u16, Value)> {
        self.block_on(async {
            let mut request = self.client.request(method, url).bearer_auth(&self.token);
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(etag) = if_match {
                request = request.header("If-Match", etag);
            }
            super::sandbox::status_and_json(request.send().await?).await
        })
    }

    /// Every referral matching `filter` (an OData `$filter`), following `@odata.nextLink`.
    pub fn list(&self, filter: &str) -> TestResult<Vec<Value>> {
        let mut url = reqwest::Url::parse(&format!("{}{ROOT}", self.base_url))?;
        url.query_pairs_mut().append_pair("$filter", filter);
        let mut url = url.to_string();
        let mut all = Vec::new();
        loop {
            let (status, page) = self.send(reqwest::Method::GET, &url, None, None)?;
            if status != 200 {
                return Err(format!("list {url} answered {status}: {page}").into());
            }
            if let Some(values) = page.get("value").and_then(Value::as_array) {
                all.extend(values.iter().cloned());
            }
            match page.get("@odata.nextLink").and_then(Value::as_str) {
                Some(next) => url = next.to_owned(),
                None => return Ok(all),
            }
        }
    }

    /// The partner's own referrals (not the connected ones made for Microsoft).
    pub fn outgoing(&self) -> TestResult<Vec<Value>> {
        self.list("direction eq 'Outgoing'")
    }

    /// One referral.
    pub fn get(&self, id: &str) -> TestResult<Value> {
        let url = format!("{}{ROOT}/{id}", self.base_url);
        let (status, body) = self.send(reqwest::Method::GET, &url, None, None)?;
        if status != 200 {
            return Err(format!("GET {url} answered {status}: {body}").into());
        }
        Ok(body)
    }

    /// POST a referral that must be created; its body.
    pub fn create(&self, body: &Value) -> TestResult<Value> {
        let url = format!("{}{ROOT}", self.base_url);
        let (status, created) = self.send(reqwest::Method::POST, &url, Some(body), None)?;
        if status != 201 {
            return Err(format!("create answered {status}: {created}").into());
        }
        Ok(created)
    }

    /// PATCH a referral with JSON Patch `ops` under `If-Match: etag`; it must succeed.
    pub fn patch(&self, id: &str, ops: &Value, etag: &str) -> TestResult {
        let url = format!("{}{ROOT}/{id}", self.base_url);
        let (status, body) = self.send(reqwest::Method::PATCH, &url, Some(ops), Some(etag))?;
        if !(200..300).contains(&status) {
            return Err(format!("PATCH {url} answered {status}: {body}").into());
        }
        Ok(())
    }

    /// `DELETE /sandbox/referrals/{id}` (the sandbox's admin route).
    pub fn delete(&self, id: &str) -> TestResult {
        let url = format!("{}/sandbox/referrals/{id}", self.base_url);
        let (status, body) = self.send(reqwest::Method::DELETE, &url, None, None)?;
        if !(200..300).contains(&status) {
            return Err(format!("DELETE {url} answered {status}: {body}").into());
        }
        Ok(())
    }

    /// The check every run ends with: the API holds exactly one outgoing referral per
    /// external id in `ids` and no other, and the ledger has each one synced, with the API's
    /// id and eTag, and no record left in flight or failed.
    pub fn assert_exactly_once(&self, ws: &Workspace, ids: &[String]) -> TestResult {
        let duplicates = self.stat("duplicate_external_ids")?;
        assert_eq!(duplicates, 0, "the sandbox counts duplicate external ids");
        let mut by_external: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for referral in self.outgoing()? {
            let external = referral["externalReferenceId"].as_str().unwrap_or_default();
            by_external
                .entry(external.to_owned())
                .or_default()
                .push(referral);
        }
        let mut wanted: Vec<&String> = ids.iter().collect();
        wanted.sort();
        wanted.dedup();
        let held: Vec<&String> = by_external.keys().collect();
        assert_eq!(held, wanted, "the API's external ids");
        let ledger = ws.open_ledger()?;
        for (external, referrals) in &by_external {
            let [referral] = referrals.as_slice() else {
                return Err(format!("{external}: {} referrals", referrals.len()).into());
            };
            let record = ledger
                .get(external)?
                .ok_or_else(|| format!("the ledger has no record {external}"))?;
            assert_eq!(record.state, State::Synced, "{external}: {record:?}");
            assert_eq!(
                record.referral_id.as_deref(),
                referral["id"].as_str(),
                "{external}"
            );
            assert_eq!(
                record.etag.as_deref(),
                referral["eTag"].as_str(),
                "{external}"
            );
        }
        let counts = ledger.counts_by_state()?;
        assert_eq!(counts.in_flight, 0, "records left in flight: {counts:?}");
        assert_eq!(
            counts.failed_retryable + counts.failed_permanent,
            0,
            "records left failed: {counts:?}"
        );
        Ok(())
    }
}

impl Api {
    /// The engagement of each shared record in `external_ids`: exactly two referrals, the
    /// ledger's referral and its connected one, the latter addressed to Microsoft. One
    /// listing for all of them.
    pub fn assert_engagements(&self, ws: &Workspace, external_ids: &[String]) -> TestResult {
        let mut engagements: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for referral in self.list("type eq 'Shared'")? {
            let engagement = referral["engagementId"].as_str().unwrap_or_default();
            engagements
                .entry(engagement.to_owned())
                .or_default()
                .push(referral);
        }
        let ledger = ws.open_ledger()?;
        for external_id in external_ids {
            let record = ledger
                .get(external_id)?
                .ok_or_else(|| format!("the ledger has no record {external_id}"))?;
            let engagement = record.engagement_id.clone().unwrap_or_default();
            let referrals = engagements.get(&engagement).cloned().unwrap_or_default();
            let mut listed: Vec<&str> = referrals.iter().filter_map(|r| r["id"].as_str()).collect();
            listed.sort_unstable();
            let mut expected = [
                record.referral_id.as_deref().unwrap_or("(none)"),
                record.connected_referral_id.as_deref().unwrap_or("(none)"),
            ];
            expected.sort_unstable();
            assert_eq!(
                listed, expected,
                "{external_id}: the engagement's referrals"
            );
            let connected = referrals
                .iter()
                .find(|r| r["id"].as_str() == record.connected_referral_id.as_deref())
                .ok_or("no connected referral")?;
            assert_eq!(connected["target"][0]["id"], "msft", "{connected}");
        }
        Ok(())
    }

    /// [`Self::assert_engagements`] for one record.
    pub fn assert_engagement(&self, ws: &Workspace, external_id: &str) -> TestResult {
        self.assert_engagements(ws, &[external_id.to_owned()])
    }
}

/// A sandbox in this process, and a view of it. The sandbox stops when this is dropped.
pub struct Peer {
    // Declared first: dropped (stopped) before the runtime it runs on.
    pub sandbox: RunningSandbox,
    pub api: Api,
}

impl Peer {
    /// Start a sandbox with `config` on the view's own runtime (its address is known only
    /// once it listens, so the view's base URL is filled in then).
    pub fn start(config: SandboxConfig) -> TestResult<Peer> {
        let mut api = Api::new("")?;
        let sandbox = api.block_on(sandbox::start(config))?;
        api.base_url.clone_from(&sandbox.base_url);
        Ok(Peer { sandbox, api })
    }

    /// A sandbox with its defaults (idempotency on, no faults).
    pub fn healthy() -> TestResult<Peer> {
        Self::start(SandboxConfig::default())
    }

    /// Stop the sandbox and wait until it has closed every connection and its state file
    /// (so that another sandbox can open the same `--state`).
    pub fn stop(self) {
        let Peer { sandbox, api } = self;
        api.block_on(sandbox.shutdown());
    }

    pub fn url(&self) -> &str {
        &self.sandbox.base_url
    }
}

impl std::ops::Deref for Peer {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}
