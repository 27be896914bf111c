//! Writes request logs off the request path: a bounded channel feeds one task that inserts in
//! batches on a connection of its own. Submitting never waits; on shutdown everything queued is
//! flushed.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use sqlx::AnyConnection;

use parking_lot::RwLock;

use super::request_metrics::RequestMetrics;
use crate::model::prices::{cost_nanos, PriceTable};
use crate::server::db::request_logs::{insert_batch_with_ids, LogRecord, LogRow};
use crate::server::db::Database;

const QUEUE: usize = 65_536;
const MAX_BATCH: usize = 1_000;
/// How long the writer gathers records after the first one: logs appear within this delay.
const LINGER: Duration = Duration::from_millis(50);

enum Msg {
    Record(Box<LogRecord>),
    Flush(oneshot::Sender<()>),
}

/// The prices rows are costed at, replaced when the routing snapshot is.
type Prices = Arc<RwLock<Arc<PriceTable>>>;

/// A batch as it was stored, for the live view.
pub(crate) type WrittenRows = Arc<Vec<LogRow>>;
/// Batches the live view has not taken yet, at most; a slower one is told it lagged.
const LIVE_BATCHES: usize = 64;

pub struct LogWriter {
    tx: mpsc::Sender<Msg>,
    dropped: AtomicU64,
    written: Arc<AtomicU64>,
    prices: Prices,
    /// Each stored batch, while the live view listens (else rows are not even given ids).
    live: broadcast::Sender<WrittenRows>,
}

impl LogWriter {
    pub fn spawn(db: Database) -> Arc<Self> {
        Self::spawn_counting(db, None)
    }

    /// Starts the writer's task. With `metrics`, each record is counted there too, once priced.
    pub(crate) fn spawn_counting(db: Database, metrics: Option<Arc<RequestMetrics>>) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let prices: Prices = Arc::default();
        let (live, _) = broadcast::channel(LIVE_BATCHES);
        tokio::spawn(run(
            rx,
            db,
            written.clone(),
            prices.clone(),
            metrics,
            live.clone(),
        ));
        Arc::new(Self {
            tx,
            dropped: AtomicU64::new(0),
            written,
            prices,
            live,
        })
    }

    /// Every batch stored from now on, with the rows' ids.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<WrittenRows> {
        self.live.subscribe()
    }

    /// Rows written from now on are costed at these prices.
    pub(crate) fn set_prices(&self, prices: Arc<PriceTable>) {
        *self.prices.write() = prices;
    }

    /// Never blocks the request: a full queue drops the record and counts it. The proxy hands
    /// over the box its record was built in, so submitting allocates nothing.
    pub fn submit(&self, record: impl Into<Box<LogRecord>>) {
        if self.tx.try_send(Msg::Record(record.into())).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "request log queue full; records dropped");
            }
        }
    }

    /// Waits until everything submitted before this call is in the database.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Records (and flush requests) waiting for the writer.
    pub(crate) fn queue_depth(&self) -> u64 {
        (self.tx.max_capacity() - self.tx.capacity()) as u64
    }

    pub(crate) fn queue_capacity(&self) -> u64 {
        self.tx.max_capacity() as u64
    }
}

/// The writer's own connection, taken out of the pool on first use and replaced after an error.
///
/// Kept rather than borrowed per batch: its page cache stays valid (SQLite drops a connection's
/// cache whenever another connection has written since it last read) and its prepared INSERTs
/// are prepared once, not once per pooled connection.
struct Connection {
    db: Database,
    conn: Option<AnyConnection>,
}

impl Connection {
    async fn insert(
        &mut self,
        records: &[LogRecord],
        ids: Option<&mut Vec<i64>>,
    ) -> Result<(), sqlx::Error> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(self.db.pool.acquire().await?.detach()),
        };
        let inserted = insert_batch_with_ids(conn, self.db.kind, records, ids).await;
        if inserted.is_err() {
            // A broken connection must not fail every later batch: the retry takes a new one.
            self.conn = None;
        }
        inserted
    }
}

