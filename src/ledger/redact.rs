//! Redaction of command lines before they are stored (runs table, lock file): the values of
//! flags that carry credentials are replaced, and so are the user name, password and
//! secret-looking query values of every URL on the line (`--api-url https://u:p@host/`), so
//! the ledger never holds a secret.

use url::Url;

/// Flag name parts that mark a value as secret.
const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "key",
    "credential",
    "auth",
];

/// Query parameter names that carry a credential without a secret word in them (signed URLs,
/// function keys).
const SECRET_QUERY_NAMES: &[&str] = &["sig", "signature", "code", "pwd", "pass"];

/// What replaces a secret value.
const REDACTED: &str = "<redacted>";

/// What replaces a secret inside a URL (a word that needs no percent-encoding there).
const REDACTED_IN_URL: &str = "redacted";

/// Join `args` with spaces, replacing the value of every secret-looking flag (`--token x`,
/// `--client-secret=x`, `--api-key x`, ...) with `<redacted>`. Paths such as `--token-file`
/// are kept: a path is not a secret and the admin needs it.
pub fn redact_args(args: &[String]) -> String {
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for arg in args {
        if hide_next {
            // Even a value starting with `-` is the flag's value: never risk printing it.
            hide_next = false;
            out.push(REDACTED.to_owned());
            continue;
        }
        match arg.split_once('=') {
            Some((flag, _)) if is_secret_flag(flag) => out.push(format!("{flag}={REDACTED}")),
            Some((flag, value)) if flag.starts_with("--") => {
                out.push(format!("{flag}={}", redact_url(value)));
            }
            _ => {
                hide_next = is_secret_flag(arg);
                out.push(redact_url(arg));
            }
        }
    }
    out.join(" ")
}

/// A long flag whose name contains a secret word and does not name a file, path or URL.
fn is_secret_flag(flag: &str) -> bool {
    let Some(name) = flag.strip_prefix("--") else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    let names_file = name.ends_with("-file") || name.ends_with("-path") || name.ends_with("-url");
    !names_file && SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// `text` as it may be shown or stored: when it is a URL, its user name and password and the
/// values of secret-looking query parameters (`token`, `api_key`, `sig`, `code`, ...) read
/// `redacted`. Anything that is not a URL comes back unchanged.
pub fn redact_url(text: &str) -> String {
    let Ok(mut url) = Url::parse(text) else {
        return text.to_owned();
    };
    let mut changed = false;
    if !url.username().is_empty() || url.password().is_some() {
        // A URL that can hold a user name can lose its password; neither call fails then.
        let _ = url.set_password(None);
        let _ = url.set_username(REDACTED_IN_URL);
        changed = true;
    }
    if let Some(query) = url.query() {
        let parts: Vec<String> = query.split('&').map(redact_query_part).collect();
        let redacted = parts.join("&");
        if redacted != query {
            url.set_query(Some(&redacted));
            changed = true;
        }
    }
    if changed {
        url.to_string()
    } else {
        text.to_owned()
    }
}

/// One `name=value` of a query, its value replaced when the name looks like a credential.
fn redact_query_part(part: &str) -> String {
    let Some((name, _)) = part.split_once('=') else {
        return part.to_owned();
    };
    let decoded: String = form_urlencoded::parse(name.as_bytes())
        .map(|(key, _)| key.to_ascii_lowercase())
        .collect();
    let secret = SECRET_WORDS.iter().any(|w| decoded.contains(w))
        || SECRET_QUERY_NAMES.contains(&decoded.as_str());
    if secret {
        format!("{name}={REDACTED_IN_URL}")
    } else {
        part.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{redact_args, redact_url};

    #[test]
    fn urls_lose_their_user_password_and_secret_query_values() {
        assert_eq!(
            redact_url("http://admin:hunter2@127.0.0.1:8484/"),
            "http://redacted@127.0.0.1:8484/"
        );
        assert_eq!(
            redact_url(
                "https://login.example/t/oauth2/token?api-version=1&client_secret=s3&sig=x%3D&Code=42"
            ),
            "https://login.example/t/oauth2/token?api-version=1&client_secret=redacted&sig=redacted&Code=redacted"
        );
        for plain in [
            "https://api.partner.microsoft.com",
            "in.csv",
            "C:\\data\\x.csv",
            "a=b",
        ] {
            assert_eq!(redact_url(plain), plain);
        }
    }

    #[test]
    fn url_values_on_a_command_line_are_redacted_in_either_flag_form() {
        let line = "referral-sync upload --api-url http://u:pw1@h/ \
                    --token-url=https://h/t?token=pw2 in.csv";
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        let text = redact_args(&args);
        assert_eq!(
            text,
            "referral-sync upload --api-url http://redacted@h/ \
             --token-url=https://h/t?token=redacted in.csv"
        );
    }
}
