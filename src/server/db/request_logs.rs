//! Repository for `request_logs`: batched inserts and the admin list.
use std::sync::OnceLock;

use sqlx::{AnyConnection, AnyPool, Connection};

use super::Database;
use crate::server::config::DatabaseKind;

use crate::model::usage::Usage;

/// One proxied request, as the log writer stores it.
#[derive(Debug, Clone, Default)]
pub struct LogRecord {
    pub request_id: String,
    pub api_key_id: Option<String>,
    pub upstream_id: Option<String>,
    pub method: String,
    pub path: String,
    pub model_requested: Option<String>,
    pub model_sent: Option<String>,
    pub status_code: Option<i64>,
    pub is_stream: bool,
    pub usage: Usage,
    /// Time to the first byte forwarded to the client.
    pub ttfb_ms: Option<i64>,
    /// Time to the first content token of a stream (text, tool-call or reasoning delta).
    pub ttft_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error_message: Option<String>,
    pub lb_strategy: Option<String>,
    pub failover_attempts: i64,
    pub failover_history: Option<String>,
    pub created_at: i64,
    /// What the answer cost in nano-USD; `None` when it used tokens of a model with no price
    /// (or used none).
    pub cost_nanos: Option<i64>,
    /// The limit that refused the request (`model_rules`' and `limits`' names), if one did.
    pub refused_by: Option<String>,
    /// The short digest of the agent session the request belonged to, if any.
    pub session_id: Option<String>,
    /// For a request of a session: whether it went to the upstream that served it last.
    pub sticky: Option<bool>,
    /// The chosen upstream's price multiplier (parts per million; none: list price). Not
    /// stored: the log writer prices the row with it when the proxy has not already.
    pub price_multiplier_ppm: Option<i64>,
}

impl LogRecord {
    /// The model the row is priced by: the one sent upstream, else the one asked for.
    pub(crate) fn priced_model(&self) -> Option<&str> {
        self.model_sent
            .as_deref()
            .or(self.model_requested.as_deref())
    }

    /// Tokens were used but no price was known for them.
    pub(crate) fn unpriced(&self) -> bool {
        self.cost_nanos.is_none() && self.usage.total_tokens > 0
    }
}

const COLUMNS: [&str; 28] = [
    "request_id",
    "api_key_id",
    "upstream_id",
    "method",
    "path",
    "model_requested",
    "model_sent",
    "status_code",
    "is_stream",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "ttfb_ms",
    "ttft_ms",
    "duration_ms",
    "error_message",
    "lb_strategy",
    "failover_attempts",
    "failover_history",
    "created_at",
    "cost_nanos",
    "refused_by",
    "session_id",
    "sticky",
];

/// Rows per INSERT statement, largest first: 28 x 200 parameters stays under SQLite's and
/// PostgreSQL's limits. A batch is cut into statements of these sizes only, so the connection
/// keeps four prepared INSERTs and never parses one again; a statement for every row count would
/// be parsed afresh for each batch below the largest size (at a few hundred requests a second
/// SQLite spent more instructions parsing those than inserting), or, cached, pile up.
pub const STATEMENT_ROWS: [usize; 4] = [200, 40, 8, 1];

/// The statement sizes a batch of `rows` records is cut into, largest first.
pub fn statement_sizes(mut rows: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    for size in STATEMENT_ROWS {
        while rows >= size {
            sizes.push(size);
            rows -= size;
        }
    }
    sizes
}

