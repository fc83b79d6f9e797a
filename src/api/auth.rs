//! Where the bearer token comes from: a static token, the signed-in user of a credentials file
//! (`referral-sync login`, see [`delegated`]), or OAuth against an AAD v1-style token endpoint;
//! refreshed before it expires and once more when the API answers 401.
//!
//! Sources, first match wins: `--token-file` (trimmed; private like the OAuth file),
//! `--credentials`, `--oauth-file` (a `KEY=value` file that must not be readable by group or
//! others), `PARTNER_API_TOKEN`, OAuth settings from the environment (`PARTNER_CLIENT_ID`,
//! `PARTNER_REFRESH_TOKEN`, … or `--token-url`), then the default credentials file when it
//! exists. Keys of the settings file fill the settings first; the environment fills what the
//! file leaves out.
//!
//! From the command line, only a refresh token is accepted as OAuth settings: Partner Center
//! enforces MFA on every App+User call since 2026-04-01, which a password grant cannot carry,
//! and it never accepted app-only (client credentials) tokens; both are refused with the reason
//! before any request. AAD v1 answers numbers as strings (`"expires_in":"3600"`); both forms
//! are accepted. A rotated refresh token in an answer replaces the old one.
//!
//! Concurrent callers share one refresh: the cache sits behind an async mutex, and whoever
//! holds it while the token is stale fetches the new one; the others then find it fresh.
//! Credentials live only in [`Secret`]s, and each one is also added to the source's
//! [`KnownSecrets`] (tokens as they are issued), which the API client and the token endpoint's
//! refusals cut out of every text from outside. No error carries a token, a secret, a response
//! body of the token endpoint, or a token URL's password or secret-looking query value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod claims;
pub mod credentials;
mod delegated;
pub mod entra;
mod files;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

pub use self::claims::Claims;
use self::delegated::Delegated;
use self::files::read_token_file;
pub use self::files::{parse_settings, read_settings_file};
use crate::api::error::truncate;
use crate::api::secret::{KnownSecrets, Secret};
use crate::cli::ApiArgs;
use crate::ledger::redact_url;

/// The resource (audience) of Partner Center tokens.
pub const DEFAULT_RESOURCE: &str = "https://api.partner.microsoft.com";
/// Refresh this long before the token expires (at most half its lifetime).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);
const SETTING_KEYS: [&str; 7] = [
    "TENANT",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "REFRESH_TOKEN",
    "USERNAME",
    "PASSWORD",
    "RESOURCE",
];

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no API credentials: sign in once with `referral-sync login` (or pass --credentials \
         FILE), set PARTNER_API_TOKEN, or pass --token-file"
    )]
    NotConfigured,
    #[error("{path}: no stored sign-in here; run `referral-sync login` first")]
    NotSignedIn { path: PathBuf },
    #[error(
        "the password grant (PARTNER_USERNAME/PARTNER_PASSWORD) cannot sign in to Partner \
         Center: since 2026-04-01 it enforces multi-factor authentication on every App+User \
         call, and a password sign-in cannot carry MFA. Sign in once with `referral-sync login` \
         (device code, in a browser, with MFA); later runs, cron included, use the stored \
         credentials"
    )]
    PasswordGrant,
    #[error(
        "client credentials (PARTNER_CLIENT_SECRET without a user) give an app-only token, and \
         the Partner Center Referrals API accepts only App+User tokens (an app acting for a \
         signed-in user). Sign in once with `referral-sync login`; later runs, cron included, \
         use the stored credentials"
    )]
    AppOnly,
    #[error(
        "the sign-in stored in {path} is no longer accepted ({code}: {description}); run \
         `referral-sync login` again"
    )]
    SignInAgain {
        path: PathBuf,
        code: String,
        description: String,
    },
    #[error("token endpoint {url} refused: {code}: {description}")]
    Refused {
        url: String,
        code: String,
        description: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error(
        "{path}: mode {mode:04o} lets other users read these credentials; run `chmod 600 {path}`"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("OAuth settings: {0}")]
    Settings(String),
    #[error("token request to {url} failed: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("token endpoint {url} answered HTTP {status}: {code}: {description}")]
    Rejected {
        url: String,
        status: u16,
        code: String,
        description: String,
    },
    #[error("token endpoint {url} answered an unreadable body: {message}")]
    Decode { url: String, message: String },
    #[error("the token holds characters that cannot be sent in an HTTP header")]
    InvalidToken,
    #[error("the API rejected the token (HTTP 401) and a static token cannot be refreshed")]
    StaticRejected,
}

