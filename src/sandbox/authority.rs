//! The sandbox as an Entra ID authority (v2.0 endpoints), so that `referral-sync login` and
//! the refresh of a stored sign-in are exercised for real, over HTTP, without a tenant.
//!
//! `POST /{tenant}/oauth2/v2.0/devicecode` starts a device authorization (RFC 8628);
//! `POST /{tenant}/oauth2/v2.0/token` answers the `device_code` and `refresh_token` grants,
//! and the grants referral-sync refuses as Entra would answer them for this API: `password`
//! works until `--require-mfa` (then `interaction_required`, AADSTS50076, as under MFA
//! enforcement); `client_credentials` needs a `/.default` scope and yields an app-only token,
//! which the API then refuses (it requires App+User). A pending code is approved by
//! `--approve-device-codes` at its first poll, or by `POST /sandbox/device` with its
//! `user_code` (`action=deny` declines it). With `--rotate-refresh-tokens` each refresh token
//! works once.
//!
//! Access tokens are unsigned JWTs (`alg: none`) carrying `upn`, `tid`, `amr`, `scp` and
//! `exp`; the API accepts them until `exp` (see `auth`). `--latency` delays token answers as
//! it delays API answers. Tokens are never logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::config::SignInOptions;
use super::routes::read_body;
use super::state::{App, lock};

/// The tenant id of sign-ins to `organizations`, `common` or a domain.
pub const SANDBOX_TENANT_ID: &str = "7c2b8f3e-5d4a-4e1b-9a6c-0d5e8f1a2b3c";
/// The account that signs in with a device code.
pub const SANDBOX_ACCOUNT: &str = "admin@partner.sandbox.example";
/// The issuer of the sandbox's JWTs (how the API recognises them).
pub const ISSUER: &str = "https://sts.sandbox.invalid/";
const API_SCOPE: &str = "https://api.partner.microsoft.com/user_impersonation";
const DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(900);
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Pending device codes and the refresh tokens issued.
pub struct Authority {
    options: SignInOptions,
    lifetime: Duration,
    device_codes: Mutex<HashMap<String, Pending>>,
    refresh_tokens: Mutex<HashMap<String, Subject>>,
}

/// A device code waiting for its user.
struct Pending {
    user_code: String,
    subject: Subject,
    expires_at: Instant,
    last_poll: Option<Instant>,
    decision: Option<bool>,
}

/// Who a token is for.
#[derive(Clone)]
struct Subject {
    account: Option<String>,
    tenant_id: String,
    amr: Vec<&'static str>,
    client_id: String,
}

type Form = Vec<(String, String)>;

impl Authority {
    pub fn new(options: SignInOptions, lifetime: Duration) -> Self {
        Authority {
            options,
            lifetime,
            device_codes: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
        }
    }

