//! Ledger write throughput, as `bench/run` reports it (item e): how many record transitions
//! per second the SQLite ledger commits, one transaction per op and through the batching
//! `LedgerWriter`, with payloads the size of a real referral.
//!
//! The uploader's pattern is measured as such: 16 workers each mark a record in flight, wait
//! for that commit (the exactly-once rule: the mark must be on disk before the request goes
//! out), then mark it synced without waiting. Prints one JSON line.
//!
//! ```text
//! cargo run --release --example ledger_throughput -- [RECORDS] [DIR]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use referral_sync::ledger::{
    InFlight, Ledger, LedgerError, LedgerWriter, RunId, SourceLocation, Step, Synced, WriteOp,
    WriterOptions,
};

const WORKERS: usize = 16;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let records: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(50_000);
    let dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("ledger-throughput-{}.db", std::process::id()));
    let result = measure(&path, records);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let (direct, batched, pipeline) = result?;
    println!(
        "{{\"records\":{records},\"direct_ops_per_s\":{direct:.0},\
         \"batched_ops_per_s\":{batched:.0},\"pipeline_ops_per_s\":{pipeline:.0}}}"
    );
    Ok(())
}

/// (one transaction per op, batched from one sender, the uploader's pattern) in ops/s.
fn measure(path: &std::path::Path, records: usize) -> Result<(f64, f64, f64), LedgerError> {
    let mut ledger = Ledger::open(path)?;
    let run = ledger.start_run("ledger_throughput")?;
    let direct = (records / 50).max(100);
    let started = Instant::now();
    for i in 0..direct {
        ledger.mark_in_flight(in_flight(&format!("direct-{i}"), run))?;
    }
    let direct_rate = direct as f64 / started.elapsed().as_secs_f64();

    let writer = LedgerWriter::spawn(ledger, WriterOptions::default())?;
    let started = Instant::now();
    let mut last = None;
    for i in 0..records {
        last = Some(writer.send(WriteOp::InFlight(in_flight(&format!("batch-{i}"), run))));
    }
    if let Some(ack) = last {
        ack.wait_blocking()?;
    }
    let batched_rate = records as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    std::thread::scope(|scope| -> Result<(), LedgerError> {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let handle = writer.handle();
                scope.spawn(move || -> Result<(), LedgerError> {
                    for i in (w..records).step_by(WORKERS) {
                        let id = format!("pipeline-{i}");
                        handle
                            .send(WriteOp::InFlight(in_flight(&id, run)))
                            .wait_blocking()?;
                        drop(handle.send(WriteOp::Synced(synced(&id, run))));
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().map_err(|_| LedgerError::WriterClosed)??;
        }
        Ok(())
    })?;
    writer.close()?;
    let pipeline_rate = (2 * records) as f64 / started.elapsed().as_secs_f64();
    Ok((direct_rate, batched_rate, pipeline_rate))
}

/// A referral payload of the size the shipped Dynamics mapping produces (about 800 bytes).
fn payload(id: &str) -> String {
    format!(
        "{{\"externalReferenceId\":\"{id}\",\"name\":\"Graphic Design Institute 271 | Azure \
         migration of the booking system\",\"type\":\"Independent\",\"qualification\":\
         \"SalesQualified\",\"status\":\"New\",\"substatus\":\"Pending\",\"customerProfile\":\
         {{\"name\":\"Graphic Design Institute 271\",\"address\":{{\"city\":\"Redmond\",\
         \"country\":\"US\"}},\"team\":[{{\"firstName\":\"Alan\",\"lastName\":\"Nakashima\",\
         \"email\":\"alan.nakashima@graphicdesigninstitute271.example\"}}]}},\"consent\":\
         {{\"consentToToShareInfoWithOthers\":false,\"consentToContact\":true}},\"details\":\
         {{\"notes\":\"Azure migration of the booking system for Graphic Design Institute 271\",\
         \"dealValue\":160555,\"currency\":\"USD\",\"closingDateTime\":\"2027-03-09T00:00:00Z\",\
         \"requirements\":{{\"products\":[{{\"id\":\"Azure\"}}]}}}}}}"
    )
}

fn in_flight(id: &str, run: RunId) -> InFlight {
    InFlight {
        external_id: id.to_string(),
        step: Step::Create,
        request_id: format!("00000000-0000-4000-8000-{:012}", id.len()),
        payload: payload(id),
        payload_hash: format!("{:064x}", id.len()),
        source: Some(SourceLocation {
            file: "bench/data/opportunities.csv".to_string(),
            row: 2,
        }),
        referral_id: None,
        engagement_id: None,
        etag: None,
        run,
    }
}

fn synced(id: &str, run: RunId) -> Synced {
    Synced {
        external_id: id.to_string(),
        referral_id: format!("referral-{id}"),
        engagement_id: Some(format!("engagement-{id}")),
        connected_referral_id: None,
        etag: Some("\"00006d10-0000-0000-0000-5c70aa630000\"".to_string()),
        connected_etag: None,
        payload_hash: format!("{:064x}", id.len()),
        payload: payload(id),
        run,
    }
}
