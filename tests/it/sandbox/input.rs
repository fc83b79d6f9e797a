//! Input the sandbox must survive: junk bodies, random bytes on every route, oversized
//! bodies, and the few options that change answers (`--create-status-200`).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use referral_sync::sandbox::SandboxConfig;
use reqwest::Method;
use serde_json::Value;

use crate::common::sandbox::{TestResult, TestSandbox, seed_request};

#[tokio::test]
async fn junk_bodies_get_400_or_413_and_never_crash_it() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let one = sandbox.referrals(created["id"].as_str());
    let deep = "[".repeat(10_000);
    let junk: Vec<Vec<u8>> = vec![
        b"{\"name\": ".to_vec(),
        b"\xff\xfe\x00garbage".to_vec(),
        deep.into_bytes(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"text\"".to_vec(),
        b"{\"engagementId\": 5}".to_vec(),
        b"{\"customerProfile\": 5, \"details\": [], \"consent\": \"yes\"}".to_vec(),
        b"".to_vec(),
    ];
    for body in &junk {
        for (method, url) in [
            (Method::POST, sandbox.referrals(None)),
            (Method::PATCH, one.clone()),
        ] {
            let response = sandbox
                .request(method.clone(), &url)
                .body(body.clone())
                .send()
                .await?;
            let status = response.status().as_u16();
            let parsed: Value = response.json().await?;
            assert_eq!(
                status,
                400,
                "{method} {:?}: {parsed}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(parsed["error"]["code"], "invalidRequest");
        }
    }
    let response = sandbox
        .request(Method::POST, &sandbox.referrals(None))
        .body(b"{\"name\": ".to_vec())
        .send()
        .await?;
    let body: Value = response.json().await?;
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("line 1, column"), "{message}");

    let huge = vec![b' '; (1 << 20) + 10];
    let response = sandbox
        .request(Method::POST, &sandbox.referrals(None))
        .body(huge)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 413);
    let response = sandbox
        .client
        .post(sandbox.url("/oauth2/token"))
        .body(vec![0xff; 64])
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(sandbox.stats().await?["referrals"], 1);
    Ok(())
}

#[tokio::test]
async fn random_bytes_on_every_route_never_crash_it() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let one = sandbox.referrals(created["id"].as_str());
    let routes = [
        (Method::POST, sandbox.referrals(None)),
        (Method::PATCH, one.clone()),
        (Method::PUT, one.clone()),
        (Method::POST, sandbox.url("/oauth2/token")),
        (Method::GET, format!("{}?$filter=", sandbox.referrals(None))),
    ];
    let mut rng = StdRng::seed_from_u64(11);
    for round in 0..40 {
        let len = rng.random_range(0..512);
        let body: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        for (method, url) in &routes {
            let url = if *method == Method::GET {
                format!(
                    "{url}{}",
                    String::from_utf8_lossy(&body).replace(['#', '&'], "")
                )
            } else {
                url.clone()
            };
            let response = sandbox
                .request(method.clone(), &url)
                .header("If-Match", "*")
                .body(body.clone())
                .send()
                .await?;
            let status = response.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "round {round}: {method} {status}"
            );
            let parsed: Value = response.json().await?;
            assert!(parsed.is_object(), "round {round}: not a JSON body");
        }
    }
    let (status, fetched) = sandbox.get_json(&one).await?;
    assert_eq!(status, 200);
    assert_eq!(
        fetched["eTag"], created["eTag"],
        "junk changed the referral"
    );
    Ok(())
}

#[tokio::test]
async fn creates_can_answer_200_instead_of_201() -> TestResult {
    let config = SandboxConfig {
        create_status_200: true,
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(config).await?;
    let response = sandbox.create(&seed_request()?).await?;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await?;
    assert_eq!(body["status"], "Active");
    Ok(())
}
