//! The errors of API calls, and how an HTTP error answer is read.
//!
//! Partner Center answers errors in two shapes: the `{"error":{"code","message","target"}}`
//! envelope of the Referrals API, and the `{"statusCode":429,"message":…}` body of the
//! throttling gateway; a gateway may also answer plain text or HTML. All three become
//! [`ApiError::Http`], with the message cut to 1024 characters (the documented maximum).
//! `Retry-After` is read as seconds or as an HTTP date.
//!
//! Every text here that came from outside (a body, a header, a transport error's chain) has
//! the run's [`KnownSecrets`] cut out when the error is made, before it is cut to length, so
//! that a server echoing the `Authorization` header cannot put a token into a log, the ledger
//! or a report.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use crate::api::auth::AuthError;
use crate::api::secret::KnownSecrets;

/// The longest error message kept (the API documents 1024 characters as its maximum).
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// Why an API call failed. Never carries a token.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No answer. `ambiguous` is false when the connection failed before any byte was sent
    /// (the request certainly had no effect), true when it may have reached the server.
    #[error("{method} {path}: {}: {source}", if *.ambiguous { "no answer (the request may have been applied)" } else { "could not connect" })]
    Transport {
        method: &'static str,
        path: Box<str>,
        ambiguous: bool,
        #[source]
        source: TransportFailure,
    },
    /// The API answered a non-2xx status.
    #[error("{method} {path}: HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Http {
        method: &'static str,
        path: Box<str>,
        status: u16,
        code: Option<Box<str>>,
        message: Box<str>,
        target: Option<Box<str>>,
        retry_after: Option<Duration>,
        request_id: Option<Box<str>>,
    },
    /// A 2xx answer that is not what the contract says.
    #[error("{method} {path}: unexpected answer at {json_path}: {message}")]
    Decode {
        method: &'static str,
        path: Box<str>,
        json_path: Box<str>,
        message: Box<str>,
    },
    /// No token could be had, or a static token was rejected.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The run is stopping (Ctrl-C, SIGTERM): the request was not sent, or its
    /// wait for a retry, a rate-limit slot or a token was cut short.
    #[error("not sent: the run is stopping")]
    Stopped,
}

impl ApiError {
    /// The HTTP status, when the API answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the request may have been applied although it failed: a lost answer, or a
    /// 500/502/504 (the server or a gateway may have failed after applying it).
    pub fn is_ambiguous(&self) -> bool {
        match self {
            ApiError::Transport { ambiguous, .. } => *ambiguous,
            ApiError::Http { status, .. } => matches!(status, 500 | 502 | 504),
            ApiError::Decode { .. } | ApiError::Auth(_) | ApiError::Stopped => false,
        }
    }

    /// Whether the credentials are at fault (no token, 401, 403): the run should stop.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, ApiError::Auth(_)) || matches!(self.status(), Some(401 | 403))
    }

    /// A few words for logs and retry decisions.
    pub fn short_reason(&self) -> String {
        match self {
            ApiError::Transport {
                ambiguous: true, ..
            } => "no answer".into(),
            ApiError::Transport { .. } => "connection failed".into(),
            ApiError::Http { status, code, .. } => match code {
                Some(code) => format!("HTTP {status} {code}"),
                None => format!("HTTP {status}"),
            },
            ApiError::Decode { json_path, .. } => format!("unexpected answer at {json_path}"),
            ApiError::Auth(_) => "authentication failed".into(),
            ApiError::Stopped => "stopped".into(),
        }
    }

    /// The error for a transport failure of `method path`.
    pub fn transport(
        method: &Method,
        path: &str,
        source: reqwest::Error,
        secrets: &KnownSecrets,
    ) -> Self {
        ApiError::Transport {
            method: method_name(method),
            path: path.into(),
            ambiguous: !source.is_connect(),
            source: TransportFailure::new(&source.without_url(), secrets),
        }
    }

    /// The error for a non-2xx answer.
    pub fn http(
        method: &Method,
        path: &str,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        secrets: &KnownSecrets,
    ) -> Self {
        let parsed = parse_redacted_error_body(body, secrets);
        ApiError::Http {
            method: method_name(method),
            path: path.into(),
            status,
            code: parsed.code.map(String::into_boxed_str),
            message: parsed.message.into_boxed_str(),
            target: parsed.target.map(String::into_boxed_str),
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after),
            request_id: headers
                .get("request-id")
                .and_then(|v| v.to_str().ok())
                .map(|id| truncate(&secrets.redact(id)).into_boxed_str()),
        }
    }

    /// The error for a 2xx answer that does not fit the contract.
    pub fn decode(
        method: &Method,
        path: &str,
        json_path: &str,
        message: impl Into<String>,
    ) -> Self {
        ApiError::Decode {
            method: method_name(method),
            path: path.into(),
            json_path: json_path.into(),
            message: message.into().into_boxed_str(),
        }
    }
}

/// The method's name; the client only sends the standard ones.
fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "HTTP",
    }
}

/// A transport failure's text: the error and its causes on one line, with the run's secrets
/// cut out (the `reqwest` error itself cannot be cleaned, so it is not kept).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportFailure(Box<str>);

impl TransportFailure {
    fn new(error: &(dyn std::error::Error + 'static), secrets: &KnownSecrets) -> Self {
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(inner) = cause {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            cause = inner.source();
        }
        TransportFailure(truncate(&secrets.redact(&text)).into_boxed_str())
    }
}

/// The parts of an error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: Option<String>,
    pub message: String,
    pub target: Option<String>,
}

/// Read an error body: the `error` envelope, the throttling body, or anything else as text.
pub fn parse_error_body(body: &[u8]) -> ErrorBody {
    parse_redacted_error_body(body, &KnownSecrets::default())
}