/// OAuth settings, validated enough to pick a grant.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub refresh_token: Option<Secret>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub resource: String,
    /// Refresh this long before expiry (capped at half the token's lifetime).
    pub refresh_margin: Duration,
}

/// Supplies bearer tokens; cheap to clone, shared by all workers.
#[derive(Debug, Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
    secrets: KnownSecrets,
}

#[derive(Debug)]
enum Inner {
    Static(Secret),
    OAuth(Box<OAuth>),
    Delegated(Box<Delegated>),
}

#[derive(Debug)]
struct OAuth {
    settings: OAuthSettings,
    http: reqwest::Client,
    cache: Mutex<Cache>,
    secrets: KnownSecrets,
}

#[derive(Debug, Default)]
struct Cache {
    token: Option<Secret>,
    refresh_at: Option<Instant>,
    refresh_token: Option<Secret>,
}

impl TokenSource {
    /// A token that never changes.
    pub fn fixed(token: Secret) -> Self {
        let secrets = KnownSecrets::default();
        secrets.add(&token);
        TokenSource {
            inner: Arc::new(Inner::Static(token)),
            secrets,
        }
    }

    /// OAuth with these settings; `timeout` bounds each token request.
    pub fn oauth(settings: OAuthSettings, timeout: Duration) -> Result<Self, AuthError> {
        grant_of(&settings)?;
        crate::api::http::install_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(crate::api::http::USER_AGENT)
            .timeout(timeout)
            .build()
            .map_err(|source| AuthError::Transport {
                url: redact_url(&settings.token_url),
                source,
            })?;
        let secrets = KnownSecrets::default();
        let credentials = [
            &settings.client_secret,
            &settings.refresh_token,
            &settings.password,
        ];
        for secret in credentials.into_iter().flatten() {
            secrets.add(secret);
        }
        let cache = Cache {
            refresh_token: settings.refresh_token.clone(),
            ..Cache::default()
        };
        Ok(TokenSource {
            inner: Arc::new(Inner::OAuth(Box::new(OAuth {
                settings,
                http,
                cache: Mutex::new(cache),
                secrets: secrets.clone(),
            }))),
            secrets,
        })
    }

    /// The user signed in to the credentials file at `path`.
    pub fn signed_in(path: &Path, timeout: Duration) -> Result<Self, AuthError> {
        let (delegated, refresh_token) = Delegated::open_with(path, timeout)?;
        let secrets = KnownSecrets::default();
        secrets.add(&refresh_token);
        Ok(TokenSource {
            inner: Arc::new(Inner::Delegated(Box::new(delegated))),
            secrets,
        })
    }

    /// Build from the command line and the process environment.
    pub fn from_args(args: &ApiArgs) -> Result<Self, AuthError> {
        Self::from_args_with_env(args, &|key| std::env::var(key).ok())
    }

