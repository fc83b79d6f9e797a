//! The Partner Center Referral resource, as on the wire, and its validation.

use std::fmt;

/// One problem in a payload, located by its JSON path (`customerProfile.address.country`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem of a create payload, all of them, not just the first.
pub fn validate_create(_payload: &serde_json::Value) -> Vec<FieldError> {
    Vec::new()
}

/// Whether a referral in `from_status` may move to `to_status`/`to_substatus`.
pub fn validate_transition(
    _from_status: &str,
    _to_status: &str,
    _to_substatus: Option<&str>,
) -> Result<(), FieldError> {
    Ok(())
}
