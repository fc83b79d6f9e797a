//! Helpers to run the sandbox in tests: in process (`TestSandbox`) or as the real binary
//! (`SandboxProcess`), an HTTP client, and the seed's create request.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use referral_sync::sandbox::{self, ROOT, RunningSandbox, SandboxConfig};
use serde_json::Value;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// An HTTP client for plain-http tests (rustls needs its provider even then).
pub fn http_client(timeout: Duration) -> TestResult<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder().timeout(timeout).build()?)
}

/// The create request of the docs' example (tests/fixtures/seed-create-request.json).
pub fn seed_request() -> TestResult<Value> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-create-request.json");
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

/// The seed request with its own `externalReferenceId`.
pub fn referral_with_external_id(external_id: &str) -> TestResult<Value> {
    let mut body = seed_request()?;
    if let Some(map) = body.as_object_mut() {
        map.insert("externalReferenceId".into(), external_id.into());
    }
    Ok(body)
}

/// A response's status and JSON body (Null when empty).
pub async fn status_and_json(response: reqwest::Response) -> TestResult<(u16, Value)> {
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)?
    };
    Ok((status, body))
}

/// A sandbox in this process, with a client and a token it accepts.
pub struct TestSandbox {
    pub running: RunningSandbox,
    pub client: reqwest::Client,
    pub token: String,
}

impl TestSandbox {
    pub async fn start() -> TestResult<Self> {
        Self::with(SandboxConfig::default()).await
    }

    pub async fn with(config: SandboxConfig) -> TestResult<Self> {
        let running = sandbox::start(config).await?;
        let token = running.token();
        Ok(TestSandbox {
            running,
            client: http_client(Duration::from_secs(20))?,
            token,
        })
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url)
    }

    /// The referrals collection, or one referral.
    pub fn referrals(&self, id: Option<&str>) -> String {
        match id {
            Some(id) => self.url(&format!("{ROOT}/{id}")),
            None => self.url(ROOT),
        }
    }

    /// A request with the bearer token.
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.client.request(method, url).bearer_auth(&self.token)
    }

    /// POST a referral; the response.
    pub async fn create(&self, body: &Value) -> TestResult<reqwest::Response> {
        let url = self.referrals(None);
        Ok(self
            .request(reqwest::Method::POST, &url)
            .json(body)
            .send()
            .await?)
    }

    /// POST a referral that must succeed; its body.
    pub async fn create_ok(&self, body: &Value) -> TestResult<Value> {
        let response = self.create(body).await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status != reqwest::StatusCode::CREATED {
            return Err(format!("create answered {status}: {body}").into());
        }
        Ok(body)
    }

    /// GET a URL with the token; status and JSON body (Null when empty).
    pub async fn get_json(&self, url: &str) -> TestResult<(u16, Value)> {
        let response = self.request(reqwest::Method::GET, url).send().await?;
        status_and_json(response).await
    }

    /// `GET /sandbox/stats`.
    pub async fn stats(&self) -> TestResult<Value> {
        Ok(self
            .client
            .get(self.url("/sandbox/stats"))
            .send()
            .await?
            .json()
            .await?)
    }
}

/// The real binary running `sandbox`, killed when dropped.
pub struct SandboxProcess {
    pub child: Child,
    pub base_url: String,
    pub first_line: String,
}

impl SandboxProcess {
    /// Spawn `referral-sync sandbox --listen 127.0.0.1:0 ARGS…` and read its first line.
    pub fn spawn(args: &[&str]) -> TestResult<Self> {
        Self::spawn_with(&["--quiet"], args, Stdio::null())
    }

    /// Spawn with its log (info level) written to `log`.
    pub fn spawn_logged(args: &[&str], log: &Path) -> TestResult<Self> {
        Self::spawn_with(&[], args, Stdio::from(std::fs::File::create(log)?))
    }

    fn spawn_with(global: &[&str], args: &[&str], stderr: Stdio) -> TestResult<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_referral-sync"))
            .args(global)
            .args(["sandbox", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut first_line = String::new();
        BufReader::new(stdout).read_line(&mut first_line)?;
        let first_line = first_line.trim_end().to_string();
        let base_url = first_line
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected first line {first_line:?}"))?
            .to_string();
        Ok(SandboxProcess {
            child,
            base_url,
            first_line,
        })
    }

    /// Send SIGTERM and wait (at most 20 s) for the exit status.
    pub fn terminate(&mut self) -> TestResult<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("the sandbox did not stop within 20 s of SIGTERM".into())
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
