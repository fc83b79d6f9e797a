//! The shapes of requests and answers: referrals kept as whole JSON, JSON Patch operations,
//! and the decoding of 2xx answers into them (with the JSON path of whatever does not fit).

use reqwest::header::{ETAG, HeaderMap};
use reqwest::{Method, Url};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::ApiError;
use crate::api::secret::KnownSecrets;

/// A referral as the API returned it: the whole JSON plus typed accessors.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiReferral {
    id: String,
    json: Value,
}

impl ApiReferral {
    /// Accept a JSON object with a string `id`; the error says what is wrong.
    pub fn from_json(json: Value) -> Result<Self, String> {
        if !json.is_object() {
            return Err("expected a referral object".into());
        }
        match json.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Ok(ApiReferral {
                id: id.to_owned(),
                json,
            }),
            _ => Err("the referral has no string `id`".into()),
        }
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn engagement_id(&self) -> Option<&str> {
        self.text("engagementId")
    }
    pub fn etag(&self) -> Option<&str> {
        self.text("eTag")
    }
    pub fn external_reference_id(&self) -> Option<&str> {
        self.text("externalReferenceId")
    }
    pub fn status(&self) -> Option<&str> {
        self.text("status")
    }
    pub fn substatus(&self) -> Option<&str> {
        self.text("substatus")
    }
    pub fn json(&self) -> &Value {
        &self.json
    }
    pub fn into_json(self) -> Value {
        self.json
    }
}

/// The JSON Patch operations the API supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchKind {
    Add,
    Replace,
}

/// One JSON Patch (RFC 6902) operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    pub op: PatchKind,
    pub path: String,
    pub value: Value,
}

impl PatchOp {
    pub fn replace(path: impl Into<String>, value: Value) -> Self {
        PatchOp {
            op: PatchKind::Replace,
            path: path.into(),
            value,
        }
    }
    pub fn add(path: impl Into<String>, value: Value) -> Self {
        PatchOp {
            op: PatchKind::Add,
            path: path.into(),
            value,
        }
    }
}

/// The answer to a PATCH or PUT: the referral when the server sent it, and the new eTag.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    pub referral: Option<ApiReferral>,
    pub etag: Option<String>,
}

/// One request, re-sent as is on every attempt.
pub(super) struct Call {
    pub(super) method: Method,
    pub(super) url: Url,
    pub(super) body: Option<Vec<u8>>,
    pub(super) request_id: Option<Uuid>,
    pub(super) if_match: Option<String>,
    pub(super) prefer_representation: bool,
    /// Cut out of whatever the answer says before it becomes an error.
    pub(super) secrets: KnownSecrets,
}

impl Call {
    /// The error for an answer that does not fit the contract at `json_path`.
    pub(super) fn decode(&self, json_path: &str, message: &str) -> ApiError {
        let message = self.secrets.redact(message);
        ApiError::decode(&self.method, self.url.path(), json_path, message)
    }
}

/// A 2xx answer.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

pub(super) fn serialize(
    call: &Call,
    body: &(impl Serialize + ?Sized),
) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(body).map_err(|e| call.decode("$", &e.to_string()))
}

pub(super) fn json_of(call: &Call, answer: &Answer) -> Result<Value, ApiError> {
    serde_json::from_slice(&answer.body).map_err(|e| {
        let message = format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        );
        call.decode("$", &message)
    })
}

pub(super) fn referral_of(call: &Call, answer: &Answer) -> Result<ApiReferral, ApiError> {
    ApiReferral::from_json(json_of(call, answer)?).map_err(|message| call.decode("$", &message))
}

pub(super) fn updated_of(call: &Call, answer: &Answer) -> Result<Updated, ApiError> {
    let header_etag = answer
        .headers
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if answer.status == 204 || answer.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Updated {
            referral: None,
            etag: header_etag,
        });
    }
    let referral = referral_of(call, answer)?;
    let etag = header_etag.or_else(|| referral.etag().map(str::to_owned));
    Ok(Updated {
        referral: Some(referral),
        etag,
    })
}
