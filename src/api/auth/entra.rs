//! The sign-in protocol with Entra ID's v2.0 endpoints: the device authorization grant
//! (RFC 8628) that `login` runs, and the refresh token grant every later run uses.
//!
//! The `oauth2` crate builds the requests, reads the answers and runs the device flow's
//! polling as the RFC says (the server's `interval`, 5 s more on each `slow_down`, on through
//! `authorization_pending`, an end at `expired_token`, `access_denied` or the code's expiry).
//! It is used without its own HTTP client: requests go through the crate's reqwest client,
//! so there is one HTTP and TLS stack. No error carries a token or an answer's body.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AsyncHttpClient, ClientId, DeviceAuthorizationUrl, EndpointNotSet, EndpointSet, ErrorResponse,
    HttpRequest, HttpResponse, RefreshToken, RequestTokenError, Scope,
    StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};

use super::AuthError;
use super::credentials::{SCOPE, endpoint};
use crate::api::secret::Secret;

type Client = BasicClient<EndpointNotSet, EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The device code's details that `login` shows the user.
pub type DeviceCode = StandardDeviceAuthorizationResponse;

/// One authority, tenant and app registration.
#[derive(Debug)]
pub struct Entra {
    client: Client,
    http: Http,
    token_url: String,
}

/// The crate's reqwest client, as the `oauth2` crate's HTTP client.
#[derive(Debug)]
struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = reqwest::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, reqwest::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

/// What a token request gave.
#[derive(Debug)]
pub struct Tokens {
    pub access: Secret,
    /// A new refresh token; Entra rotates them.
    pub refresh: Option<Secret>,
    pub lifetime: Option<Duration>,
}

impl Entra {
    /// The endpoints of `tenant` at `authority`; `timeout` bounds each request.
    pub fn new(
        authority: &str,
        tenant: &str,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Self, AuthError> {
        let token_url = endpoint(authority, tenant, "token");
        let bad_url = |url: &str| AuthError::Settings(format!("{url} is not a valid URL"));
        let device_url = endpoint(authority, tenant, "devicecode");
        let client = BasicClient::new(ClientId::new(client_id.to_owned()))
            .set_token_uri(TokenUrl::new(token_url.clone()).map_err(|_| bad_url(&token_url))?)
            .set_device_authorization_url(
                DeviceAuthorizationUrl::new(device_url.clone())
                    .map_err(|_| bad_url(&device_url))?,
            );
        crate::api::http::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // An authorization server's redirect is never followed with a token in the body.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| AuthError::Transport {
                url: token_url.clone(),
                source,
            })?;
        Ok(Entra {
            client,
            http: Http(http),
            token_url,
        })
    }

    /// Ask for a device code and the URL where the user enters it.
    pub async fn device_code(&self) -> Result<DeviceCode, AuthError> {
        self.client
            .exchange_device_code()
            .add_scopes(scopes())
            .request_async(&self.http)
            .await
            .map_err(|e| self.error(e))
    }

    /// Poll until the user signed in, declined, or the code expired.
    pub async fn wait_for_sign_in(&self, code: &DeviceCode) -> Result<Tokens, AuthError> {
        let answer = self
            .client
            .exchange_device_access_token(code)
            .request_async(&self.http, tokio::time::sleep, None)
            .await
            .map_err(|e| self.error(e))?;
        Ok(tokens(&answer))
    }

    /// Spend `refresh` for a new access token (and, usually, a new refresh token).
    pub async fn refresh(&self, refresh: &Secret) -> Result<Tokens, AuthError> {
        let token = RefreshToken::new(refresh.expose().to_owned());
        let answer = self
            .client
            .exchange_refresh_token(&token)
            .add_scopes(scopes())
            .request_async(&self.http)
            .await
            .map_err(|e| self.error::<BasicErrorResponse>(e))?;
        Ok(tokens(&answer))
    }

    /// An error of the `oauth2` crate, told without the answer's body.
    fn error<T: ErrorResponse>(&self, err: RequestTokenError<reqwest::Error, T>) -> AuthError {
        let url = self.token_url.clone();
        match err {
            RequestTokenError::ServerResponse(answer) => refused(url, &answer),
            RequestTokenError::Request(source) => AuthError::Transport { url, source },
            RequestTokenError::Parse(e, _body) => AuthError::Decode {
                url,
                message: format!("unexpected JSON at {}", e.path()),
            },
            RequestTokenError::Other(message) => AuthError::Decode { url, message },
        }
    }
}

/// A refusal in OAuth's shape: its `error` code and its `error_description`.
fn refused<T: ErrorResponse>(url: String, answer: &T) -> AuthError {
    let value = serde_json::to_value(answer).unwrap_or_default();
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let description: String = text("error_description")
        .unwrap_or_else(|| "(no description)".into())
        .chars()
        .take(1024)
        .collect();
    AuthError::Refused {
        url,
        code: text("error").unwrap_or_else(|| "unknown".into()),
        description,
    }
}

fn scopes() -> impl Iterator<Item = Scope> {
    SCOPE.split(' ').map(|scope| Scope::new(scope.to_owned()))
}

fn tokens(answer: &BasicTokenResponse) -> Tokens {
    Tokens {
        access: Secret::new(answer.access_token().secret().clone()),
        refresh: answer
            .refresh_token()
            .map(|token| Secret::new(token.secret().clone()))
            .filter(|token| !token.is_empty()),
        lifetime: answer.expires_in(),
    }
}

/// Send an `oauth2` request with reqwest.
async fn send(
    http: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await?.to_vec();
    let mut answer = HttpResponse::new(body);
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}
