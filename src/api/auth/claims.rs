//! What an access token says about who signed in: the account, the tenant and how the user
//! authenticated (`amr`), read from the token's JWT payload for `whoami` and the credentials
//! file.
//!
//! The signature is not verified: the claims are only displayed and recorded, never trusted
//! for a decision. A token that is not JWT-shaped yields empty claims rather than an error
//! (Partner Center accepts opaque tokens too).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The claims of an access token that `whoami` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// The user principal name (`upn`, else `preferred_username`, else `unique_name`).
    #[serde(default)]
    upn: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    unique_name: Option<String>,
    /// The tenant id (`tid`).
    #[serde(default)]
    pub tid: Option<String>,
    /// How the user authenticated (`pwd`, `mfa`, `rsa`, …).
    #[serde(default)]
    pub amr: Vec<String>,
}

impl Claims {
    /// The claims in the payload of `token`; empty when it is not a readable JWT.
    pub fn of(token: &str) -> Claims {
        let mut parts = token.split('.');
        let (Some(_header), Some(payload)) = (parts.next(), parts.next()) else {
            return Claims::default();
        };
        URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// The signed-in account, when the token names one.
    pub fn account(&self) -> Option<&str> {
        [&self.upn, &self.preferred_username, &self.unique_name]
            .into_iter()
            .find_map(|name| name.as_deref().filter(|n| !n.is_empty()))
    }

    /// Whether the user passed multi-factor authentication.
    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|method| method == "mfa")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &serde_json::Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(payload.to_string());
        format!("{header}.{body}.")
    }

    #[test]
    fn account_tenant_and_mfa_come_from_the_payload() {
        let token = jwt(&serde_json::json!({
            "upn": "ada@contoso.example", "tid": "t-1", "amr": ["pwd", "mfa"], "exp": 1
        }));
        let claims = Claims::of(&token);
        assert_eq!(claims.account(), Some("ada@contoso.example"));
        assert_eq!(claims.tid.as_deref(), Some("t-1"));
        assert!(claims.has_mfa());
        let fallback = Claims::of(&jwt(
            &serde_json::json!({"unique_name": "bob@x", "amr": ["pwd"]}),
        ));
        assert_eq!(fallback.account(), Some("bob@x"));
        assert!(!fallback.has_mfa());
    }

    #[test]
    fn opaque_or_broken_tokens_have_no_claims() {
        for token in ["opaque", "a.!!!.c", "a.e30", ""] {
            assert_eq!(Claims::of(token).account(), None, "{token}");
        }
    }
}
