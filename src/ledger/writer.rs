//! The single writer: one thread owns the [`Ledger`] and commits the ops that upload workers
//! send it, many per transaction.
//!
//! With `synchronous=FULL` every commit is an fsync, so one commit per op would cap an upload
//! at a few hundred records per second. The writer drains what is queued (up to
//! `max_batch`, waiting at most `linger` for more) into one transaction, then acks each op.
//! An op is acked only after its commit, so awaiting the ack of `mark_in_flight` before the
//! request is sent is what makes a crash unable to lose the mark.
//!
//! The first failed transaction stops the writer: every op of that batch, and every later op,
//! fails with the same error; nothing is dropped silently. [`WriterHandle::failed`] lets a
//! worker stop at once rather than send a request whose outcome can no longer be recorded.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use super::{Ledger, LedgerError, WriteOp};

/// How the writer groups ops into transactions.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// At most this many ops per transaction.
    pub max_batch: usize,
    /// After the first op of a batch, wait up to this long for more (zero: take only what is
    /// already queued; commits still group naturally while an fsync is running).
    pub linger: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            max_batch: 512,
            linger: Duration::from_millis(2),
        }
    }
}

/// The ack of one op: resolves after the op's transaction is committed (or failed).
/// Dropping it is fine: the op is still written.
#[derive(Debug)]
pub struct Ack(oneshot::Receiver<Result<(), LedgerError>>);

impl Ack {
    /// Wait (async) until the op is committed.
    pub async fn wait(self) -> Result<(), LedgerError> {
        self.0.await.unwrap_or(Err(LedgerError::WriterClosed))
    }

    /// Wait (blocking the thread) until the op is committed. Not for async contexts.
    pub fn wait_blocking(self) -> Result<(), LedgerError> {
        self.0
            .blocking_recv()
            .unwrap_or(Err(LedgerError::WriterClosed))
    }

    fn ready(result: Result<(), LedgerError>) -> Ack {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(result);
        Ack(rx)
    }
}

enum Message {
    Op(Box<WriteOp>, oneshot::Sender<Result<(), LedgerError>>),
    Close,
}

/// The shared "writer has failed" slot: set once, read by every handle to fail fast, and
/// watched by workers that must stop as soon as it is set.
type Failure = Arc<watch::Sender<Option<Arc<LedgerError>>>>;

/// A cloneable handle that sends ops to the writer thread (one per upload worker).
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Message>,
    failure: Failure,
}

impl WriterHandle {
    /// Queue an op; the returned [`Ack`] resolves after its commit. After a failure of the
    /// writer the ack resolves at once with that failure.
    pub fn send(&self, op: WriteOp) -> Ack {
        if let Some(err) = current_failure(&self.failure) {
            return Ack::ready(Err(LedgerError::WriterFailed { source: err }));
        }
        let (ack_tx, ack_rx) = oneshot::channel();
        match self.tx.send(Message::Op(Box::new(op), ack_tx)) {
            Ok(()) => Ack(ack_rx),
            Err(_) => Ack::ready(Err(LedgerError::WriterClosed)),
        }
    }

    /// Wait until every op sent before this call is committed.
    pub async fn flush(&self) -> Result<(), LedgerError> {
        self.send(WriteOp::Flush).wait().await
    }

