//! What every HTTP client of the tool shares, the API's and the token endpoint's alike: the
//! name it gives itself and the TLS crypto provider. Kept apart so that `client` and `auth`
//! both use it without importing each other.

/// How the tool names itself on every request (API and token endpoint alike).
pub const USER_AGENT: &str = concat!("referral-sync/", env!("CARGO_PKG_VERSION"));

/// Install the rustls crypto provider (ring) once per process; later calls do nothing.
pub fn install_crypto_provider() {
    // An Err only says that a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
