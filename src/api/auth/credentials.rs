//! The credentials file that `referral-sync login` writes and every API command reads: who
//! signed in, against which authority, tenant and app registration, and the refresh token
//! that keeps a headless run (cron) going without a person.
//!
//! It is JSON, mode 0600, refused when group or others may read it. Every write goes to a
//! temporary file in the same directory, is flushed to disk and renamed over the old one, so a
//! crash leaves either the old or the new file, never half of one. Writers and the readers that
//! are about to spend the refresh token hold an OS lock on `FILE.lock` beside it (see
//! [`lock`]). A parse error names the line and column but never repeats the text there: a
//! stray line may be a pasted token.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AuthError;
use super::claims::Claims;
use super::files::check_private;
use crate::api::secret::Secret;

/// The Entra ID authority of the public cloud.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The delegated permission of the Partner Center API, and a refresh token.
pub const SCOPE: &str = "https://api.partner.microsoft.com/user_impersonation offline_access";
const FIELDS: &str = "authority, tenant, client_id, scope, refresh_token, account, tenant_id, \
                      amr, signed_in_at, renewed_at";

/// A stored sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The authority's base URL, e.g. `https://login.microsoftonline.com`.
    pub authority: String,
    /// The tenant signed in to, as given to `login` (`organizations`, a domain or an id).
    pub tenant: String,
    /// The application (client) id of the app registration.
    pub client_id: String,
    pub scope: String,
    #[serde(with = "secret_text")]
    pub refresh_token: Secret,
    /// The signed-in account (`upn`), when the token names it.
    pub account: Option<String>,
    /// The tenant id (`tid`) of the signed-in account.
    pub tenant_id: Option<String>,
    /// How the user authenticated (`amr`), as the last access token says.
    #[serde(default)]
    pub amr: Vec<String>,
    pub signed_in_at: Timestamp,
    /// When the refresh token was last renewed (by `login` or a refresh).
    pub renewed_at: Timestamp,
}

impl Credentials {
    /// A fresh sign-in: `access` is read for the account, tenant and `amr`.
    pub fn signed_in(
        authority: &str,
        tenant: &str,
        client_id: &str,
        access: &str,
        refresh: Secret,
    ) -> Self {
        let now = Timestamp::now();
        let mut credentials = Credentials {
            authority: authority.trim_end_matches('/').to_owned(),
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
            scope: SCOPE.to_owned(),
            refresh_token: refresh,
            account: None,
            tenant_id: None,
            amr: Vec::new(),
            signed_in_at: now,
            renewed_at: now,
        };
        credentials.renewed(access, None);
        credentials
    }

    /// Record what a new access token says, and the rotated refresh token if one came.
    pub fn renewed(&mut self, access: &str, rotated: Option<Secret>) {
        let claims = Claims::of(access);
        if let Some(account) = claims.account() {
            self.account = Some(account.to_owned());
        }
        if claims.tid.is_some() {
            self.tenant_id = claims.tid.clone();
        }
        if !claims.amr.is_empty() {
            self.amr = claims.amr;
        }
        if let Some(token) = rotated {
            self.refresh_token = token;
            self.renewed_at = Timestamp::now();
        }
    }

    /// Whether the last access token says the user passed multi-factor authentication.
    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|method| method == "mfa")
    }

    /// The v2.0 endpoint `name` (`token`, `devicecode`) of this authority and tenant.
    pub fn endpoint(&self, name: &str) -> String {
        endpoint(&self.authority, &self.tenant, name)
    }
}

/// `{authority}/{tenant}/oauth2/v2.0/{name}`.
pub fn endpoint(authority: &str, tenant: &str, name: &str) -> String {
    format!(
        "{}/{tenant}/oauth2/v2.0/{name}",
        authority.trim_end_matches('/')
    )
}

/// The file used when no `--credentials` is given: `$XDG_CONFIG_HOME/referral-sync/
/// credentials.json`, else `~/.config/referral-sync/credentials.json` (`env` looks up a
/// variable of the environment).
pub fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let config = env("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some(config.join("referral-sync").join("credentials.json"))
}

/// Read and check a credentials file.
pub fn read(path: &Path) -> Result<Credentials, AuthError> {
    let io = |source| AuthError::Io {
        path: path.to_owned(),
        source,
    };
    if !path.exists() {
        return Err(AuthError::NotSignedIn {
            path: path.to_owned(),
        });
    }
    check_private(path)?;
    let text = std::fs::read(path).map_err(io)?;
    serde_json::from_slice(&text).map_err(|e| AuthError::Syntax {
        path: path.to_owned(),
        line: e.line(),
        message: parse_message(&e),
    })
}