    /// Resolves with the writer's failure once a transaction has failed; never while every
    /// write succeeds. For racing against a request, so that nothing more is sent once its
    /// outcome could not be recorded.
    pub async fn failed(&self) -> LedgerError {
        let mut failure = self.failure.subscribe();
        loop {
            if let Some(err) = failure.borrow_and_update().clone() {
                return LedgerError::WriterFailed { source: err };
            }
            if failure.changed().await.is_err() {
                // No writer is left to fail.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The writer thread and a handle to it.
#[derive(Debug)]
pub struct LedgerWriter {
    handle: WriterHandle,
    thread: JoinHandle<Ledger>,
}

impl LedgerWriter {
    /// Move `ledger` onto a new writer thread.
    pub fn spawn(ledger: Ledger, options: WriterOptions) -> Result<LedgerWriter, LedgerError> {
        let (tx, rx) = mpsc::channel();
        let failure: Failure = Arc::new(watch::Sender::new(None));
        let thread_failure = Arc::clone(&failure);
        let path = ledger.path().to_path_buf();
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || run(ledger, rx, options, thread_failure))
            .map_err(|source| LedgerError::Io { path, source })?;
        Ok(LedgerWriter {
            handle: WriterHandle { tx, failure },
            thread,
        })
    }

    /// A handle to send ops (clone it per worker).
    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Queue an op (see [`WriterHandle::send`]).
    pub fn send(&self, op: WriteOp) -> Ack {
        self.handle.send(op)
    }

    /// Commit everything queued, stop the thread and give the ledger back (to finish the run).
    /// Ops sent later through remaining handles fail with [`LedgerError::WriterClosed`].
    /// Returns the writer's failure if it had one. Blocks: from async code, call it inside
    /// `spawn_blocking`.
    pub fn close(self) -> Result<Ledger, LedgerError> {
        let _ = self.handle.tx.send(Message::Close);
        let ledger = self.thread.join().map_err(|_| LedgerError::WriterClosed)?;
        match current_failure(&self.handle.failure) {
            Some(err) => Err(LedgerError::WriterFailed { source: err }),
            None => Ok(ledger),
        }
    }
}

fn current_failure(failure: &Failure) -> Option<Arc<LedgerError>> {
    failure.borrow().clone()
}

/// The writer loop: take a batch, commit it, ack it; stop at `Close` or when every sender is
/// gone.
fn run(
    mut ledger: Ledger,
    rx: mpsc::Receiver<Message>,
    options: WriterOptions,
    failure: Failure,
) -> Ledger {
    let mut closing = false;
    while !closing {
        let Ok(first) = rx.recv() else { break };
        let mut ops = Vec::new();
        let mut acks = Vec::new();
        closing = push(first, &mut ops, &mut acks);
        let deadline = Instant::now() + options.linger;
        while !closing && ops.len() < options.max_batch.max(1) {
            let next = match rx.try_recv() {
                Ok(msg) => msg,
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(left) {
                        Ok(msg) => msg,
                        Err(_) => break,
                    }
                }
            };
            closing = push(next, &mut ops, &mut acks);
        }
        commit(&mut ledger, &ops, acks, &failure);
    }
    ledger
}

/// Add a message to the batch; true if it asks the writer to close.
fn push(
    msg: Message,
    ops: &mut Vec<WriteOp>,
    acks: &mut Vec<oneshot::Sender<Result<(), LedgerError>>>,
) -> bool {
    match msg {
        Message::Op(op, ack) => {
            ops.push(*op);
            acks.push(ack);
            false
        }
        Message::Close => true,
    }
}

/// Commit one batch (or fail it, if the writer already failed) and ack every op in it.
fn commit(
    ledger: &mut Ledger,
    ops: &[WriteOp],
    acks: Vec<oneshot::Sender<Result<(), LedgerError>>>,
    failure: &Failure,
) {
    let earlier = current_failure(failure);
    let outcome = match earlier {
        Some(err) => Err(err),
        None if ops.is_empty() => Ok(()),
        None => ledger.apply_batch(ops).map_err(|err| {
            tracing::error!(error = %err, ops = ops.len(), "ledger write failed; stopping the ledger writer");
            let err = Arc::new(err);
            failure.send_replace(Some(Arc::clone(&err)));
            err
        }),
    };
    for ack in acks {
        let result = match &outcome {
            Ok(()) => Ok(()),
            Err(err) => Err(LedgerError::WriterFailed {
                source: Arc::clone(err),
            }),
        };
        let _ = ack.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Pending, RunId};

    fn pending(external_id: &str, run: RunId) -> WriteOp {
        WriteOp::Pending(Pending {
            external_id: external_id.to_owned(),
            source: None,
            run,
        })
    }

    #[tokio::test]
    async fn failed_resolves_once_a_write_fails_and_not_before() -> Result<(), LedgerError> {
        let dir = tempfile::tempdir().map_err(|source| LedgerError::Io {
            path: "tempdir".into(),
            source,
        })?;
        let path = dir.path().join("ledger.db");
        let mut ledger = Ledger::open(&path)?;
        let run = ledger.start_run("test")?;
        let writer = LedgerWriter::spawn(ledger, WriterOptions::default())?;
        let handle = writer.handle();
        writer.send(pending("A-1", run)).wait().await?;
        tokio::select! {
            biased;
            err = handle.failed() => panic!("failed() resolved while writes succeed: {err}"),
            () = std::future::ready(()) => {}
        }

        // Another connection takes the table away: the writer's next transaction fails.
        let other = rusqlite::Connection::open(&path).map_err(|source| LedgerError::Open {
            path: path.clone(),
            source,
        })?;
        other
            .execute_batch("DROP TABLE records")
            .map_err(|source| LedgerError::Open {
                path: path.clone(),
                source,
            })?;
        let write = writer.send(pending("A-2", run)).wait().await;
        assert!(write.is_err(), "{write:?}");
        let err = handle.failed().await;
        assert!(err.to_string().contains("ledger.db"), "{err}");
        assert!(matches!(err, LedgerError::WriterFailed { .. }), "{err:?}");
        Ok(())
    }
}
