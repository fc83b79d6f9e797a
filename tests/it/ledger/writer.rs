//! The single writer: acks after commit, batches, failures that reach every caller, and the
//! throughput numbers (printed, never asserted).

use std::time::{Duration, Instant};

use referral_sync::ledger::{
    Ledger, LedgerError, LedgerWriter, RunId, State, Step, WriteOp, WriterOptions,
};

use super::{fresh, in_flight, synced};

#[tokio::test]
async fn an_in_flight_ack_means_the_mark_is_on_disk() {
    let (dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    let writer = LedgerWriter::spawn(ledger, WriterOptions::default()).unwrap();
    let handle = writer.handle();
    handle
        .send(WriteOp::InFlight(in_flight("A-1", Step::Create, run)))
        .wait()
        .await
        .unwrap();
    // Another connection (as a crashed-and-restarted run would) sees the mark.
    let reader = Ledger::open_existing(dir.path().join("ledger.db")).unwrap();
    assert_eq!(reader.get("A-1").unwrap().unwrap().state, State::InFlight);
    let ledger = writer.close().unwrap();
    assert_eq!(ledger.get("A-1").unwrap().unwrap().attempts, 1);
}

#[test]
fn unawaited_ops_from_many_handles_are_all_committed_by_close() {
    let (_dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    let writer = LedgerWriter::spawn(ledger, WriterOptions::default()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let handle = writer.handle();
            std::thread::spawn(move || {
                for i in 0..250 {
                    let id = format!("T{t}-{i}");
                    let _ = handle.send(WriteOp::InFlight(in_flight(&id, Step::Create, run)));
                    let _ = handle.send(WriteOp::Synced(synced(&id, run)));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let late = writer.handle();
    let mut ledger = writer.close().unwrap();
    assert_eq!(ledger.counts_by_state().unwrap().synced, 1000);
    let err = late.send(WriteOp::Flush).wait_blocking().unwrap_err();
    assert!(matches!(err, LedgerError::WriterClosed), "{err:?}");
    ledger.finish_run(run, "{}", 0).unwrap();
}

#[test]
fn a_failed_batch_fails_every_op_in_it_and_every_later_op() {
    let (dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    let options = WriterOptions {
        max_batch: 3,
        linger: Duration::from_secs(5),
    };
    let writer = LedgerWriter::spawn(ledger, options).unwrap();
    let good = writer.send(WriteOp::InFlight(in_flight("A-1", Step::Create, run)));
    // No run 999: the foreign key makes this write fail, as a full disk would.
    let bad = writer.send(WriteOp::InFlight(in_flight(
        "B-1",
        Step::Create,
        RunId(999),
    )));
    let also_good = writer.send(WriteOp::Synced(synced("C-1", run)));
    for ack in [good, bad, also_good] {
        let err = ack.wait_blocking().unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ledger.db") && text.contains("mark a record in flight"),
            "{text}"
        );
    }
    let later = writer
        .send(WriteOp::Synced(synced("D-1", run)))
        .wait_blocking()
        .unwrap_err();
    assert!(
        matches!(later, LedgerError::WriterFailed { .. }),
        "{later:?}"
    );
    assert!(later.to_string().contains("FOREIGN KEY"), "{later}");
    assert!(writer.close().is_err());

    let ledger = Ledger::open_existing(dir.path().join("ledger.db")).unwrap();
    assert!(
        ledger.all_external_ids().unwrap().is_empty(),
        "the failed batch was rolled back"
    );
}

fn ops_per_second(n: usize, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

#[test]
fn throughput_batched_versus_one_transaction_per_op() {
    let (_dir, mut ledger) = fresh();
    let run = ledger.start_run("bench").unwrap();
    let direct = 300;
    let started = Instant::now();
    for i in 0..direct {
        ledger
            .mark_in_flight(in_flight(&format!("D-{i}"), Step::Create, run))
            .unwrap();
    }
    let direct_rate = ops_per_second(direct, started);

    let batched = 20_000;
    let writer = LedgerWriter::spawn(ledger, WriterOptions::default()).unwrap();
    let started = Instant::now();
    let mut last = None;
    for i in 0..batched {
        last = Some(writer.send(WriteOp::InFlight(in_flight(
            &format!("B-{i}"),
            Step::Create,
            run,
        ))));
    }
    last.unwrap().wait_blocking().unwrap();
    let batched_rate = ops_per_second(batched, started);
    let ledger = writer.close().unwrap();
    println!(
        "ledger writes: {direct_rate:.0} ops/s one per transaction, {batched_rate:.0} ops/s batched"
    );
    assert_eq!(
        ledger.counts_by_state().unwrap().in_flight,
        (direct + batched) as u64
    );
}

#[test]
fn a_sync_index_of_100k_records_loads_in_one_query() {
    let (_dir, mut ledger) = fresh();
    let run = ledger.start_run("bench").unwrap();
    let writer = LedgerWriter::spawn(ledger, WriterOptions::default()).unwrap();
    let started = Instant::now();
    for i in 0..100_000 {
        let _ = writer.send(WriteOp::Synced(synced(&format!("R-{i:06}"), run)));
    }
    let ledger = writer.close().unwrap();
    let write_time = started.elapsed();

    let started = Instant::now();
    let index = ledger.load_sync_index().unwrap();
    let index_time = started.elapsed();
    assert_eq!(index.len(), 100_000);
    let entry = index.get("R-054321").unwrap();
    assert_eq!(
        (entry.state, entry.payload_hash.as_deref()),
        (State::Synced, Some("hash-R-054321"))
    );

    let started = Instant::now();
    for i in (0..100_000).step_by(10) {
        assert!(ledger.get(&format!("R-{i:06}")).unwrap().is_some());
    }
    let point_time = started.elapsed() * 10;
    println!(
        "100k records: written in {write_time:?}, sync index in {index_time:?}, \
         100k point queries (extrapolated from 10k) {point_time:?}"
    );
}