/// A serde error told without the text it was looking at.
fn parse_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let inner = text.split(" at line ").next().unwrap_or_default();
    match e.classify() {
        serde_json::error::Category::Data if inner.starts_with("unknown field") => format!(
            "column {}: unknown key (not shown: a stray line may hold a secret); expected one of \
             {FIELDS}",
            e.column()
        ),
        serde_json::error::Category::Data if inner.starts_with("missing field") => {
            format!("{inner}; run `referral-sync login` again")
        }
        serde_json::error::Category::Data => {
            format!("column {}: a value has the wrong type", e.column())
        }
        _ => format!("column {}: not valid JSON", e.column()),
    }
}

/// Write `credentials` to `path` atomically, mode 0600 (the directory is created 0700).
pub fn write(path: &Path, credentials: &Credentials) -> Result<(), AuthError> {
    let io = |source| AuthError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = parent(path);
    create_private_dir(dir).map_err(io)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let text = serde_json::to_vec_pretty(credentials).map_err(|e| io(e.into()))?;
    let _ = std::fs::remove_file(&temp);
    let written = private_file(&temp)
        .and_then(|mut file| {
            file.write_all(&text)?;
            file.write_all(b"\n")?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, path))
        .and_then(|()| sync_dir(dir));
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io(source));
    }
    Ok(())
}

/// Remove the credentials file; whether there was one.
pub fn remove(path: &Path) -> Result<bool, AuthError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(AuthError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// An exclusive OS lock on `FILE.lock`, held until dropped. Whoever spends or replaces the
/// refresh token holds it, and reads the file again after taking it: another process may have
/// rotated the token in the meantime. The lock dies with its process.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// Take the lock of the credentials file `path`, waiting while another process holds it.
pub fn lock(path: &Path) -> Result<FileLock, AuthError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let lock_path = path.with_file_name(name);
    let io = |source| AuthError::Io {
        path: lock_path.clone(),
        source,
    };
    create_private_dir(parent(path)).map_err(io)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(io)?;
    file.lock().map_err(io)?;
    Ok(FileLock { _file: file })
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Make the rename durable (a directory entry is only on disk once its directory is synced).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The refresh token is stored as plain text in the (private) file, and nowhere else.
mod secret_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::api::secret::Secret;

    pub fn serialize<S: Serializer>(secret: &Secret, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(secret.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Secret, D::Error> {
        String::deserialize(input).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Credentials {
        Credentials::signed_in(
            "https://login.example/",
            "organizations",
            "app-1",
            "opaque",
            Secret::new("rt-1"),
        )
    }

    #[cfg(unix)]
    #[test]
    fn written_files_are_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/credentials.json");
        write(&path, &sample()).expect("written");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = read(&path).expect("read");
        assert_eq!(back.refresh_token.expose(), "rt-1");
        assert_eq!(
            back.endpoint("token"),
            "https://login.example/organizations/oauth2/v2.0/token"
        );
        let leftovers = std::fs::read_dir(path.parent().expect("dir"))
            .expect("dir")
            .count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn a_stray_line_is_located_but_never_repeated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("credentials.json");
        let mut text = serde_json::to_string_pretty(&sample()).expect("json");
        text = text.replacen('{', "{\n  \"0.AXoA-pasted-token-value\": 1,", 1);
        write_private(&path, &text);
        let err = read(&path).expect_err("unknown key").to_string();
        assert!(err.contains("credentials.json:2: column"), "{err}");
        assert!(err.contains("unknown key"), "{err}");
        assert!(!err.contains("pasted-token-value"), "{err}");
        write_private(&path, "{\"authority\": \"rt-secret-value\" ");
        let err = read(&path).expect_err("truncated").to_string();
        assert!(!err.contains("rt-secret-value"), "{err}");
        write_private(&path, "{\"authority\": [\"rt-secret-value\"]}");
        let err = read(&path).expect_err("wrong type").to_string();
        assert!(
            err.contains("wrong type") && !err.contains("rt-secret-value"),
            "{err}"
        );
    }

    fn write_private(path: &Path, text: &str) {
        std::fs::write(path, text).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
    }
}