    /// Build from the command line and an environment lookup (tests pass their own).
    pub fn from_args_with_env(
        args: &ApiArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, AuthError> {
        let timeout = Duration::try_from_secs_f64(args.timeout).unwrap_or(Duration::from_secs(30));
        if let Some(path) = &args.token_file {
            return Ok(Self::fixed(read_token_file(path)?));
        }
        if let Some(path) = &args.credentials {
            return Self::signed_in(path, timeout);
        }
        let file = match &args.oauth_file {
            Some(path) => read_settings_file(path)?,
            None => BTreeMap::new(),
        };
        if args.oauth_file.is_none() {
            let token = env("PARTNER_API_TOKEN").map(|t| t.trim().to_owned());
            if let Some(token) = token.filter(|t| !t.is_empty()) {
                return Ok(Self::fixed(Secret::new(token)));
            }
        }
        refuse_unsupported_grants(&file, env)?;
        match oauth_settings(args, &file, env) {
            Ok(settings) => Self::oauth(settings, timeout),
            Err(AuthError::NotConfigured) => match credentials::default_path(env) {
                Some(path) if path.exists() => Self::signed_in(&path, timeout),
                _ => Err(AuthError::NotConfigured),
            },
            Err(err) => Err(err),
        }
    }

    /// Every credential this source holds or has issued, to cut out of text from outside.
    pub fn known_secrets(&self) -> KnownSecrets {
        self.secrets.clone()
    }

    /// Whether a rejected token can be replaced (OAuth) or not (static).
    pub fn can_refresh(&self) -> bool {
        matches!(*self.inner, Inner::OAuth(_) | Inner::Delegated(_))
    }

    /// A token that is valid for at least the refresh margin.
    pub async fn token(&self) -> Result<Secret, AuthError> {
        match &*self.inner {
            Inner::Static(token) => Ok(token.clone()),
            Inner::OAuth(oauth) => {
                let mut cache = oauth.cache.lock().await;
                let fresh = cache.refresh_at.is_some_and(|at| Instant::now() < at);
                match (&cache.token, fresh) {
                    (Some(token), true) => Ok(token.clone()),
                    _ => oauth.fetch(&mut cache).await,
                }
            }
            Inner::Delegated(delegated) => {
                let token = delegated.token().await?;
                self.secrets.add(&token);
                Ok(token)
            }
        }
    }

    /// The API answered 401 to `rejected`: get a new token, unless another caller already did.
    pub async fn refresh_rejected(&self, rejected: &Secret) -> Result<Secret, AuthError> {
        match &*self.inner {
            Inner::Static(_) => Err(AuthError::StaticRejected),
            Inner::OAuth(oauth) => {
                let mut cache = oauth.cache.lock().await;
                match &cache.token {
                    Some(token) if token != rejected => Ok(token.clone()),
                    _ => oauth.fetch(&mut cache).await,
                }
            }
            Inner::Delegated(delegated) => {
                let token = delegated.refresh_rejected(rejected).await?;
                self.secrets.add(&token);
                Ok(token)
            }
        }
    }
}

/// Refuse settings that call for the password or the client credentials grant: Partner
/// Center accepts neither (see the module's documentation).
fn refuse_unsupported_grants(
    file: &BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), AuthError> {
    let set = |key: &str| {
        file.get(key)
            .cloned()
            .or_else(|| env(&format!("PARTNER_{key}")))
            .is_some_and(|v| !v.trim().is_empty())
    };
    if set("REFRESH_TOKEN") {
        Ok(())
    } else if set("USERNAME") || set("PASSWORD") {
        Err(AuthError::PasswordGrant)
    } else if set("CLIENT_SECRET") {
        Err(AuthError::AppOnly)
    } else {
        Ok(())
    }
}

/// OAuth settings from the settings file (first) and the environment (`PARTNER_<KEY>`).
fn oauth_settings(
    args: &ApiArgs,
    file: &BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<OAuthSettings, AuthError> {
    let setting = |key: &str| {
        file.get(key)
            .cloned()
            .or_else(|| env(&format!("PARTNER_{key}")))
            .filter(|v| !v.trim().is_empty())
    };
    let Some(client_id) = setting("CLIENT_ID") else {
        return Err(match (&args.oauth_file, &args.token_url) {
            (None, None) => AuthError::NotConfigured,
            _ => AuthError::Settings("CLIENT_ID is not set".into()),
        });
    };
    let token_url = match (&args.token_url, setting("TENANT")) {
        (Some(url), _) => url.clone(),
        (None, tenant) => format!(
            "https://login.microsoftonline.com/{}/oauth2/token",
            tenant.as_deref().unwrap_or("common")
        ),
    };
    Ok(OAuthSettings {
        token_url,
        client_id,
        client_secret: setting("CLIENT_SECRET").map(Secret::new),
        refresh_token: setting("REFRESH_TOKEN").map(Secret::new),
        username: setting("USERNAME"),
        password: setting("PASSWORD").map(Secret::new),
        resource: setting("RESOURCE").unwrap_or_else(|| DEFAULT_RESOURCE.to_owned()),
        refresh_margin: DEFAULT_REFRESH_MARGIN,
    })
}

/// The grant a set of settings calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    RefreshToken,
    Password,
    ClientCredentials,
}

fn grant_of(settings: &OAuthSettings) -> Result<Grant, AuthError> {
    if settings.refresh_token.is_some() {
        Ok(Grant::RefreshToken)
    } else if settings.username.is_some() && settings.password.is_some() {
        Ok(Grant::Password)
    } else if settings.client_secret.is_some() {
        Ok(Grant::ClientCredentials)
    } else {
        Err(AuthError::Settings(
            "CLIENT_ID needs REFRESH_TOKEN, USERNAME and PASSWORD, or CLIENT_SECRET".into(),
        ))
    }
}

/// A number that AAD v1 may send as a string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Number {
    Int(u64),
    Text(String),
}