/// The INSERT for `rows` records; SQLite looks a numbered parameter's name up with a linear
/// scan, so binding 4,600 `$N` parameters costs millions of comparisons per statement, and it
/// gets anonymous `?` parameters, bound in order.
///
/// On SQLite it is `INSERT OR FAIL`. A plain multi-row INSERT that may abort keeps a statement
/// journal (the old content of every page it changes, spilled to a temporary file past 64 KiB)
/// so that the one statement can be undone; `OR FAIL` needs none. The writer never undoes one
/// statement: any error rolls the whole batch's transaction back, as before.
fn insert_sql(kind: DatabaseKind, rows: usize, returning: bool) -> String {
    let numbered = kind == DatabaseKind::Postgres;
    let verb = if numbered { "INSERT" } else { "INSERT OR FAIL" };
    let mut sql = format!("{verb} INTO request_logs ({}) VALUES ", COLUMNS.join(", "));
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..COLUMNS.len() {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            if numbered {
                sql.push('$');
                sql.push_str(&n.to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    if returning {
        sql.push_str(" RETURNING id");
    }
    sql
}

/// The INSERT text for each of `STATEMENT_ROWS`, built once per backend (and once more with
/// `RETURNING id`, used only while the live view watches).
fn cached_insert_sql(kind: DatabaseKind, rows: usize, returning: bool) -> &'static str {
    static CACHE: [OnceLock<Vec<String>>; 4] = [const { OnceLock::new() }; 4];
    let cell = match (kind, returning) {
        (DatabaseKind::Sqlite, false) => &CACHE[0],
        (DatabaseKind::Postgres, false) => &CACHE[1],
        (DatabaseKind::Sqlite, true) => &CACHE[2],
        (DatabaseKind::Postgres, true) => &CACHE[3],
    };
    let all = cell.get_or_init(|| {
        STATEMENT_ROWS
            .iter()
            .map(|&r| insert_sql(kind, r, returning))
            .collect()
    });
    let index = STATEMENT_ROWS
        .iter()
        .position(|&r| r == rows)
        .expect("a statement size from STATEMENT_ROWS");
    &all[index]
}

/// Inserts the records in one transaction on a connection from the pool.
pub async fn insert_batch(db: &Database, records: &[LogRecord]) -> Result<(), sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    insert_batch_on(&mut conn, db.kind, records).await
}

/// Inserts the records in one transaction on `conn`, in statements of `STATEMENT_ROWS` sizes.
pub async fn insert_batch_on(
    conn: &mut AnyConnection,
    kind: DatabaseKind,
    records: &[LogRecord],
) -> Result<(), sqlx::Error> {
    insert_batch_with_ids(conn, kind, records, None).await
}

/// Like `insert_batch_on`; with `ids`, also gives each record's new row id, in the records'
/// order (a statement's rows take ascending ids in the order of its VALUES).
pub async fn insert_batch_with_ids(
    conn: &mut AnyConnection,
    kind: DatabaseKind,
    records: &[LogRecord],
    ids: Option<&mut Vec<i64>>,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    insert_in(&mut tx, kind, records, ids).await?;
    tx.commit().await
}

/// Inserts the records, their hourly and daily counters and their keys' last use, in `tx`.
pub(crate) async fn insert_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: DatabaseKind,
    records: &[LogRecord],
    mut ids: Option<&mut Vec<i64>>,
) -> Result<(), sqlx::Error> {
    let mut rest = records;
    for size in statement_sizes(records.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut q = sqlx::query(cached_insert_sql(kind, size, ids.is_some()));
        // Borrowed, not cloned: the rows outlive the statement.
        for r in chunk {
            q = q
                .bind(r.request_id.as_str())
                .bind(r.api_key_id.as_deref())
                .bind(r.upstream_id.as_deref())
                .bind(r.method.as_str())
                .bind(r.path.as_str())
                .bind(r.model_requested.as_deref())
                .bind(r.model_sent.as_deref())
                .bind(r.status_code)
                .bind(i64::from(r.is_stream))
                .bind(r.usage.prompt_tokens)
                .bind(r.usage.completion_tokens)
                .bind(r.usage.total_tokens)
                .bind(r.usage.cached_tokens)
                .bind(r.usage.reasoning_tokens)
                .bind(r.usage.cache_creation_tokens)
                .bind(r.usage.cache_read_tokens)
                .bind(r.ttfb_ms)
                .bind(r.ttft_ms)
                .bind(r.duration_ms)
                .bind(r.error_message.as_deref())
                .bind(r.lb_strategy.as_deref())
                .bind(r.failover_attempts)
                .bind(r.failover_history.as_deref())
                .bind(r.created_at)
                .bind(r.cost_nanos)
                .bind(r.refused_by.as_deref())
                .bind(r.session_id.as_deref())
                .bind(r.sticky.map(i64::from));
        }
        match ids.as_deref_mut() {
            None => {
                q.execute(&mut **tx).await?;
            }
            Some(ids) => {
                use sqlx::Row;
                let start = ids.len();
                for row in q.fetch_all(&mut **tx).await? {
                    ids.push(row.try_get::<i64, _>(0)?);
                }
                // RETURNING promises no order; the ids were given in the VALUES' order.
                ids[start..].sort_unstable();
            }
        }
    }
    super::request_stats::add_batch(tx, records).await?;
    // Last use per key, once per batch rather than once per request.
    let mut last_used: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for r in records {
        if let Some(k) = r.api_key_id.as_deref() {
            let e = last_used.entry(k).or_insert(r.created_at);
            *e = (*e).max(r.created_at);
        }
    }
    for (key, at) in last_used {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)")
            .bind(at)
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogRow {
    pub id: i64,
    pub request_id: String,
    pub api_key_id: Option<String>,
    pub upstream_id: Option<String>,
    pub method: String,
    pub path: String,
    pub model_requested: Option<String>,
    pub model_sent: Option<String>,
    pub status_code: Option<i64>,
    pub is_stream: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub reasoning_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cache_read_tokens: i64,
    /// Time to the first byte forwarded to the client.
    pub ttfb_ms: Option<i64>,
    /// Time to the first content token of a stream (text, tool-call or reasoning delta).
    pub ttft_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error_message: Option<String>,
    pub lb_strategy: Option<String>,
    pub failover_attempts: i64,
    pub failover_history: Option<String>,
    pub created_at: i64,
    pub cost_nanos: Option<i64>,
    pub refused_by: Option<String>,
    pub session_id: Option<String>,
    pub sticky: Option<i64>,
}

impl LogRow {
    /// The row a record was stored as, with the id the insert gave it.
    pub(crate) fn from_record(id: i64, r: &LogRecord) -> Self {
        LogRow {
            id,
            request_id: r.request_id.clone(),
            api_key_id: r.api_key_id.clone(),
            upstream_id: r.upstream_id.clone(),
            method: r.method.clone(),
            path: r.path.clone(),
            model_requested: r.model_requested.clone(),
            model_sent: r.model_sent.clone(),
            status_code: r.status_code,
            is_stream: i64::from(r.is_stream),
            prompt_tokens: r.usage.prompt_tokens,
            completion_tokens: r.usage.completion_tokens,
            total_tokens: r.usage.total_tokens,
            cached_tokens: r.usage.cached_tokens,
            reasoning_tokens: r.usage.reasoning_tokens,
            cache_creation_tokens: r.usage.cache_creation_tokens,
            cache_read_tokens: r.usage.cache_read_tokens,
            ttfb_ms: r.ttfb_ms,
            ttft_ms: r.ttft_ms,
            duration_ms: r.duration_ms,
            error_message: r.error_message.clone(),
            lb_strategy: r.lb_strategy.clone(),
            failover_attempts: r.failover_attempts,
            failover_history: r.failover_history.clone(),
            created_at: r.created_at,
            cost_nanos: r.cost_nanos,
            refused_by: r.refused_by.clone(),
            session_id: r.session_id.clone(),
            sticky: r.sticky.map(i64::from),
        }
    }
}

/// The rows with these ids (another instance wrote them), oldest first.
pub async fn by_ids(pool: &AnyPool, ids: &[i64]) -> Result<Vec<LogRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    // Integers only, formatted here: no injection, and one statement however many ids.
    let sql = format!(
        "SELECT * FROM request_logs WHERE id IN ({}) ORDER BY id",
        list.join(",")
    );
    sqlx::query_as(&sql).fetch_all(pool).await
}

