//! Access tokens for the user who signed in with `referral-sync login`, from the refresh token
//! in the credentials file.
//!
//! Entra ID rotates refresh tokens, and with `--rotate-refresh-tokens` the sandbox spends each
//! one on first use: a run that kept the old token, or lost the new one, would be locked out.
//! So every refresh takes the file's OS lock, reads the file again (another command may have
//! rotated the token meanwhile), spends the token it finds, and writes the rotated one
//! atomically before the lock is released and before the new access token is used. A refused
//! refresh token (`invalid_grant`: expired, revoked or spent) or a demand for a fresh sign-in
//! (`interaction_required`: MFA) ends the run with the advice to run `login` again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::credentials::{self, FileLock};
use super::entra::Entra;
use super::{AuthError, DEFAULT_REFRESH_MARGIN, refresh_deadline};
use crate::api::secret::Secret;

/// The credentials file, its authority, and the access token in use.
#[derive(Debug)]
pub struct Delegated {
    path: PathBuf,
    entra: Entra,
    cache: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    token: Option<Secret>,
    refresh_at: Option<Instant>,
}

impl Delegated {
    /// Check the credentials file at `path` (it must exist and be private); `timeout` bounds
    /// each token request.
    /// With it, the refresh token stored now (to be cut out of text from outside).
    pub fn open_with(path: &Path, timeout: Duration) -> Result<(Self, Secret), AuthError> {
        let stored = credentials::read(path)?;
        let entra = Entra::new(
            &stored.authority,
            &stored.tenant,
            &stored.client_id,
            timeout,
        )?;
        let delegated = Delegated {
            path: path.to_owned(),
            entra,
            cache: Mutex::new(Cached::default()),
        };
        Ok((delegated, stored.refresh_token))
    }

    /// A token valid for at least the refresh margin.
    pub async fn token(&self) -> Result<Secret, AuthError> {
        let mut cache = self.cache.lock().await;
        let fresh = cache.refresh_at.is_some_and(|at| Instant::now() < at);
        match (&cache.token, fresh) {
            (Some(token), true) => Ok(token.clone()),
            _ => self.renew(&mut cache).await,
        }
    }

    /// The API refused `rejected`: renew, unless another caller already did.
    pub async fn refresh_rejected(&self, rejected: &Secret) -> Result<Secret, AuthError> {
        let mut cache = self.cache.lock().await;
        match &cache.token {
            Some(token) if token != rejected => Ok(token.clone()),
            _ => self.renew(&mut cache).await,
        }
    }

    /// Spend the stored refresh token under the file's lock; keep the rotated one first.
    async fn renew(&self, cache: &mut Cached) -> Result<Secret, AuthError> {
        let _lock = self.lock().await?;
        let mut stored = credentials::read(&self.path)?;
        let started = Instant::now();
        let tokens = self
            .entra
            .refresh(&stored.refresh_token)
            .await
            .map_err(|err| self.sign_in_again(err))?;
        stored.renewed(tokens.access.expose(), tokens.refresh);
        credentials::write(&self.path, &stored)?;
        let lifetime = tokens.lifetime.unwrap_or(Duration::from_secs(3600));
        cache.token = Some(tokens.access.clone());
        cache.refresh_at = Some(refresh_deadline(started, lifetime, DEFAULT_REFRESH_MARGIN));
        tracing::debug!(credentials = %self.path.display(), "access token renewed");
        Ok(tokens.access)
    }

    /// The file's lock, taken off the async workers (another process may hold it a moment).
    async fn lock(&self) -> Result<FileLock, AuthError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || credentials::lock(&path))
            .await
            .map_err(|e| AuthError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?
    }

    /// A refusal that only a new sign-in can cure becomes the advice to run `login`.
    fn sign_in_again(&self, err: AuthError) -> AuthError {
        match err {
            AuthError::Refused {
                code, description, ..
            } if code == "invalid_grant" || code == "interaction_required" => {
                AuthError::SignInAgain {
                    path: self.path.clone(),
                    code,
                    description,
                }
            }
            other => other,
        }
    }
}
