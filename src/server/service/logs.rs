//! Request logs: the filtered, paginated list.
use super::Services;
use super::{db_error, validate};
use crate::model::logs::{LogQuery, RequestLogView};
use crate::model::money::usd;
use crate::model::page::{Page, PageRequest};
use crate::server::db::request_logs::{delete_older_than, list_page, LogFilter, LogRow};
use crate::server::db::Database;
use crate::server::error::ApiError;
use crate::server::timefmt::{parse_rfc3339, to_rfc3339};

/// The list serves the newest this many rows of a filter, and counts no further: counting or
/// skipping more would walk millions of rows. Older rows are reached by narrowing the time range.
pub(crate) const LIST_REACH: i64 = 10_000;

pub(crate) fn status_range(raw: &str) -> Result<(i64, i64), ApiError> {
    let raw = raw.trim().to_ascii_lowercase();
    if let Some(class) = raw.strip_suffix("xx") {
        if let Ok(c @ 1..=5) = class.parse::<i64>() {
            return Ok((c * 100, c * 100 + 99));
        }
    } else if let Ok(code @ 100..=599) = raw.parse::<i64>() {
        return Ok((code, code));
    }
    Err(validate::invalid(
        "status",
        "must be a status code such as 404 or a class such as 5xx",
    ))
}

pub(crate) fn view(r: LogRow) -> RequestLogView {
    RequestLogView {
        id: r.id,
        request_id: r.request_id,
        api_key_id: r.api_key_id,
        upstream_id: r.upstream_id,
        method: r.method,
        path: r.path,
        model_requested: r.model_requested,
        model_sent: r.model_sent,
        status_code: r.status_code,
        is_stream: r.is_stream != 0,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        total_tokens: r.total_tokens,
        cached_tokens: r.cached_tokens,
        reasoning_tokens: r.reasoning_tokens,
        cache_creation_tokens: r.cache_creation_tokens,
        cache_read_tokens: r.cache_read_tokens,
        ttfb_ms: r.ttfb_ms,
        ttft_ms: r.ttft_ms,
        duration_ms: r.duration_ms,
        error_message: r.error_message,
        lb_strategy: r.lb_strategy,
        failover_attempts: r.failover_attempts,
        failover_history: r
            .failover_history
            .as_deref()
            .and_then(|h| serde_json::from_str(h).ok()),
        created_at: to_rfc3339(r.created_at),
        cost_usd: r.cost_nanos.map(usd),
        refused_by: r.refused_by,
        session_id: r.session_id,
        sticky: r.sticky.map(|s| s != 0),
    }
}

pub(crate) async fn list(state: &Services, q: LogQuery) -> Result<Page<RequestLogView>, ApiError> {
    let page = PageRequest::new(q.page, q.page_size).map_err(ApiError::Invalid)?;
    let time = |field: &str, v: Option<&str>| -> Result<Option<i64>, ApiError> {
        v.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse_rfc3339(s).map_err(|e| validate::invalid(field, e)))
            .transpose()
    };
    let nonempty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = LogFilter {
        api_key_id: nonempty(q.api_key_id),
        upstream_id: nonempty(q.upstream_id),
        model: nonempty(q.model),
        session_id: nonempty(q.session),
        status: q
            .status
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(status_range)
            .transpose()?,
        start_ms: time("start_time", q.start_time.as_deref())?,
        end_ms: time("end_time", q.end_time.as_deref())?,
    };
    if let (Some(s), Some(e)) = (filter.start_ms, filter.end_ms) {
        if s > e {
            return Err(validate::invalid(
                "start_time",
                "must not be after end_time",
            ));
        }
    }
    if page.offset() + i64::from(page.page_size) > LIST_REACH {
        return Err(validate::invalid(
            "page",
            format!(
                "the list reaches the newest {LIST_REACH} matching rows; \
                 set end_time to see older ones"
            ),
        ));
    }
    let (rows, total) = list_page(
        &state.db.pool,
        &filter,
        page.page_size as i64,
        page.offset(),
        LIST_REACH + 1,
    )
    .await
    .map_err(db_error)?;
    let items = rows.into_iter().map(view).collect();
    Ok(if total > LIST_REACH {
        Page::at_least(items, LIST_REACH as u64, page.page, page.page_size)
    } else {
        Page::new(items, total.max(0) as u64, page.page, page.page_size)
    })
}

/// Rows deleted per statement by retention: each statement holds its lock for milliseconds.
pub(crate) const PURGE_BATCH: i64 = 1_000;
/// Pause between retention batches, so writers and readers get the database in between.
const PURGE_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Deletes request logs created before `cutoff_ms`, batch by batch; returns how many went.
pub(crate) async fn purge_older_than(db: &Database, cutoff_ms: i64) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let n = delete_older_than(&db.pool, cutoff_ms, PURGE_BATCH).await?;
        total += n;
        if n < PURGE_BATCH as u64 {
            return Ok(total);
        }
        tokio::time::sleep(PURGE_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::status_range;

    #[test]
    fn status_filters() {
        assert_eq!(status_range("5xx").unwrap(), (500, 599));
        assert_eq!(status_range("404").unwrap(), (404, 404));
        assert!(status_range("9xx").is_err());
        assert!(status_range("abc").is_err());
    }
}