impl Number {
    fn get(&self) -> Option<u64> {
        match self {
            Number::Int(n) => Some(*n),
            Number::Text(s) => s.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<Number>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenRefusal {
    error: Option<String>,
    error_description: Option<String>,
}

impl OAuth {
    /// Ask the token endpoint for a new token and keep it (and a rotated refresh token).
    async fn fetch(&self, cache: &mut Cache) -> Result<Secret, AuthError> {
        let started = Instant::now();
        let refresh = cache.refresh_token.clone();
        let form = self.form(refresh.as_ref())?;
        let (status, body) = self.post(&form).await?;
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "token request"
        );
        let url = redact_url(&self.settings.token_url);
        if !(200..300).contains(&status) {
            return Err(refusal(url, status, &body, &self.secrets));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| AuthError::Decode {
            url: url.clone(),
            message: format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        })?;
        if answer.access_token.trim().is_empty() {
            return Err(AuthError::Decode {
                url,
                message: "access_token is empty".into(),
            });
        }
        let lifetime = answer
            .expires_in
            .as_ref()
            .and_then(Number::get)
            .unwrap_or(3600);
        let lifetime = Duration::from_secs(lifetime);
        let token = Secret::new(answer.access_token);
        self.secrets.add(&token);
        cache.token = Some(token.clone());
        cache.refresh_at = Some(refresh_deadline(
            started,
            lifetime,
            self.settings.refresh_margin,
        ));
        if let Some(rotated) = answer.refresh_token.filter(|t| !t.is_empty()) {
            let rotated = Secret::new(rotated);
            self.secrets.add(&rotated);
            cache.refresh_token = Some(rotated);
        }
        Ok(token)
    }

    /// The form of a token request: a refresh token when there is one, else the settings' grant.
    fn form<'a>(
        &'a self,
        refresh: Option<&'a Secret>,
    ) -> Result<Vec<(&'a str, &'a str)>, AuthError> {
        let s = &self.settings;
        let mut form = vec![
            ("client_id", s.client_id.as_str()),
            ("resource", s.resource.as_str()),
        ];
        if let Some(secret) = &s.client_secret {
            form.push(("client_secret", secret.expose()));
        }
        match (refresh, grant_of(s)?) {
            (Some(token), _) => {
                form.extend([
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.expose()),
                ]);
            }
            (None, Grant::Password) => form.extend([
                ("grant_type", "password"),
                ("scope", "openid"),
                ("username", s.username.as_deref().unwrap_or_default()),
                ("password", s.password.as_ref().map_or("", Secret::expose)),
            ]),
            (None, _) => form.push(("grant_type", "client_credentials")),
        }
        Ok(form)
    }

    /// POST the form; the status and the body of the answer.
    async fn post(&self, form: &[(&str, &str)]) -> Result<(u16, Vec<u8>), AuthError> {
        let url = &self.settings.token_url;
        let transport = |e: reqwest::Error| AuthError::Transport {
            url: redact_url(url),
            source: e.without_url(),
        };
        let response = self
            .http
            .post(url)
            .header("Accept", "application/json")
            .form(form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport)?;
        Ok((status, body.to_vec()))
    }
}

/// When a token fetched at `started` for `lifetime` is renewed: `margin` before it expires, at
/// most half its lifetime before. A lifetime beyond a day is taken as a day (and cannot
/// overflow the clock).
fn refresh_deadline(started: Instant, lifetime: Duration, margin: Duration) -> Instant {
    let lifetime = lifetime.min(Duration::from_secs(86_400));
    started + (lifetime - margin.min(lifetime / 2))
}

/// The error for a non-2xx token answer; only AAD's `error` and `error_description` are kept,
/// with the run's secrets cut out (an endpoint may quote the form it was sent).
fn refusal(url: String, status: u16, body: &[u8], secrets: &KnownSecrets) -> AuthError {
    let parsed: Option<TokenRefusal> = serde_json::from_slice(body).ok();
    let (code, description) = match parsed {
        Some(r) => (r.error, r.error_description),
        None => (None, None),
    };
    let description = secrets.redact(&description.unwrap_or_else(|| "(no description)".into()));
    AuthError::Rejected {
        url,
        status,
        code: truncate(&secrets.redact(&code.unwrap_or_else(|| "unknown".into()))),
        description: truncate(&description),
    }
}
