//! The sandbox's validated settings, built once from the raw `sandbox` arguments.
//!
//! Nothing past this module looks at `SandboxArgs`: probabilities are checked to lie in
//! `0..=1`, the rate limit is parsed into a token bucket's size and refill period, and the
//! fault seed is fixed (a random one when `--seed` is absent) so that every run can be told
//! apart and reproduced.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::Error;
use crate::cli::SandboxArgs;

/// A token bucket per partner tenant: `capacity` requests, refilled evenly over `period`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub capacity: u32,
    pub period: Duration,
}

impl RateLimit {
    /// Parse `N/s`, `N/sec`, `N/m` or `N/min` (N a positive integer).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = || {
            Error::usage(format!(
                "--rate-limit {text:?}: expected N/s or N/min with N a positive integer"
            ))
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let capacity: u32 = count.trim().parse().map_err(|_| bad())?;
        if capacity == 0 {
            return Err(bad());
        }
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            _ => return Err(bad()),
        };
        Ok(RateLimit { capacity, period })
    }
}

/// How the sandbox's Entra ID v2.0 endpoints behave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInOptions {
    /// Approve a pending device code at its first poll (as a user signing in with MFA).
    pub approve_device_codes: bool,
    /// Refuse password-grant sign-ins with `interaction_required` (AADSTS50076).
    pub require_mfa: bool,
    /// Each refresh token works once.
    pub rotate_refresh_tokens: bool,
}

/// How the sandbox keeps its file descriptors: a request head must arrive in
/// `header_timeout`, a connection with no request in flight closes after `idle_timeout`, and
/// past `max_connections` a new connection is answered 503 and closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 256,
        }
    }
}

/// Everything the sandbox needs to run.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where `command` listens (`start` always binds 127.0.0.1:0).
    pub listen: SocketAddr,
    /// When set, the only bearer token accepted; otherwise any non-empty token is, except
    /// expired ones issued by the sandbox's `/oauth2/token`.
    pub token: Option<String>,
    /// Lifetime of the tokens `/oauth2/token` issues.
    pub token_lifetime: Duration,
    pub rate_limit: Option<RateLimit>,
    /// Deduplicate creates by their `MS-RequestId` header.
    pub idempotency: bool,
    /// Added latency per API request (with up to 20 % jitter).
    pub latency: Duration,
    pub fail_rate: f64,
    pub lose_response_rate: f64,
    pub fail_first: u64,
    pub seed: u64,
    /// SQLite file that keeps referrals across restarts; in memory when absent.
    pub state: Option<PathBuf>,
    /// Answer creates with 200 instead of 201.
    pub create_status_200: bool,
    /// The sign-in options of the v2.0 endpoints (see [`SignInOptions`]).
    pub sign_in: SignInOptions,
    /// How long a "lost" response holds its connection before dropping it.
    pub hold_lost_for: Duration,
    pub connections: ConnectionLimits,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            token_lifetime: Duration::from_secs(3600),
            rate_limit: None,
            idempotency: true,
            latency: Duration::ZERO,
            fail_rate: 0.0,
            lose_response_rate: 0.0,
            fail_first: 0,
            seed: 0,
            state: None,
            create_status_200: false,
            sign_in: SignInOptions::default(),
            hold_lost_for: Duration::from_secs(600),
            connections: ConnectionLimits::default(),
        }
    }
}

impl SandboxConfig {
    /// Validate the raw arguments; every bad one is named.
    pub fn from_args(args: &SandboxArgs) -> Result<Self, Error> {
        let listen = resolve_listen(&args.listen)?;
        let token = match &args.token {
            Some(t) if t.trim().is_empty() => return Err(Error::usage("--token is empty")),
            other => other.clone(),
        };
        if args.token_lifetime == 0 {
            return Err(Error::usage("--token-lifetime must be at least 1 second"));
        }
        Ok(SandboxConfig {
            listen,
            token,
            token_lifetime: Duration::from_secs(args.token_lifetime),
            rate_limit: args
                .rate_limit
                .as_deref()
                .map(RateLimit::parse)
                .transpose()?,
            idempotency: !args.no_idempotency,
            latency: Duration::from_millis(args.latency),
            fail_rate: probability("--fail-rate", args.fail_rate)?,
            lose_response_rate: probability("--lose-response-rate", args.lose_response_rate)?,
            fail_first: args.fail_first,
            seed: args.seed.unwrap_or_else(rand::random),
            state: args.state.clone(),
            create_status_200: args.create_status_200,
            sign_in: SignInOptions {
                approve_device_codes: args.approve_device_codes,
                require_mfa: args.require_mfa,
                rotate_refresh_tokens: args.rotate_refresh_tokens,
            },
            ..SandboxConfig::default()
        })
    }
}

/// `HOST:PORT`, where HOST may be a name such as `localhost` (its first address is used).
fn resolve_listen(text: &str) -> Result<SocketAddr, Error> {
    let bad = |why: String| Error::usage(format!("--listen {text:?}: {why}"));
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if !text.contains(':') {
        return Err(bad("expected HOST:PORT such as 127.0.0.1:8484".into()));
    }
    text.to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("the host name has no address".into()))
}

fn probability(flag: &str, p: f64) -> Result<f64, Error> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(Error::usage(format!(
            "{flag} {p}: expected a probability between 0 and 1"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse_per_second_and_per_minute() {
        let per_s = RateLimit::parse("5/s").ok();
        assert_eq!(
            per_s.map(|r| (r.capacity, r.period.as_secs())),
            Some((5, 1))
        );
        let per_min = RateLimit::parse("120/min").ok();
        assert_eq!(
            per_min.map(|r| (r.capacity, r.period.as_secs())),
            Some((120, 60))
        );
        for bad in ["", "5", "0/s", "-1/s", "5/h", "x/s"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn listen_addresses_accept_names_and_refuse_junk() {
        assert!(resolve_listen("127.0.0.1:0").is_ok());
        assert!(resolve_listen("localhost:8484").is_ok_and(|a| a.ip().is_loopback()));
        assert!(resolve_listen("8484").is_err());
        assert!(resolve_listen("127.0.0.1:99999").is_err());
    }
}