/// [`parse_error_body`] with `secrets` cut out of every part, before anything is cut to length
/// (in the raw text, and again in each decoded string, whose escapes may have hidden one).
pub fn parse_redacted_error_body(body: &[u8], secrets: &KnownSecrets) -> ErrorBody {
    let raw = secrets.redact(&String::from_utf8_lossy(body));
    if let Ok(json) = serde_json::from_str::<Value>(&raw) {
        let text = |v: &Value, key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .map(|found| secrets.redact(found))
        };
        match json.get("error") {
            Some(envelope @ Value::Object(_)) => {
                return ErrorBody {
                    code: text(envelope, "code").map(|c| truncate(&c)),
                    message: truncate(&text(envelope, "message").unwrap_or_default()),
                    target: text(envelope, "target").map(|t| truncate(&t)),
                };
            }
            Some(Value::String(code)) => {
                return ErrorBody {
                    code: Some(truncate(&secrets.redact(code))),
                    message: truncate(&text(&json, "error_description").unwrap_or_default()),
                    target: None,
                };
            }
            _ => {}
        }
        if let Some(message) = text(&json, "message").or_else(|| text(&json, "Message")) {
            return ErrorBody {
                code: None,
                message: truncate(&message),
                target: None,
            };
        }
    }
    let raw = raw.trim();
    ErrorBody {
        code: None,
        message: if raw.is_empty() {
            "(empty body)".into()
        } else {
            truncate(raw)
        },
        target: None,
    }
}

/// At most [`MAX_MESSAGE_CHARS`] characters, with `…` when cut.
pub fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// `Retry-After` as delay-seconds or as an HTTP date (a past date means no wait).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_envelope_is_read() {
        let body = br#"{"error":{"code":"invalidRequest","message":"Bad type","target":"referral","innerError":{"code":"x"}}}"#;
        let parsed = parse_error_body(body);
        assert_eq!(parsed.code.as_deref(), Some("invalidRequest"));
        assert_eq!(parsed.message, "Bad type");
        assert_eq!(parsed.target.as_deref(), Some("referral"));
    }

    #[test]
    fn the_throttling_body_is_read() {
        let body =
            br#"{"statusCode":429,"message":"Rate limit is exceeded. Try again in 57 seconds."}"#;
        let parsed = parse_error_body(body);
        assert_eq!(parsed.code, None);
        assert_eq!(
            parsed.message,
            "Rate limit is exceeded. Try again in 57 seconds."
        );
    }

    #[test]
    fn aad_errors_and_text_bodies_are_read() {
        let parsed =
            parse_error_body(br#"{"error":"invalid_grant","error_description":"AADSTS70000"}"#);
        assert_eq!(parsed.code.as_deref(), Some("invalid_grant"));
        assert_eq!(parsed.message, "AADSTS70000");
        assert_eq!(
            parse_error_body(b"<html>Bad Gateway</html>").message,
            "<html>Bad Gateway</html>"
        );
        assert_eq!(parse_error_body(b"").message, "(empty body)");
        assert_eq!(
            parse_error_body(&[0xff, 0xfe, b'a']).message,
            "\u{fffd}\u{fffd}a"
        );
    }

    #[test]
    fn known_secrets_are_cut_out_of_every_part_before_it_is_cut_to_length() {
        let secrets = KnownSecrets::default();
        secrets.add(&crate::api::secret::Secret::new("tok/en-4a91c2"));
        let envelope =
            br#"{"error":{"code":"Bearer tok/en-4a91c2","message":"got tok\/en-4a91c2","target":"tok/en-4a91c2"}}"#;
        let parsed = parse_redacted_error_body(envelope, &secrets);
        assert_eq!(parsed.code.as_deref(), Some("Bearer [redacted]"));
        assert_eq!(parsed.message, "got [redacted]");
        assert_eq!(parsed.target.as_deref(), Some("[redacted]"));
        let aad =
            br#"{"error":"tok/en-4a91c2","error_description":"client_secret=tok%2Fen-4a91c2"}"#;
        let parsed = parse_redacted_error_body(aad, &secrets);
        assert_eq!(parsed.code.as_deref(), Some("[redacted]"));
        assert_eq!(parsed.message, "client_secret=[redacted]");
        // A token across the cut would leave its first part behind if it were cut first.
        let mut page = "x".repeat(MAX_MESSAGE_CHARS - 3);
        page.push_str("tok/en-4a91c2");
        let parsed = parse_redacted_error_body(page.as_bytes(), &secrets);
        assert!(!parsed.message.contains("tok"), "{}", parsed.message);
        let mut headers = HeaderMap::new();
        headers.insert("request-id", "tok/en-4a91c2".parse().expect("header"));
        let err = ApiError::http(
            &Method::GET,
            "/x",
            500,
            &headers,
            b"Bearer tok/en-4a91c2",
            &secrets,
        );
        assert!(!format!("{err} {err:?}").contains("tok/en"), "{err:?}");
    }

    #[test]
    fn long_messages_are_cut_at_1024_characters() {
        let long = "é".repeat(5000);
        let parsed = parse_error_body(long.as_bytes());
        assert_eq!(parsed.message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(parsed.message.ends_with('…'));
    }

    #[test]
    fn retry_after_as_seconds_or_date() {
        assert_eq!(parse_retry_after("57"), Some(Duration::from_secs(57)));
        assert_eq!(
            parse_retry_after(" 1.5 "),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
        let header = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&soon)
            .expect("printable");
        let wait = parse_retry_after(&header).expect("a date");
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-3"), None);
    }
}
