//! A wrapper for credentials, so that a token can never reach a log line, an error message or
//! a `{:?}` dump by accident.
//!
//! Bearer tokens, client secrets, refresh tokens and passwords are only ever held in a
//! [`Secret`]. Its `Debug` and `Display` print `[redacted]`; the value is reachable only through
//! the explicit [`Secret::expose`], which is called where the value goes on the wire.
//!
//! A server may still send a credential back (a gateway that echoes the `Authorization` header
//! in its error page, a token endpoint that quotes the form it got). [`KnownSecrets`] holds
//! every credential the run has, and every text that comes from outside passes through it
//! where it enters (the API client's errors, the token endpoint's refusals), before anything
//! can log or store it.

use std::cmp::Reverse;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

/// A string that prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself; call this only where it is sent.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the credential is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

/// What a known secret is replaced with in text from outside.
pub const REDACTED: &str = "[redacted]";

/// The credentials a run holds (tokens as they are issued, client secret, refresh token,
/// password), shared by the token source and the API client; cheap to clone.
#[derive(Clone, Default)]
pub struct KnownSecrets(Arc<RwLock<Vec<String>>>);

impl KnownSecrets {
    /// Remember `secret`, as it is and in the forms it takes in a form body, a URL or a JSON
    /// string. The empty string is no secret.
    pub fn add(&self, secret: &Secret) {
        let value = secret.expose();
        if value.is_empty() {
            return;
        }
        let form: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
        let json = serde_json::to_string(value).unwrap_or_default();
        let json = json
            .strip_prefix('"')
            .and_then(|j| j.strip_suffix('"'))
            .unwrap_or_default();
        let mut known = self.0.write().unwrap_or_else(PoisonError::into_inner);
        for variant in [value, &form, &form.replace('+', "%20"), json] {
            if !variant.is_empty() && !known.iter().any(|k| k == variant) {
                known.push(variant.to_owned());
            }
        }
        // The longest first, so that a secret holding another is replaced whole.
        known.sort_by_key(|k| Reverse(k.len()));
    }

    /// `text` with every known secret replaced by [`REDACTED`]; one shorter than
    /// [`SHORT_SECRET`] characters only where it stands alone, not inside a word.
    pub fn redact(&self, text: &str) -> String {
        let known = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let mut text = text.to_owned();
        for secret in known.iter() {
            if !text.contains(secret.as_str()) {
                continue;
            }
            text = match secret.chars().count() < SHORT_SECRET {
                true => replace_alone(&text, secret),
                false => text.replace(secret.as_str(), REDACTED),
            };
        }
        text
    }
}

/// Secrets shorter than this (a sandbox's `demo` token, a test's `t`) are cut out only where
/// they stand alone: everywhere, a one-letter token turned every message into
/// `i[redac[redacted]ed]…`. Issued tokens and passwords are far longer.
pub const SHORT_SECRET: usize = 8;

/// `text` with each occurrence of `secret` that no letter or digit touches replaced.
fn replace_alone(text: &str, secret: &str) -> String {
    let in_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in text.match_indices(secret) {
        let end = at + secret.len();
        if in_word(text[..at].chars().next_back()) || in_word(text[end..].chars().next()) {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str(REDACTED);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

impl fmt::Debug for KnownSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.read().unwrap_or_else(PoisonError::into_inner).len();
        write!(f, "KnownSecrets({count} forms)")
    }
}

#[cfg(test)]
mod tests {
    use super::{KnownSecrets, Secret};

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new("eyJ0eXAiOiJKV1Qi.super-secret");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(secret.expose(), "eyJ0eXAiOiJKV1Qi.super-secret");
    }

    #[test]
    fn empty_is_detected() {
        assert!(Secret::new("").is_empty());
        assert!(!Secret::new("x").is_empty());
    }

    #[test]
    fn known_secrets_are_cut_out_in_every_form() {
        let known = KnownSecrets::default();
        known.add(&Secret::new("p@ss word/\\\"x"));
        known.add(&Secret::new("tok"));
        known.add(&Secret::new("tok-longer"));
        known.add(&Secret::new(""));
        let echoed = r#"Bearer tok-longer; password=p%40ss+word%2F%5C%22x; {"p":"p@ss word/\\\"x"}; p@ss word/\"x"#;
        assert_eq!(
            known.redact(echoed),
            r#"Bearer [redacted]; password=[redacted]; {"p":"[redacted]"}; [redacted]"#
        );
        assert_eq!(
            known.redact("p%40ss%20word%2F%5C%22x tok"),
            "[redacted] [redacted]"
        );
        assert_eq!(known.redact("nothing here"), "nothing here");
        assert!(!format!("{known:?}").contains("tok"));
    }

    #[test]
    fn a_short_secret_is_cut_out_where_it_stands_alone_not_inside_words() {
        let known = KnownSecrets::default();
        known.add(&Secret::new("t"));
        assert_eq!(
            known.redact("the token has expired; Bearer t; token=t&x=1; \"t\""),
            "the token has expired; Bearer [redacted]; token=[redacted]&x=1; \"[redacted]\""
        );
        known.add(&Secret::new("eyJ0eXAi.long-token"));
        assert_eq!(
            known.redact("ateyJ0eXAi.long-tokenz"),
            "at[redacted]z",
            "a long secret is cut out wherever it stands"
        );
    }
}