    fn device_code(&self, host: &str, tenant: &str, form: &Form) -> Response {
        let Some(client_id) = field(form, "client_id") else {
            return entra_error("invalid_request", "AADSTS900144: client_id is required");
        };
        let device_code = uuid::Uuid::new_v4().simple().to_string();
        let user_code = device_code[..8].to_ascii_uppercase();
        let subject = Subject {
            account: Some(SANDBOX_ACCOUNT.into()),
            tenant_id: tenant_id(tenant),
            amr: vec!["pwd", "mfa"],
            client_id: client_id.into(),
        };
        let pending = Pending {
            user_code: user_code.clone(),
            subject,
            expires_at: Instant::now() + DEVICE_CODE_LIFETIME,
            last_poll: None,
            decision: None,
        };
        lock(&self.device_codes).insert(device_code.clone(), pending);
        let uri = format!("http://{host}/sandbox/device");
        Json(json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": uri,
            "expires_in": DEVICE_CODE_LIFETIME.as_secs(),
            "interval": POLL_INTERVAL.as_secs(),
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
        }))
        .into_response()
    }

    fn token(&self, tenant: &str, form: &Form) -> Response {
        match field(form, "grant_type") {
            Some("urn:ietf:params:oauth:grant-type:device_code") => self.device_grant(form),
            Some("refresh_token") => self.refresh_grant(form),
            Some("password") => self.password_grant(tenant, form),
            Some("client_credentials") => self.app_only_grant(tenant, form),
            _ => entra_error(
                "unsupported_grant_type",
                "AADSTS70003: the app requested an unsupported grant type",
            ),
        }
    }

    fn device_grant(&self, form: &Form) -> Response {
        let code = field(form, "device_code").unwrap_or_default();
        let mut codes = lock(&self.device_codes);
        let Some(pending) = codes.get_mut(code) else {
            return entra_error("invalid_grant", "AADSTS70000: the device code is not valid");
        };
        let now = Instant::now();
        if now >= pending.expires_at {
            codes.remove(code);
            return entra_error("expired_token", "AADSTS70020: the device code has expired");
        }
        if self.options.approve_device_codes && pending.decision.is_none() {
            pending.decision = Some(true);
        }
        let too_soon = pending
            .last_poll
            .is_some_and(|last| now.duration_since(last) < POLL_INTERVAL);
        pending.last_poll = Some(now);
        match pending.decision {
            Some(true) => {
                let subject = pending.subject.clone();
                codes.remove(code);
                drop(codes);
                self.issue(&subject, true)
            }
            Some(false) => {
                codes.remove(code);
                entra_error(
                    "access_denied",
                    "AADSTS70019: the user declined the sign-in",
                )
            }
            None if too_soon => entra_error("slow_down", "poll no faster than the interval"),
            None => entra_error(
                "authorization_pending",
                "AADSTS70016: the user has not yet entered the code",
            ),
        }
    }

    fn refresh_grant(&self, form: &Form) -> Response {
        let token = field(form, "refresh_token").unwrap_or_default();
        let subject = {
            let mut tokens = lock(&self.refresh_tokens);
            if self.options.rotate_refresh_tokens {
                tokens.remove(token)
            } else {
                tokens.get(token).cloned()
            }
        };
        let Some(subject) = subject else {
            return entra_error(
                "invalid_grant",
                "AADSTS70000: the refresh token is not valid: unknown, expired, revoked or \
                 already used",
            );
        };
        self.issue(&subject, true)
    }

    fn password_grant(&self, tenant: &str, form: &Form) -> Response {
        let missing = ["client_id", "username", "password"]
            .into_iter()
            .find(|name| field(form, name).is_none());
        if let Some(name) = missing {
            return entra_error(
                "invalid_request",
                &format!("AADSTS900144: {name} is required"),
            );
        }
        if self.options.require_mfa {
            return mfa_required();
        }
        let subject = Subject {
            account: field(form, "username").map(str::to_owned),
            tenant_id: tenant_id(tenant),
            amr: vec!["pwd"],
            client_id: field(form, "client_id").unwrap_or_default().into(),
        };
        self.issue(&subject, true)
    }

    fn app_only_grant(&self, tenant: &str, form: &Form) -> Response {
        if !field(form, "scope").is_some_and(|scope| scope.ends_with("/.default")) {
            return entra_error(
                "invalid_scope",
                "AADSTS1002012: The provided value for scope is not valid. Client credential \
                 flows must have a scope value with /.default suffixed to the resource \
                 identifier (application ID URI).",
            );
        }
        let subject = Subject {
            account: None,
            tenant_id: tenant_id(tenant),
            amr: Vec::new(),
            client_id: field(form, "client_id").unwrap_or_default().into(),
        };
        self.issue(&subject, false)
    }

    /// An access token for `subject`, and a refresh token when `refresh` (not for app-only).
    fn issue(&self, subject: &Subject, refresh: bool) -> Response {
        let lifetime = self.lifetime.as_secs();
        let mut body = json!({
            "token_type": "Bearer",
            "scope": API_SCOPE,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token(subject, lifetime),
        });
        if refresh {
            let token = format!("sbxr2.{}", uuid::Uuid::new_v4().simple());
            lock(&self.refresh_tokens).insert(token.clone(), subject.clone());
            body["refresh_token"] = token.into();
        }
        (StatusCode::OK, Json(body)).into_response()
    }

    fn decide(&self, user_code: &str, approve: bool) -> bool {
        let mut codes = lock(&self.device_codes);
        let found = codes
            .values_mut()
            .find(|pending| pending.user_code.eq_ignore_ascii_case(user_code.trim()));
        found
            .map(|pending| pending.decision = Some(approve))
            .is_some()
    }
}

/// An unsigned JWT for `subject`, valid for `lifetime` seconds.
fn access_token(subject: &Subject, lifetime: u64) -> String {
    let now = jiff::Timestamp::now().as_second();
    let exp = now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX / 2));
    let mut claims = json!({
        "aud": "https://api.partner.microsoft.com",
        "iss": format!("{ISSUER}{}/", subject.tenant_id),
        "iat": now, "nbf": now, "exp": exp,
        "tid": subject.tenant_id,
        "appid": subject.client_id,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
    });
    match &subject.account {
        Some(account) => {
            claims["upn"] = account.as_str().into();
            claims["amr"] = json!(subject.amr);
            claims["scp"] = "user_impersonation".into();
            claims["idtyp"] = "user".into();
        }
        None => claims["idtyp"] = "app".into(),
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// The claims of a token this sandbox issued (recognised by its issuer), unverified.
pub fn issued_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let iss = claims.get("iss")?.as_str()?;
    iss.starts_with(ISSUER).then_some(claims)
}

fn tenant_id(tenant: &str) -> String {
    match uuid::Uuid::parse_str(tenant) {
        Ok(id) => id.hyphenated().to_string(),
        Err(_) => SANDBOX_TENANT_ID.to_owned(),
    }
}

fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn mfa_required() -> Response {
    entra_error(
        "interaction_required",
        "AADSTS50076: Due to a configuration change made by your administrator, or because you \
         moved to a new location, you must use multi-factor authentication to access \
         'https://api.partner.microsoft.com'.",
    )
}

fn entra_error(code: &str, description: &str) -> Response {
    let body = json!({"error": code, "error_description": description});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn read_form(headers: &HeaderMap, body: Body) -> Result<Form, Response> {
    let bytes = read_body(headers, body)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub async fn device_code_route(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    match read_form(&headers, body).await {
        Ok(form) => app.authority.device_code(&host, &tenant, &form),
        Err(refused) => refused,
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token_route(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let form = match read_form(&headers, body).await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    // Entra's token answers take time too: `--latency` widens the window in which two
    // commands could spend the same refresh token, as a real authority does.
    tokio::time::sleep(app.config.latency).await;
    app.authority.token(&tenant, &form)
}

/// `POST /sandbox/device` with `user_code` (and `action=deny` to decline): what the user
/// does in the browser.
pub async fn decide_route(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let form = match read_form(&headers, body).await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let approve = field(&form, "action") != Some("deny");
    let user_code = field(&form, "user_code").unwrap_or_default();
    if app.authority.decide(user_code, approve) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        entra_error("invalid_request", "no pending sign-in has this user_code")
    }
}
