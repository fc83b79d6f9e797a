//! The credential files: a token file (trimmed), and a `KEY=value` OAuth settings file; neither
//! may be readable by group or others. Errors name the file and line, never a value, nor the
//! key of a line that is not a known setting (it may be a pasted secret).

use std::collections::BTreeMap;
use std::path::Path;

use super::{AuthError, SETTING_KEYS};
use crate::api::secret::Secret;

/// Read a token file; refuse one that group or others may read.
pub(super) fn read_token_file(path: &Path) -> Result<Secret, AuthError> {
    check_private(path)?;
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Io {
        path: path.to_owned(),
        source,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(AuthError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(Secret::new(token))
}

/// Read a `KEY=value` settings file; refuse one that group or others may read.
pub fn read_settings_file(path: &Path) -> Result<BTreeMap<String, String>, AuthError> {
    let io = |source| AuthError::Io {
        path: path.to_owned(),
        source,
    };
    check_private(path)?;
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse_settings(path, &text)
}

#[cfg(unix)]
pub(super) fn check_private(path: &Path) -> Result<(), AuthError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| AuthError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(AuthError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn check_private(_path: &Path) -> Result<(), AuthError> {
    Ok(())
}

/// Parse `KEY=value` lines; blank lines and `#` comments are skipped, values may be quoted.
pub fn parse_settings(path: &Path, text: &str) -> Result<BTreeMap<String, String>, AuthError> {
    let mut settings = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let syntax = |message: String| AuthError::Syntax {
            path: path.to_owned(),
            line: index + 1,
            message,
        };
        let Some((key, value)) = line.split_once('=') else {
            return Err(syntax("expected KEY=value".into()));
        };
        let key = key
            .trim()
            .trim_start_matches("PARTNER_")
            .to_ascii_uppercase();
        if !SETTING_KEYS.contains(&key.as_str()) {
            // The key is not repeated: a stray line may be a pasted token or password.
            return Err(syntax(format!(
                "unknown key (not shown: a stray line may hold a secret); expected one of {}",
                SETTING_KEYS.join(", ")
            )));
        }
        let value = unquote(value.trim());
        if settings.insert(key.clone(), value.to_owned()).is_some() {
            return Err(syntax(format!("{key} is set twice")));
        }
    }
    Ok(settings)
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn settings_lines_comments_quotes_and_prefixes() {
        let text = "# partner app\nCLIENT_ID = abc\n\nPARTNER_CLIENT_SECRET=\"s3=cr3t\"\nresource='https://x'\n";
        let settings = parse_settings(Path::new("o.env"), text).expect("valid");
        assert_eq!(settings.get("CLIENT_ID").map(String::as_str), Some("abc"));
        assert_eq!(
            settings.get("CLIENT_SECRET").map(String::as_str),
            Some("s3=cr3t")
        );
        assert_eq!(
            settings.get("RESOURCE").map(String::as_str),
            Some("https://x")
        );
    }

    #[test]
    fn settings_errors_name_the_line_and_never_the_value() {
        let err = parse_settings(Path::new("o.env"), "CLIENT_ID=a\nCLIENT_SECRT=hunter2\n")
            .expect_err("typo");
        let text = err.to_string();
        assert!(text.starts_with("o.env:2: unknown key"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let err = parse_settings(Path::new("o.env"), "0.AXoA-pasted-refresh-token==\n")
            .expect_err("a stray token line");
        let text = err.to_string();
        assert!(text.starts_with("o.env:1: unknown key"), "{text}");
        assert!(!text.contains("AXoA"), "{text}");
        let err = parse_settings(Path::new("o.env"), "just-a-token\n").expect_err("no =");
        assert_eq!(err.to_string(), "o.env:1: expected KEY=value");
        let err = parse_settings(Path::new("o.env"), "TENANT=a\nTENANT=b\n").expect_err("twice");
        assert_eq!(err.to_string(), "o.env:2: TENANT is set twice");
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_readable_by_group_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "eyJ0eXAi.token\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let err = read_token_file(&path).expect_err("group-readable");
        assert!(
            matches!(err, AuthError::Permissions { mode: 0o640, .. }),
            "{err:?}"
        );
        assert!(!err.to_string().contains("eyJ0eXAi"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_settings_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("oauth.env");
        std::fs::write(&path, "CLIENT_ID=a\nCLIENT_SECRET=b\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = read_settings_file(&path).expect_err("world-readable");
        assert!(
            matches!(err, AuthError::Permissions { mode: 0o644, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read_settings_file(&path).expect("private").len(), 2);
    }

    #[test]
    fn token_files_are_trimmed_and_must_not_be_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "  abc.def \n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        assert_eq!(read_token_file(&path).expect("token").expose(), "abc.def");
        std::fs::write(&path, "\n \n").expect("write");
        assert!(matches!(
            read_token_file(&path),
            Err(AuthError::Empty { .. })
        ));
    }
}
