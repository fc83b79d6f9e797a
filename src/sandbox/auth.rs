//! Bearer tokens: the sandbox's own Azure AD v1-style token endpoint, and the check every API
//! request passes.
//!
//! Issued tokens read `sbx.<expires_on>.<random>.<tenant>`: the expiry travels inside the
//! token, so an expired token is refused with 401 even after a restart, and a client's refresh
//! logic is exercised for real (`--token-lifetime 1`). The tenant is the one of the token
//! endpoint's path (`/{tenant}/oauth2/token`, `common` without one); the API throttles per
//! tenant, as Partner Center does per partner tenant, so every token of a tenant shares one
//! rate-limit budget. The `--token` is one tenant; any other token (the sandbox cannot know
//! whose it is) stands for a tenant of its own. Without `--token`, any other non-empty bearer
//! token is accepted too; with `--token T`, only `T` is (the token endpoint still answers, but
//! its tokens are refused, as a wrong tenant's would be), and the admin routes under
//! `/sandbox/` need `T` as well. Tokens are compared in constant time and never logged.
//!
//! The JWTs of the v2.0 sign-in endpoints (`authority`) are refused once their `exp` has
//! passed, and app-only ones always: the Referrals API requires App+User. Their rate-limit
//! bucket is their tenant (`tid`).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::envelope::ApiError;
use super::state::lock;

const ISSUED_PREFIX: &str = "sbx.";
const REFRESH_PREFIX: &str = "sbxr.";
const DEFAULT_RESOURCE: &str = "https://api.partner.microsoft.com";
/// The tenant of tokens from `/oauth2/token` and of in-process tokens.
const DEFAULT_TENANT: &str = "common";

/// The static token of `--token`, and the refresh tokens this process issued.
pub struct Auth {
    static_token: Option<String>,
    lifetime: Duration,
    refresh_tokens: Mutex<HashSet<String>>,
}

impl Auth {
    pub fn new(static_token: Option<String>, lifetime: Duration) -> Self {
        Auth {
            static_token,
            lifetime,
            refresh_tokens: Mutex::new(HashSet::new()),
        }
    }

    /// Check a request's `Authorization` header; the tenant of the accepted token is returned
    /// (the key of its rate-limit bucket).
    pub fn check(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let token = bearer(headers)?;
        if let Some(expected) = &self.static_token {
            return if same_token(token, expected) {
                Ok("static".to_owned())
            } else {
                Err(not_authorized())
            };
        }
        if let Some(claims) = super::authority::issued_claims(token) {
            return check_issued_jwt(&claims);
        }
        match issued_parts(token) {
            Some((expires_on, _)) if expires_on <= jiff::Timestamp::now().as_second() => {
                Err(ApiError::unauthenticated("the access token has expired"))
            }
            Some((_, tenant)) => Ok(format!("tenant {}", tenant.unwrap_or(DEFAULT_TENANT))),
            None => Ok(format!("token {token}")),
        }
    }

    /// Whether a request may use the admin routes (`reset`, deleting a referral): anyone
    /// without `--token`, else only a caller that sends that token.
    pub fn check_admin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.static_token else {
            return Ok(());
        };
        if same_token(bearer(headers)?, expected) {
            Ok(())
        } else {
            Err(not_authorized())
        }
    }

    /// `POST /oauth2/token` with a form body: `client_credentials`, `refresh_token` or
    /// `password` grants. Errors answer in the Azure AD shape (`error`, `error_description`).
    pub fn token_endpoint(&self, form: &[(String, String)], tenant: Option<&str>) -> Response {
        let tenant = tenant.unwrap_or(DEFAULT_TENANT);
        let plain = |c: char| c.is_ascii_alphanumeric() || ".-_".contains(c);
        if tenant.is_empty() || !tenant.chars().all(plain) {
            return aad_error(
                "invalid_tenant",
                "the tenant is not a tenant id or domain name",
            );
        }
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let grant = field("grant_type");
        let missing = match grant {
            None => Some("grant_type"),
            Some("client_credentials") => field("client_id").map_or(Some("client_id"), |_| None),
            Some("password") => ["client_id", "username", "password"]
                .into_iter()
                .find(|name| field(name).is_none()),
            Some("refresh_token") => field("refresh_token").map_or(Some("refresh_token"), |_| None),
            Some(_) => {
                return aad_error(
                    "unsupported_grant_type",
                    "grant_type must be client_credentials, refresh_token or password",
                );
            }
        };
        if let Some(name) = missing {
            return aad_error("invalid_request", &format!("{name} is required"));
        }
        if grant == Some("refresh_token") {
            let known = field("refresh_token")
                .is_some_and(|token| lock(&self.refresh_tokens).contains(token));
            if !known {
                return aad_error(
                    "invalid_grant",
                    "the refresh token is unknown to this sandbox",
                );
            }
        }
        self.issue(field("resource").unwrap_or(DEFAULT_RESOURCE), tenant)
    }

    fn issue(&self, resource: &str, tenant: &str) -> Response {
        let now = jiff::Timestamp::now().as_second();
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX / 2);
        let expires_on = now.saturating_add(lifetime);
        let access = format!(
            "{ISSUED_PREFIX}{expires_on}.{}.{tenant}",
            uuid::Uuid::new_v4().simple()
        );
        let refresh = format!("{REFRESH_PREFIX}{}", uuid::Uuid::new_v4().simple());
        lock(&self.refresh_tokens).insert(refresh.clone());
        let body = json!({
            "token_type": "Bearer",
            "expires_in": lifetime.to_string(),
            "ext_expires_in": lifetime.to_string(),
            "expires_on": expires_on.to_string(),
            "not_before": now.to_string(),
            "resource": resource,
            "access_token": access,
            "refresh_token": refresh,
        });
        (StatusCode::OK, Json(body)).into_response()
    }

    /// A token the API accepts: the `--token` one, or a fresh one valid for the configured
    /// lifetime (for in-process callers such as `upload --sandbox`).
    pub fn mint(&self) -> String {
        if let Some(token) = &self.static_token {
            return token.clone();
        }
        let expires_on = jiff::Timestamp::now()
            .as_second()
            .saturating_add(i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX / 2));
        format!(
            "{ISSUED_PREFIX}{expires_on}.{}.{DEFAULT_TENANT}",
            uuid::Uuid::new_v4().simple()
        )
    }
}

