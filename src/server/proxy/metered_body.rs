//! The response body on its way to the client: forwarded chunk by chunk as it arrives, while
//! usage, the time to the first byte and (of a stream) to the first content token are read from
//! the passing bytes. Its log record is submitted when the stream ends, fails, idles out, or
//! the client goes away.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;

use super::strategy::InFlight;
use super::usage::{
    response_id_from_json, usage_from_json, ApiFormat, SseUsageTracker, UsageChunkStripper,
};
use crate::server::db::request_logs::LogRecord;
use crate::server::proxy::log_writer::LogWriter;
use crate::server::text::error_chain;

/// A non-streamed body is copied aside for usage up to this size (it is forwarded regardless).
const JSON_USAGE_CAP: usize = 8 * 1024 * 1024;

// A body lives in one allocation with its meter, so the variants' sizes cost no extra one.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Meter {
    Sse {
        tracker: SseUsageTracker,
        stripper: Option<UsageChunkStripper>,
    },
    Json {
        format: ApiFormat,
        /// The chunks seen so far (reference-counted, not copied): usage is read at the end.
        chunks: Vec<Bytes>,
        held: usize,
        overflow: bool,
    },
    /// Google's stream without `alt=sse`: one JSON array read element by element as it passes.
    JsonArray {
        reader: super::json_stream::ArrayElements,
        usage: Option<super::usage::Usage>,
        first_content: bool,
    },
}

impl Meter {
    pub(crate) fn sse(format: ApiFormat, strip_usage_chunk: bool) -> Self {
        Meter::Sse {
            tracker: SseUsageTracker::new(format),
            stripper: strip_usage_chunk.then(UsageChunkStripper::new),
        }
    }

    pub(crate) fn json(format: ApiFormat) -> Self {
        Meter::Json {
            format,
            chunks: Vec::new(),
            held: 0,
            overflow: false,
        }
    }

    /// Gemini's JSON-array stream.
    pub(crate) fn json_array() -> Self {
        Meter::JsonArray {
            reader: Default::default(),
            usage: None,
            first_content: false,
        }
    }

    fn feed(&mut self, chunk: Bytes) -> Bytes {
        match self {
            Meter::JsonArray {
                reader,
                usage,
                first_content,
            } => {
                reader.feed(&chunk, &mut |element| {
                    let (read, content) = super::usage::gemini_chunk(element, !*first_content);
                    *first_content |= content;
                    if read.is_some() {
                        *usage = read;
                    }
                });
                chunk
            }
            Meter::Sse { tracker, stripper } => {
                tracker.feed(&chunk);
                match stripper {
                    Some(s) => s.process(&chunk),
                    None => chunk,
                }
            }
            Meter::Json {
                chunks,
                held,
                overflow,
                ..
            } => {
                if !*overflow {
                    if *held + chunk.len() > JSON_USAGE_CAP {
                        *overflow = true;
                        *chunks = Vec::new();
                    } else {
                        *held += chunk.len();
                        chunks.push(chunk.clone());
                    }
                }
                chunk
            }
        }
    }

    fn finish(&mut self) -> Bytes {
        match self {
            Meter::Sse {
                stripper: Some(s), ..
            } => s.finish(),
            _ => Bytes::new(),
        }
    }

    /// Whether a stream has carried its first content token (never, for a JSON answer).
    fn first_content_seen(&self) -> bool {
        match self {
            Meter::Sse { tracker, .. } => tracker.first_content_seen(),
            Meter::JsonArray { first_content, .. } => *first_content,
            Meter::Json { .. } => false,
        }
    }

    /// The id of the response a Responses stream creates, as soon as it has passed.
    fn streamed_response_id(&self) -> Option<&str> {
        match self {
            Meter::Sse { tracker, .. } => tracker.response_id(),
            Meter::Json { .. } | Meter::JsonArray { .. } => None,
        }
    }

    /// The created response's id, from the stream or the complete JSON answer.
    fn response_id(&self) -> Option<String> {
        match self {
            Meter::Sse { tracker, .. } => tracker.response_id().map(str::to_string),
            Meter::Json { chunks, .. } if chunks.len() == 1 => response_id_from_json(&chunks[0]),
            Meter::Json { chunks, .. } => response_id_from_json(&chunks.concat()),
            Meter::JsonArray { .. } => None,
        }
    }

    fn usage(&self) -> Option<super::usage::Usage> {
        match self {
            Meter::Sse { tracker, .. } => tracker.usage(),
            Meter::JsonArray { usage, .. } => *usage,
            Meter::Json { format, chunks, .. } if chunks.len() == 1 => {
                usage_from_json(*format, &chunks[0])
            }
            Meter::Json { format, chunks, .. } => usage_from_json(*format, &chunks.concat()),
        }
    }
}