async fn write(
    conn: &mut Connection,
    batch: &mut Vec<LogRecord>,
    written: &AtomicU64,
    live: &broadcast::Sender<WrittenRows>,
) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=5 {
        // Ids are asked for only while the live view listens.
        let mut ids = (live.receiver_count() > 0).then(Vec::new);
        match conn.insert(batch, ids.as_mut()).await {
            Ok(()) => {
                if let Some(ids) = ids.filter(|ids| ids.len() == batch.len()) {
                    let rows = ids
                        .iter()
                        .zip(batch.iter())
                        .map(|(&id, r)| LogRow::from_record(id, r))
                        .collect();
                    let _ = live.send(Arc::new(rows));
                }
                written.fetch_add(batch.len() as u64, Ordering::Relaxed);
                batch.clear();
                return;
            }
            Err(e) if attempt < 5 => {
                tracing::warn!(error = %e, attempt, rows = batch.len(), "request log insert failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                tracing::error!(error = %e, rows = batch.len(), "request log insert failed; batch lost");
                batch.clear();
            }
        }
    }
}

/// Costs the rows the proxy did not (it prices only what a budget or quota must be charged):
/// by the model sent, at the upstream's multiplier. A model without a price keeps no cost.
fn price(batch: &mut [LogRecord], prices: &PriceTable) {
    for r in batch.iter_mut().filter(|r| r.cost_nanos.is_none()) {
        let Some(price) = r.priced_model().and_then(|m| prices.lookup(m)) else {
            continue;
        };
        r.cost_nanos = Some(cost_nanos(
            price,
            &r.usage,
            r.price_multiplier_ppm.unwrap_or(1_000_000),
        ));
    }
}

/// Prices the batch, counts it for the metrics, and stores it.
async fn store(
    conn: &mut Connection,
    batch: &mut Vec<LogRecord>,
    written: &AtomicU64,
    prices: &Prices,
    metrics: Option<&RequestMetrics>,
    live: &broadcast::Sender<WrittenRows>,
) {
    if batch.is_empty() {
        return;
    }
    let prices = prices.read().clone();
    price(batch, &prices);
    let Some(metrics) = metrics else {
        return write(conn, batch, written, live).await;
    };
    metrics.count(batch, &prices);
    let started = std::time::Instant::now();
    write(conn, batch, written, live).await;
    metrics.metrics.observe_log_batch(started.elapsed());
}

async fn run(
    mut rx: mpsc::Receiver<Msg>,
    db: Database,
    written: Arc<AtomicU64>,
    prices: Prices,
    metrics: Option<Arc<RequestMetrics>>,
    live: broadcast::Sender<WrittenRows>,
) {
    let metrics = metrics.as_deref();
    let mut conn = Connection { db, conn: None };
    let mut batch: Vec<LogRecord> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        let mut flushes = Vec::new();
        take(first, &mut batch, &mut flushes);
        if flushes.is_empty() {
            // Sleep rather than wait on the queue: a waiting reader is woken by every record,
            // a cross-thread wake-up for every proxied request.
            tokio::time::sleep(LINGER).await;
        }
        loop {
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(msg) => take(msg, &mut batch, &mut flushes),
                    Err(_) => break,
                }
            }
            let full = batch.len() == MAX_BATCH;
            store(&mut conn, &mut batch, &written, &prices, metrics, &live).await;
            if !full {
                break;
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
    store(&mut conn, &mut batch, &written, &prices, metrics, &live).await;
}

fn take(msg: Msg, batch: &mut Vec<LogRecord>, flushes: &mut Vec<oneshot::Sender<()>>) {
    match msg {
        Msg::Record(r) => batch.push(*r),
        Msg::Flush(done) => flushes.push(done),
    }
}