#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub api_key_id: Option<String>,
    /// A session's short digest.
    pub session_id: Option<String>,
    pub upstream_id: Option<String>,
    pub model: Option<String>,
    /// An exact status (`404`) or a class (`2xx`, `4xx`, `5xx`).
    pub status: Option<(i64, i64)>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

/// One page of the rows matching `filter`, newest first, and how many match, counted up to
/// `count_limit` (a count past it would walk the whole table).
pub async fn list_page(
    pool: &AnyPool,
    filter: &LogFilter,
    limit: i64,
    offset: i64,
    count_limit: i64,
) -> Result<(Vec<LogRow>, i64), sqlx::Error> {
    let mut clauses: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut ints: Vec<(usize, i64)> = Vec::new();
    let mut n = 0usize;
    let mut next = || {
        n += 1;
        n
    };
    if let Some(k) = &filter.api_key_id {
        let i = next();
        clauses.push(format!("api_key_id = ${i}"));
        texts.push(k.clone());
    }
    if let Some(u) = &filter.upstream_id {
        let i = next();
        clauses.push(format!("upstream_id = ${i}"));
        texts.push(u.clone());
    }
    if let Some(m) = &filter.model {
        let i = next();
        clauses.push(format!("model_requested = ${i}"));
        texts.push(m.clone());
    }
    if let Some(session) = &filter.session_id {
        let i = next();
        clauses.push(format!("session_id = ${i}"));
        texts.push(session.clone());
    }
    let text_count = texts.len();
    if let Some((lo, hi)) = filter.status {
        let (a, b) = (next(), next());
        // The literal bound lets SQLite use the partial index of error rows, which it does
        // only for a query that states the index's own condition.
        if lo >= 400 {
            clauses.push("status_code >= 400".into());
        }
        clauses.push(format!("status_code BETWEEN ${a} AND ${b}"));
        ints.push((a, lo));
        ints.push((b, hi));
    }
    if let Some(s) = filter.start_ms {
        let i = next();
        clauses.push(format!("created_at >= ${i}"));
        ints.push((i, s));
    }
    if let Some(e) = filter.end_ms {
        let i = next();
        clauses.push(format!("created_at <= ${i}"));
        ints.push((i, e));
    }
    let where_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    debug_assert_eq!(text_count + ints.len(), n);
    let count_sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM request_logs {where_sql} LIMIT ${}) AS matching",
        n + 1
    );
    let mut count = sqlx::query_scalar(&count_sql);
    for t in &texts {
        count = count.bind(t);
    }
    for (_, v) in &ints {
        count = count.bind(*v);
    }
    let total: i64 = count.bind(count_limit).fetch_one(pool).await?;
    let sql = format!(
        "SELECT * FROM request_logs {where_sql} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut q = sqlx::query_as(&sql);
    for t in &texts {
        q = q.bind(t);
    }
    for (_, v) in &ints {
        q = q.bind(*v);
    }
    let rows = q.bind(limit).bind(offset).fetch_all(pool).await?;
    Ok((rows, total))
}