pub(crate) struct PendingLog {
    pub record: Box<LogRecord>,
    pub started: Instant,
    pub writer: Arc<LogWriter>,
    /// What a limited key or capped upstream settles when the answer ends.
    pub bill: Option<Box<super::spend::Bill>>,
    /// The request's spans (traces on), which end with the answer, its usage known.
    pub trace: Option<Box<super::trace::RequestTrace>>,
}

type Upstream = Pin<Box<dyn Stream<Item = Result<Bytes, hyper::Error>> + Send>>;

/// Told the id of the response an answer creates (a Responses request's), once it is known.
pub(crate) type OnResponseId = Box<dyn FnOnce(&str) + Send>;

pub(crate) struct MeteredBody {
    inner: Upstream,
    idle: Pin<Box<tokio::time::Sleep>>,
    idle_timeout: Duration,
    meter: Meter,
    log: Option<PendingLog>,
    first_byte: Option<Instant>,
    /// When the first content token went out (streams only).
    first_token: Option<Instant>,
    ended: bool,
    /// With a Content-Length, hyper stops polling once that many bytes went out and drops the
    /// body without asking for its end; counting lets the log record a complete response.
    remaining: Option<u64>,
    /// Only on a Responses answer: remembers where the response it creates lives.
    on_response_id: Option<OnResponseId>,
    /// Counts this request as in flight on its upstream (and lists it in the live view) until
    /// the body is done or dropped.
    in_flight: InFlight,
}

impl MeteredBody {
    pub(crate) fn new(
        inner: Upstream,
        idle_timeout: Duration,
        meter: Meter,
        log: PendingLog,
        in_flight: InFlight,
    ) -> Self {
        Self {
            inner,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            idle_timeout,
            meter,
            log: Some(log),
            first_byte: None,
            first_token: None,
            ended: false,
            remaining: None,
            on_response_id: None,
            in_flight,
        }
    }

    /// The body's declared length, when it is forwarded unchanged.
    pub(crate) fn with_length(mut self, length: Option<u64>) -> Self {
        self.remaining = length;
        self
    }

    /// Tells `hook` the id of the response this answer creates.
    pub(crate) fn on_response_id(mut self, hook: OnResponseId) -> Self {
        self.on_response_id = Some(hook);
        self
    }

    fn submit(&mut self, error: Option<String>) {
        let Some(mut pending) = self.log.take() else {
            return;
        };
        if let Some(hook) = self.on_response_id.take() {
            if let Some(id) = self.meter.response_id() {
                hook(&id);
            }
        }
        pending.record.duration_ms = Some(pending.started.elapsed().as_millis() as i64);
        let since_start = |t: Instant| t.duration_since(pending.started).as_millis() as i64;
        pending.record.ttfb_ms = self.first_byte.map(since_start);
        pending.record.ttft_ms = self.first_token.map(since_start);
        if let Some(u) = self.meter.usage() {
            pending.record.usage = u;
        }
        if error.is_some() {
            pending.record.error_message = error;
        }
        if let Some(bill) = pending.bill.take() {
            bill.settle(&mut pending.record);
        }
        if let Some(trace) = pending.trace.take() {
            trace.finish(&pending.record);
        }
        pending.writer.submit(pending.record);
    }
}

impl Stream for MeteredBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let deadline = tokio::time::Instant::now() + this.idle_timeout;
                    this.idle.as_mut().reset(deadline);
                    let out = this.meter.feed(chunk);
                    if this.on_response_id.is_some() {
                        if let Some(id) = this.meter.streamed_response_id() {
                            if let Some(hook) = this.on_response_id.take() {
                                hook(id);
                            }
                        }
                    }
                    if out.is_empty() {
                        continue;
                    }
                    if this.first_token.is_none() {
                        let now = Instant::now();
                        this.first_byte.get_or_insert(now);
                        if this.meter.first_content_seen() {
                            this.first_token = Some(now);
                        }
                    }
                    this.in_flight.forwarded(out.len());
                    if let Some(left) = this.remaining.as_mut() {
                        *left = left.saturating_sub(out.len() as u64);
                        if *left == 0 {
                            this.submit(None);
                        }
                    }
                    return Poll::Ready(Some(Ok(out)));
                }
                Poll::Ready(Some(Err(e))) => {
                    this.ended = true;
                    let message = format!("upstream stream broke: {}", error_chain(&e));
                    this.submit(Some(message.clone()));
                    return Poll::Ready(Some(Err(std::io::Error::other(message))));
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    let rest = this.meter.finish();
                    this.submit(None);
                    return if rest.is_empty() {
                        Poll::Ready(None)
                    } else {
                        Poll::Ready(Some(Ok(rest)))
                    };
                }
                Poll::Pending => {
                    if this.idle.as_mut().poll(cx).is_ready() {
                        this.ended = true;
                        let message = format!(
                            "upstream sent nothing for {} ms",
                            this.idle_timeout.as_millis()
                        );
                        this.submit(Some(message.clone()));
                        return Poll::Ready(Some(Err(std::io::Error::other(message))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        if self.log.is_some() {
            self.submit(Some("client disconnected before the response ended".into()));
        }
    }
}
