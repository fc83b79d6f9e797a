//! The Referrals API client: one pooled HTTP client, the contract's headers, retries and
//! pacing on every call, and answers kept as whole JSON.
//!
//! Every call goes through [`retry::run`]: one rate-limiter permit per attempt, fresh
//! `MS-CorrelationId` and `client-request-id` per attempt, and the same `MS-RequestId` on
//! every attempt of a create (the server's idempotency key). A 401 triggers one token refresh
//! and one resend. When a create's answer is lost (an ambiguous failure), the next attempt
//! first looks the referral up by its `externalReferenceId`, so a referral the server did
//! create is returned rather than created twice.
//!
//! Paging follows `@odata.nextLink` as given, absolute or relative, but only on the API's own
//! host (the bearer token goes with it), upgraded to https when the API is https (the docs'
//! own example link says `http://`).
//!
//! [`ApiReferral`] keeps the whole JSON of a referral, so that fields this client does not
//! know survive a GET-then-PUT, with accessors for the fields the uploader needs.

mod pages;
mod recover;
mod types;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;
use tokio::time::Instant;
use uuid::Uuid;

pub use self::pages::Pages;
use self::pages::encode_query_value;
pub use self::recover::Recovery;
use self::types::{Answer, Call, referral_of, serialize, updated_of};
pub use self::types::{ApiReferral, PatchKind, PatchOp, Updated};
use crate::api::auth::{AuthError, TokenSource};
pub use crate::api::error::{ApiError, ErrorBody, parse_error_body, parse_retry_after, truncate};
use crate::api::http::{USER_AGENT, install_crypto_provider};
use crate::api::rate_limit::RateLimiter;
use crate::api::retry::{self, RetryPolicy};
use crate::api::secret::{KnownSecrets, Secret};
use crate::api::stop::Stop;
use crate::cli::ApiArgs;
use crate::ledger::redact_url;

/// The resource path under the API's base URL.
pub const REFERRALS_PATH: &str = "/v1.0/engagements/referrals";

/// Where the API is, and how patient to be with it.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The base URL, before `/v1.0/engagements/referrals`.
    pub api_url: String,
    /// Per-request timeout.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// From `--api-url` and `--timeout`, with `max_retries` retries.
    pub fn from_args(args: &ApiArgs, max_retries: u32) -> Result<Self, crate::Error> {
        let timeout = Duration::try_from_secs_f64(args.timeout)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| {
                crate::Error::usage(format!(
                    "--timeout {}: expected a positive number of seconds",
                    args.timeout
                ))
            })?;
        Ok(ClientConfig {
            api_url: args.api_url.clone(),
            timeout,
            retry: RetryPolicy::with_max_retries(max_retries),
        })
    }
}

/// The Referrals API client; cheap to clone, shared by all workers.
#[derive(Debug, Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    referrals: Url,
    auth: TokenSource,
    secrets: KnownSecrets,
    limiter: Option<Arc<RateLimiter>>,
    retry: RetryPolicy,
    filter_unsupported: AtomicBool,
    stats: RequestStats,
    stop: Stop,
}

/// What the client sent: every HTTP attempt, the retries among them, and the 429 answers.
#[derive(Debug, Default)]
pub struct RequestStats {
    pub requests: std::sync::atomic::AtomicU64,
    pub retries: std::sync::atomic::AtomicU64,
    pub throttled: std::sync::atomic::AtomicU64,
}