/// Deletes at most `batch` rows older than `cutoff_ms`; returns how many went. Small batches keep
/// each statement's lock short, so the log writer and the admin never wait long.
pub async fn delete_older_than(
    pool: &AnyPool,
    cutoff_ms: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM request_logs WHERE id IN \
         (SELECT id FROM request_logs WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
    )
    .bind(cutoff_ms)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_cut_into_the_prepared_sizes_only_largest_first() {
        assert_eq!(statement_sizes(0), Vec::<usize>::new());
        assert_eq!(statement_sizes(1), vec![1]);
        assert_eq!(statement_sizes(1_000), vec![200; 5]);
        assert_eq!(statement_sizes(257), vec![200, 40, 8, 8, 1]);
        for rows in 0..=1_000 {
            let sizes = statement_sizes(rows);
            assert_eq!(sizes.iter().sum::<usize>(), rows, "{rows} rows");
            assert!(
                sizes.iter().all(|s| STATEMENT_ROWS.contains(s)),
                "{sizes:?}"
            );
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
            // Greedy over sizes that divide each other: at most 4 + 4 + 7 below the largest.
            assert!(
                sizes.iter().filter(|&&s| s < 200).count() <= 15,
                "{sizes:?}"
            );
        }
    }

    #[test]
    fn each_statement_has_one_parameter_per_column_and_row() {
        for rows in STATEMENT_ROWS {
            let sqlite = cached_insert_sql(DatabaseKind::Sqlite, rows, false);
            assert_eq!(sqlite.matches('?').count(), rows * COLUMNS.len());
            assert!(!sqlite.contains('$'));
            let postgres = cached_insert_sql(DatabaseKind::Postgres, rows, false);
            let last = format!("${})", rows * COLUMNS.len());
            assert!(postgres.ends_with(&last), "{rows} rows");
            assert_eq!(postgres.matches('$').count(), rows * COLUMNS.len());
        }
    }
}
