//! The sandbox keeps its file descriptors: idle and half-sent connections are closed after
//! the (here shortened) timeouts, a connection past the cap gets 503 and is closed, and real
//! clients are served throughout (issue 10, item 17).

use std::time::Duration;

use referral_sync::sandbox::{ConnectionLimits, SandboxConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::sandbox::{TestResult, TestSandbox};

/// Far beyond the shortened timeouts: a connection still open then was never closed.
const GENEROUS: Duration = Duration::from_secs(20);

/// Everything the server sends on `stream` until it closes it (a reset counts as closed).
async fn read_until_closed(stream: &mut TcpStream) -> TestResult<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(GENEROUS, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.map_err(|_| "the sandbox kept the connection open")?;
    Ok(String::from_utf8_lossy(&received).into_owned())
}

async fn sandbox_with(limits: ConnectionLimits) -> TestResult<TestSandbox> {
    TestSandbox::with(SandboxConfig {
        connections: limits,
        ..SandboxConfig::default()
    })
    .await
}

#[tokio::test]
async fn issue_10_idle_and_half_sent_connections_are_closed_and_clients_still_served() -> TestResult
{
    let sandbox = sandbox_with(ConnectionLimits {
        header_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(500),
        max_connections: 256,
    })
    .await?;
    let addr = sandbox.running.addr;
    let mut idle = Vec::new();
    let mut half_sent = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(addr).await?);
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(b"POST /v1.0/engagements/referrals HTTP/1.1\r\nHost: x\r\nContent-Le")
            .await?;
        half_sent.push(stream);
    }
    // A keep-alive connection after a complete request is closed once it idles.
    let mut kept_alive = TcpStream::connect(addr).await?;
    kept_alive
        .write_all(b"GET /sandbox/stats HTTP/1.1\r\nHost: x\r\n\r\n")
        .await?;
    let answered = read_until_closed(&mut kept_alive).await?;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    for stream in idle.iter_mut().chain(half_sent.iter_mut()) {
        read_until_closed(stream).await?;
    }
    assert_eq!(sandbox.stats().await?["requests"], 0);
    Ok(())
}

#[tokio::test]
async fn issue_10_a_connection_past_the_cap_gets_503_and_the_next_one_is_served() -> TestResult {
    let sandbox = sandbox_with(ConnectionLimits {
        max_connections: 4,
        ..ConnectionLimits::default()
    })
    .await?;
    let addr = sandbox.running.addr;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await?);
    }
    // The four are accepted before the fifth (one listener, accepted in order).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fifth = TcpStream::connect(addr).await?;
    let refused = read_until_closed(&mut fifth).await?;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("Retry-After: 1"), "{refused}");
    drop(held);
    let mut served = None;
    for _ in 0..100 {
        match sandbox
            .client
            .get(sandbox.url("/sandbox/stats"))
            .send()
            .await
        {
            Ok(response) if response.status().as_u16() == 200 => {
                served = Some(());
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    served.ok_or("no client was served once the held connections closed")?;
    Ok(())
}