/// A JWT of the sandbox's v2.0 endpoints: unexpired, and for a user.
fn check_issued_jwt(claims: &serde_json::Value) -> Result<String, ApiError> {
    let exp = claims.get("exp").and_then(serde_json::Value::as_i64);
    if exp.is_none_or(|exp| exp <= jiff::Timestamp::now().as_second()) {
        return Err(ApiError::unauthenticated("the access token has expired"));
    }
    if claims.get("idtyp").and_then(serde_json::Value::as_str) == Some("app") {
        return Err(ApiError::unauthenticated(
            "app-only tokens are not accepted: this API requires App+User (delegated) tokens",
        ));
    }
    let tenant = claims.get("tid").and_then(serde_json::Value::as_str);
    Ok(format!("tenant {}", tenant.unwrap_or(DEFAULT_TENANT)))
}

/// The token of a request's `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("the Authorization header is missing"))?;
    let text = value.to_str().unwrap_or_default().trim();
    text.get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        .and_then(|_| text.get(7..))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthenticated("the Authorization header is not `Bearer <token>`")
        })
}

/// Whether `token` is `expected`, in a time that does not tell how much of it matched.
fn same_token(token: &str, expected: &str) -> bool {
    token.as_bytes().ct_eq(expected.as_bytes()).into()
}

fn not_authorized() -> ApiError {
    ApiError::unauthenticated("Caller is not authorized to access the resource.")
}

/// The expiry (Unix seconds) and the tenant inside a token this sandbox could have issued
/// (tokens of earlier versions carry no tenant).
fn issued_parts(token: &str) -> Option<(i64, Option<&str>)> {
    let rest = token.strip_prefix(ISSUED_PREFIX)?;
    let (expires_on, rest) = rest.split_once('.')?;
    (!rest.is_empty()).then_some(())?;
    let tenant = rest.split_once('.').map(|(_, tenant)| tenant);
    Some((expires_on.parse().ok()?, tenant.filter(|t| !t.is_empty())))
}

fn aad_error(code: &str, description: &str) -> Response {
    let body = json!({"error": code, "error_description": description});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn static_token_is_required_exactly() {
        let auth = Auth::new(Some("secret".into()), Duration::from_secs(60));
        assert!(auth.check(&bearer("secret")).is_ok());
        assert!(auth.check(&bearer("other")).is_err());
        assert!(auth.check(&HeaderMap::new()).is_err());
        assert_eq!(auth.mint(), "secret");
        assert!(auth.check(&bearer("sbx.99999999999.issued")).is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let auth = Auth::new(None, Duration::from_secs(60));
        assert_eq!(
            auth.check(&bearer("anything")).ok().as_deref(),
            Some("token anything")
        );
        let future = jiff::Timestamp::now().as_second() + 60;
        let issued = format!("sbx.{future}.abc.contoso.example");
        let tenant = auth.check(&bearer(&issued)).ok();
        assert_eq!(tenant.as_deref(), Some("tenant contoso.example"));
        let older = auth.check(&bearer(&format!("sbx.{future}.abc"))).ok();
        assert_eq!(older.as_deref(), Some("tenant common"));
        let past = jiff::Timestamp::now().as_second() - 5;
        assert!(auth.check(&bearer(&format!("sbx.{past}.abc"))).is_err());
    }
}
