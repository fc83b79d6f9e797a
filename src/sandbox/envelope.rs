//! The error bodies the sandbox answers with, in the shapes of the API contract.
//!
//! Every error is the documented envelope `{"error":{"code","message","target"}}` (spec §9),
//! except throttling, which answers like the Partner Center gateway does:
//! `{"statusCode":429,"message":"Rate limit is exceeded. Try again in N seconds."}` (§10).
//! Clients must cope with both, so the sandbox serves both.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::referral::FieldError;

/// The longest `message` the contract allows.
const MAX_MESSAGE: usize = 1024;

/// An error answer of the API.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub target: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            target: target.into(),
            retry_after: None,
        }
    }

    /// 400 `invalidRequest`.
    pub fn invalid(message: impl Into<String>, target: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalidRequest", message, target)
    }

    /// 400 naming every bad field: the message lists `path: problem` pairs, the target the
    /// paths, both separated by `; ` and `, `.
    pub fn fields(errors: &[FieldError]) -> Self {
        let message = errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        let target = errors
            .iter()
            .map(|e| e.path.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        ApiError::invalid(message, target)
    }

    /// 404 `itemNotFound` for a referral id.
    pub fn not_found(id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            format!("no referral with id {id:?}"),
            "id",
        )
    }

    /// 401 `unauthenticated`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            message,
            "Authorization",
        )
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut message = self.message;
        if message.is_empty() {
            message = self.code.to_string();
        }
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE - 1;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let body = json!({"error": {"code": self.code, "message": message, "target": self.target}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"referral-sync sandbox\""),
            );
        }
        response
    }
}

/// The gateway's throttling answer: 429, an integer `Retry-After`, and its own body shape.
pub fn throttled(retry_after: u64) -> Response {
    let body = json!({
        "statusCode": 429,
        "message": format!("Rate limit is exceeded. Try again in {retry_after} seconds."),
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_are_all_named() {
        let errors = [
            FieldError {
                path: "type".into(),
                message: "is required".into(),
            },
            FieldError {
                path: "customerProfile.address.country".into(),
                message: "not an ISO 3166 code".into(),
            },
        ];
        let e = ApiError::fields(&errors);
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.target, "type, customerProfile.address.country");
        assert!(e.message.contains("type: is required"));
        assert!(e.message.contains("country: not an ISO 3166 code"));
    }
}