impl ApiClient {
    /// A client for the API at `config.api_url`.
    pub fn new(
        config: ClientConfig,
        auth: TokenSource,
        limiter: Option<Arc<RateLimiter>>,
    ) -> Result<Self, crate::Error> {
        install_crypto_provider();
        let referrals = referrals_url(&config.api_url)?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| crate::Error::usage(format!("HTTP client: {e}")))?;
        Ok(ApiClient {
            inner: Arc::new(Inner {
                http,
                referrals,
                secrets: auth.known_secrets(),
                auth,
                limiter,
                retry: config.retry,
                filter_unsupported: AtomicBool::new(false),
                stats: RequestStats::default(),
                stop: Stop::default(),
            }),
        })
    }

    /// Counts of the requests sent so far.
    pub fn stats(&self) -> &RequestStats {
        &self.inner.stats
    }

    /// The signal that ends every wait of this client's calls (see [`Stop`]).
    pub fn stop_signal(&self) -> &Stop {
        &self.inner.stop
    }

    /// The URL of the referrals collection.
    pub fn referrals_url(&self) -> &Url {
        &self.inner.referrals
    }

    /// Whether the server turned down `$filter` on `externalReferenceId` (cached after once).
    pub fn filter_unsupported(&self) -> bool {
        self.inner.filter_unsupported.load(Ordering::Relaxed)
    }

    fn item_url(&self, id: &str) -> Url {
        let mut url = self.inner.referrals.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(id);
        }
        url
    }

    fn call(&self, method: Method, url: Url) -> Call {
        Call {
            method,
            url,
            body: None,
            request_id: None,
            if_match: None,
            prefer_representation: false,
            secrets: self.inner.secrets.clone(),
        }
    }

    /// Create a referral. Any 2xx is success. `request_id` goes out as `MS-RequestId` on
    /// every attempt, so a server that deduplicates by it creates the referral once.
    pub async fn create(&self, body: &Value, request_id: Uuid) -> Result<ApiReferral, ApiError> {
        // The API binds property names without regard to case; so does this lookup.
        let external_id = body.as_object().and_then(|object| {
            object
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case("externalReferenceId"))
                .and_then(|(_, value)| value.as_str())
        });
        let recovery = match external_id {
            Some(external_id) => Recovery::ExternalId(external_id),
            None => Recovery::None,
        };
        self.create_with(body, request_id, recovery).await
    }

    /// Create a referral; after an answer that may have been lost, `recovery` says how to find
    /// the referral the lost request may have made before sending again.
    pub async fn create_with(
        &self,
        body: &Value,
        request_id: Uuid,
        recovery: Recovery<'_>,
    ) -> Result<ApiReferral, ApiError> {
        let mut call = self.call(Method::POST, self.inner.referrals.clone());
        call.body = Some(serialize(&call, body)?);
        call.request_id = Some(request_id);
        let recovery = &recovery;
        let refreshed = AtomicBool::new(false);
        let maybe_applied = AtomicBool::new(false);
        let (retry, stop) = (&self.inner.retry, &self.inner.stop);
        let answer = retry::run(retry, self.limiter(), stop, |attempt| {
            let (call, refreshed, maybe_applied) = (&call, &refreshed, &maybe_applied);
            async move {
                if maybe_applied.load(Ordering::Relaxed)
                    && let Some(found) = self.recover(recovery).await?
                {
                    return Ok(Recovered::Found(found));
                }
                let result = self.attempt(call, attempt, refreshed).await;
                if let Err(err) = &result {
                    maybe_applied.store(err.is_ambiguous(), Ordering::Relaxed);
                }
                result.map(Recovered::Answer)
            }
        })
        .await?;
        match answer {
            Recovered::Found(referral) => Ok(referral),
            Recovered::Answer(answer) => referral_of(&call, &answer),
        }
    }

    /// Read one referral.
    pub async fn get(&self, id: &str) -> Result<ApiReferral, ApiError> {
        let call = self.call(Method::GET, self.item_url(id));
        let answer = self.execute(&call).await?;
        referral_of(&call, &answer)
    }

    /// Partially update a referral with JSON Patch; `If-Match` when given. The server is asked
    /// for the updated referral (`Prefer: return=representation`); a 204 gives `None`.
    pub async fn patch(
        &self,
        id: &str,
        ops: &[PatchOp],
        if_match: Option<&str>,
    ) -> Result<Updated, ApiError> {
        let mut call = self.call(Method::PATCH, self.item_url(id));
        call.body = Some(serialize(&call, ops)?);
        call.if_match = if_match.map(str::to_owned);
        call.prefer_representation = true;
        let answer = self.execute(&call).await?;
        updated_of(&call, &answer)
    }

    /// Replace a referral; the body is a referral from a GET with changes. Its `links` object
    /// is dropped, as the API requires.
    pub async fn put(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Updated, ApiError> {
        let mut call = self.call(Method::PUT, self.item_url(id));
        let mut body = body.clone();
        if let Some(object) = body.as_object_mut() {
            object.remove("links");
        }
        call.body = Some(serialize(&call, &body)?);
        call.if_match = if_match.map(str::to_owned);
        let answer = self.execute(&call).await?;
        updated_of(&call, &answer)
    }

    /// The pages of a listing, optionally filtered and ordered (OData `$filter`, `$orderby`).
    pub fn list(&self, filter: Option<&str>, orderby: Option<&str>) -> Pages {
        let mut url = self.inner.referrals.clone();
        let query: Vec<String> = [("$filter", filter), ("$orderby", orderby)]
            .into_iter()
            .filter_map(|(key, value)| value.map(|v| format!("{key}={}", encode_query_value(v))))
            .collect();
        if !query.is_empty() {
            url.set_query(Some(&query.join("&")));
        }
        Pages::new(self.clone(), url)
    }

    /// Every referral of a listing.
    pub async fn list_all(
        &self,
        filter: Option<&str>,
        orderby: Option<&str>,
    ) -> Result<Vec<ApiReferral>, ApiError> {
        let mut pages = self.list(filter, orderby);
        let mut all = Vec::new();
        while let Some(page) = pages.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    /// The referrals whose `externalReferenceId` is exactly `external_id`, oldest first when
    /// the server cannot filter. Falls back to listing everything when the server answers 400
    /// to the filter, and remembers that for later calls.
    pub async fn find_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Vec<ApiReferral>, ApiError> {
        let exact = |all: Vec<ApiReferral>| -> Vec<ApiReferral> {
            all.into_iter()
                .filter(|r| r.external_reference_id() == Some(external_id))
                .collect()
        };
        if !self.filter_unsupported() {
            let filter = format!(
                "externalReferenceId eq '{}'",
                external_id.replace('\'', "''")
            );
            match self.list_all(Some(&filter), None).await {
                Ok(found) => return Ok(exact(found)),
                Err(ApiError::Http { status: 400, .. }) => {
                    self.inner.filter_unsupported.store(true, Ordering::Relaxed);
                    tracing::warn!(
                        "the API rejects $filter on externalReferenceId; listing every referral instead"
                    );
                }
                Err(err) => return Err(err),
            }
        }
        Ok(exact(
            self.list_all(None, Some("createdDateTime asc")).await?,
        ))
    }

    fn limiter(&self) -> Option<&RateLimiter> {
        self.inner.limiter.as_deref()
    }

    /// Send `call` with retries.
    async fn execute(&self, call: &Call) -> Result<Answer, ApiError> {
        let refreshed = AtomicBool::new(false);
        let (retry, stop) = (&self.inner.retry, &self.inner.stop);
        retry::run(retry, self.limiter(), stop, |attempt| {
            self.attempt(call, attempt, &refreshed)
        })
        .await
    }

    /// One attempt; on the first 401 of a call, refresh the token and send once more.
    async fn attempt(
        &self,
        call: &Call,
        attempt: u32,
        refreshed: &AtomicBool,
    ) -> Result<Answer, ApiError> {
        let auth = &self.inner.auth;
        let stop = &self.inner.stop;
        let token = stop.wait(auth.token()).await??;
        let result = self.send(call, &token, attempt).await;
        let unauthorized = matches!(&result, Err(err) if err.status() == Some(401));
        if !unauthorized || !auth.can_refresh() || refreshed.swap(true, Ordering::Relaxed) {
            return result;
        }
        tracing::debug!("HTTP 401: refreshing the token once");
        let token = stop.wait(auth.refresh_rejected(&token)).await??;
        if let Some(limiter) = self.limiter() {
            stop.wait(limiter.acquire()).await?;
        }
        self.send(call, &token, attempt).await
    }

    /// The request of one attempt: the contract's headers, fresh per-attempt ids.
    fn request(&self, call: &Call, token: &Secret) -> Result<reqwest::RequestBuilder, ApiError> {
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| ApiError::Auth(AuthError::InvalidToken))?;
        bearer.set_sensitive(true);
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, bearer)
            .header(ACCEPT, "application/json")
            .header("MS-CorrelationId", Uuid::new_v4().to_string())
            .header("client-request-id", Uuid::new_v4().to_string());
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if let Some(id) = call.request_id {
            request = request.header("MS-RequestId", id.to_string());
        }
        if let Some(etag) = &call.if_match {
            request = request.header("If-Match", etag);
        }
        if call.prefer_representation {
            request = request.header("Prefer", "return=representation");
        }
        Ok(request)
    }

    /// Send once; a non-2xx answer is an error.
    async fn send(&self, call: &Call, token: &Secret, attempt: u32) -> Result<Answer, ApiError> {
        let path = call.url.path().to_owned();
        let request = self.request(call, token)?;
        let stats = &self.inner.stats;
        stats.requests.fetch_add(1, Ordering::Relaxed);
        if attempt > 1 {
            stats.retries.fetch_add(1, Ordering::Relaxed);
        }
        let started = Instant::now();
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::transport(&call.method, &path, e, &call.secrets));
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let response = match response {
            Ok(response) => response,
            Err(err) => {
                tracing::debug!(method = %call.method, path, attempt, elapsed_ms, error = %err, "request failed");
                return Err(err);
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| ApiError::transport(&call.method, &path, e, &call.secrets))?;
        tracing::debug!(method = %call.method, path, status, elapsed_ms, attempt, "request");
        if status == 429 {
            stats.throttled.fetch_add(1, Ordering::Relaxed);
        }
        if !(200..300).contains(&status) {
            return Err(ApiError::http(
                &call.method,
                &path,
                status,
                &headers,
                &body,
                &call.secrets,
            ));
        }
        Ok(Answer {
            status,
            headers,
            body: body.to_vec(),
        })
    }
}

/// The referrals collection under `--api-url`. A user name and password in the URL are
/// dropped (the API takes a bearer token, and a second `Authorization` header would confuse
/// it); errors and warnings show the URL without them or any secret-like query value.
fn referrals_url(api_url: &str) -> Result<Url, crate::Error> {
    let shown = redact_url(api_url);
    let base = api_url.trim_end_matches('/');
    let mut referrals = Url::parse(&format!("{base}{REFERRALS_PATH}"))
        .map_err(|e| crate::Error::usage(format!("--api-url {shown}: {e}")))?;
    if !matches!(referrals.scheme(), "http" | "https") {
        return Err(crate::Error::usage(format!(
            "--api-url {shown}: expected an http(s) URL"
        )));
    }
    if !referrals.username().is_empty() || referrals.password().is_some() {
        tracing::warn!(
            "--api-url {shown}: the user name and password in the URL are not sent; the API \
             takes a bearer token"
        );
        // Cannot fail on an http(s) URL, which has a host.
        let _ = referrals.set_username("");
        let _ = referrals.set_password(None);
    }
    Ok(referrals)
}

enum Recovered {
    Found(ApiReferral),
    Answer(Answer),
}
