//! Token usage of proxied OpenAI/Anthropic/Gemini responses, read from JSON and SSE bodies in
//! flight.

use std::mem;

use bytes::Bytes;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use super::json_field::top_level_field;
use super::usage_object::{IfObject, UsageCounts};

/// A usage event is a few hundred bytes; anything this large is not one, and holding more would
/// let a misbehaving upstream grow the gateway's memory without bound.
pub use crate::model::usage::Usage;

const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Buffers are reused across events to avoid per-chunk allocation, but one big event must not pin
/// megabytes for the rest of a long stream.
const RETAINED_CAPACITY: usize = 64 * 1024;

impl Usage {
    /// Chat Completions, legacy Completions and Embeddings share this shape.
    fn from_openai(u: &UsageCounts) -> Usage {
        let prompt = u.prompt_tokens.unwrap_or(0);
        let completion = u.completion_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: u
                .total_tokens
                .unwrap_or_else(|| prompt.saturating_add(completion)),
            cached_tokens: u.prompt_tokens_details.cached_tokens.unwrap_or(0),
            reasoning_tokens: u.completion_tokens_details.reasoning_tokens.unwrap_or(0),
            ..Usage::default()
        }
    }

    fn from_responses(u: &UsageCounts) -> Usage {
        let prompt = u.input_tokens.unwrap_or(0);
        let completion = u.output_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: u
                .total_tokens
                .unwrap_or_else(|| prompt.saturating_add(completion)),
            cached_tokens: u.input_tokens_details.cached_tokens.unwrap_or(0),
            reasoning_tokens: u.output_tokens_details.reasoning_tokens.unwrap_or(0),
            ..Usage::default()
        }
    }

    /// Anthropic's `input_tokens` excludes cached input, so the cache writes and reads are added
    /// back to make `prompt_tokens` mean "all input", as it does for OpenAI. `cached_tokens` is
    /// the cache reads only (the OpenAI meaning); cache writes are not discounted input.
    /// Thinking tokens are part of `output_tokens` and not reported separately, hence no
    /// `reasoning_tokens`. The 1-hour writes are a part of the writes, never more.
    fn from_anthropic(c: AnthropicCounts) -> Usage {
        let prompt = c
            .input
            .saturating_add(c.cache_creation)
            .saturating_add(c.cache_read);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: c.output,
            total_tokens: prompt.saturating_add(c.output),
            cached_tokens: c.cache_read,
            reasoning_tokens: 0,
            cache_creation_tokens: c.cache_creation,
            cache_read_tokens: c.cache_read,
            cache_creation_1h_tokens: c.cache_creation_1h.min(c.cache_creation),
        }
    }
}

impl Usage {
    /// Gemini's `promptTokenCount` already holds the cached input (`cachedContentTokenCount`),
    /// as OpenAI's does; tool-use prompt tokens are input too. `candidatesTokenCount` leaves
    /// out the thinking (`thoughtsTokenCount`), which is billed as output: both make
    /// `completion_tokens`, and the thinking is `reasoning_tokens`.
    fn from_gemini(u: &UsageCounts) -> Usage {
        let prompt = u
            .prompt_token_count
            .unwrap_or(0)
            .saturating_add(u.tool_use_prompt_token_count.unwrap_or(0));
        let thoughts = u.thoughts_token_count.unwrap_or(0);
        let completion = u
            .candidates_token_count
            .unwrap_or(0)
            .saturating_add(thoughts);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: u
                .total_tokens
                .unwrap_or_else(|| prompt.saturating_add(completion)),
            cached_tokens: u.cached_content_token_count.unwrap_or(0),
            reasoning_tokens: thoughts,
            ..Usage::default()
        }
    }
}

/// Anthropic reports its counts piecemeal over a stream, so they are kept raw and re-mapped after
/// every update.
#[derive(Debug, Default, Clone, Copy)]
struct AnthropicCounts {
    input: i64,
    cache_creation: i64,
    /// `cache_creation.ephemeral_1h_input_tokens`: the writes with the 1-hour TTL.
    cache_creation_1h: i64,
    cache_read: i64,
    output: i64,
}

impl AnthropicCounts {
    fn from_usage(u: &UsageCounts) -> AnthropicCounts {
        AnthropicCounts {
            input: u.input_tokens.unwrap_or(0),
            cache_creation: u.cache_creation_input_tokens.unwrap_or(0),
            cache_creation_1h: u.cache_creation.ephemeral_1h_input_tokens.unwrap_or(0),
            cache_read: u.cache_read_input_tokens.unwrap_or(0),
            output: u.output_tokens.unwrap_or(0),
        }
    }
}

/// Which upstream API a request targets, which decides where its usage lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFormat {
    OpenAiChat,
    OpenAiCompletions,
    OpenAiResponses,
    OpenAiEmbeddings,
    AnthropicMessages,
    /// Google's `generateContent` family: `usageMetadata` on every answer and stream chunk.
    Gemini,
    Other,
}

/// Reads the usage of a complete (non-streaming) JSON response body.
///
/// Returns `None` when the body is not one complete JSON object, has no top-level `usage`
/// object, or the format is `Other`. Only the `usage` member is parsed, straight into its
/// counts (`usage_object`): the rest of the body, mostly generated text, is walked past
/// (`json_field`) rather than decoded.
pub fn usage_from_json(format: ApiFormat, body: &[u8]) -> Option<Usage> {
    if format == ApiFormat::Other {
        return None;
    }
    if format == ApiFormat::Gemini {
        let u: UsageCounts =
            serde_json::from_slice(top_level_field(body, "usageMetadata")?).ok()?;
        return Some(Usage::from_gemini(&u));
    }
    let u: &UsageCounts = &serde_json::from_slice(top_level_field(body, "usage")?).ok()?;
    Some(match format {
        ApiFormat::OpenAiResponses => Usage::from_responses(u),
        ApiFormat::AnthropicMessages => Usage::from_anthropic(AnthropicCounts::from_usage(u)),
        _ => Usage::from_openai(u),
    })
}

/// Reads usage from a Server-Sent Events response as it streams past, chunk by chunk.
///
/// Only the unfinished tail of the current event is buffered, and an event larger than 4 MiB is
/// discarded unread (usage events are tiny), so memory stays bounded whatever upstream sends.
#[derive(Debug)]
pub struct SseUsageTracker {
    splitter: EventSplitter,
    state: TrackerState,
}

#[derive(Debug)]
struct TrackerState {
    format: ApiFormat,
    usage: Option<Usage>,
    anthropic: AnthropicCounts,
    first_content: bool,
    /// A Responses stream's response id, from its `response.created` event.
    response_id: Option<String>,
    scratch: Vec<u8>,
}

impl SseUsageTracker {
    pub fn new(format: ApiFormat) -> Self {
        SseUsageTracker {
            splitter: EventSplitter::default(),
            state: TrackerState {
                format,
                usage: None,
                anthropic: AnthropicCounts::default(),
                first_content: false,
                response_id: None,
                scratch: Vec::new(),
            },
        }
    }

    /// Consumes the next chunk exactly as it was received from upstream.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.state.format == ApiFormat::Other {
            return;
        }
        let state = &mut self.state;
        self.splitter.feed(chunk, &mut |piece| {
            // Oversized events are dropped here: that is the resynchronisation.
            if let Piece::Event(event) = piece {
                state.on_event(event);
            }
        });
    }

    /// The latest usage reported so far; `None` until the stream has carried any.
    pub fn usage(&self) -> Option<Usage> {
        self.state.usage
    }

    /// Whether the model has emitted any output yet (text, reasoning or tool-call deltas), for
    /// time-to-first-token measurement.
    pub fn first_content_seen(&self) -> bool {
        self.state.first_content
    }

    /// The id of the response a Responses stream creates, once its first event has passed.
    pub fn response_id(&self) -> Option<&str> {
        self.state.response_id.as_deref()
    }
}

/// The `id` of a complete (non-streaming) Responses answer.
pub fn response_id_from_json(body: &[u8]) -> Option<String> {
    let raw = super::json_field::top_level_field(body, "id")?;
    serde_json::from_slice::<String>(raw).ok()
}

impl TrackerState {
    fn on_event(&mut self, event: &[u8]) {
        // Taken out so the data slice may borrow it while `self` is updated.
        let mut scratch = mem::take(&mut self.scratch);
        if let Some(data) = event_data(event, &mut scratch) {
            self.on_data(data);
        }
        scratch.clear();
        scratch.shrink_to(RETAINED_CAPACITY);
        self.scratch = scratch;
    }

    fn on_data(&mut self, data: &[u8]) {
        if data == b"[DONE]" {
            return;
        }
        match self.format {
            ApiFormat::OpenAiChat | ApiFormat::OpenAiCompletions | ApiFormat::OpenAiEmbeddings => {
                self.on_openai_chunk(data)
            }
            ApiFormat::OpenAiResponses => self.on_responses_event(data),
            ApiFormat::AnthropicMessages => self.on_anthropic_event(data),
            ApiFormat::Gemini => {
                let (usage, content) = gemini_chunk(data, !self.first_content);
                self.first_content |= content;
                if usage.is_some() {
                    self.usage = usage;
                }
            }
            ApiFormat::Other => {}
        }
    }

    fn on_openai_chunk(&mut self, data: &[u8]) {
        // Content probing costs a parse per chunk, so it stops once the first content is seen.
        if !self.first_content && chat_chunk_has_content(data) {
            self.first_content = true;
        }
        // With include_usage every chunk carries `"usage":null`; only an object is worth parsing.
        if !has_usage_object(data) {
            return;
        }
        if let Ok(chunk) = serde_json::from_slice::<UsageHolder>(data) {
            if let Some(u) = chunk.usage.and_then(|u| u.0) {
                self.usage = Some(Usage::from_openai(&u));
            }
        }
    }

    fn on_responses_event(&mut self, data: &[u8]) {
        if self.first_content && !has_usage_object(data) {
            return;
        }
        let Ok(event) = serde_json::from_slice::<ResponsesEvent>(data) else {
            return;
        };
        let kind = event.kind.as_deref().unwrap_or_default();
        if kind == "response.created" && self.response_id.is_none() {
            self.response_id = event.response.and_then(|r| r.id);
        } else if matches!(
            kind,
            "response.completed" | "response.incomplete" | "response.failed"
        ) {
            if let Some(u) = event.response.and_then(|r| r.usage).and_then(|u| u.0) {
                self.usage = Some(Usage::from_responses(&u));
            }
        } else if kind.starts_with("response.") && kind.ends_with(".delta") {
            self.first_content = true;
        }
    }

    fn on_anthropic_event(&mut self, data: &[u8]) {
        if self.first_content && !has_usage_object(data) {
            return;
        }
        let Ok(event) = serde_json::from_slice::<AnthropicEvent>(data) else {
            return;
        };
        match event.kind.as_deref() {
            Some("content_block_delta") => self.first_content = true,
            Some("message_start") => {
                if let Some(u) = event.message.and_then(|m| m.usage).and_then(|u| u.0) {
                    self.anthropic = AnthropicCounts::from_usage(&u);
                    self.usage = Some(Usage::from_anthropic(self.anthropic));
                }
            }
            Some("message_delta") => {
                if let Some(u) = event.usage.and_then(|u| u.0) {
                    let c = &mut self.anthropic;
                    // output_tokens is cumulative, so it replaces rather than adds.
                    if let Some(output) = u.output_tokens {
                        c.output = output;
                    }
                    // Newer API versions repeat the input counts here; older ones send zeros
                    // that must not wipe what message_start reported.
                    for (slot, value) in [
                        (&mut c.input, u.input_tokens),
                        (&mut c.cache_creation, u.cache_creation_input_tokens),
                        (
                            &mut c.cache_creation_1h,
                            u.cache_creation.ephemeral_1h_input_tokens,
                        ),
                        (&mut c.cache_read, u.cache_read_input_tokens),
                    ] {
                        if let Some(value) = value.filter(|&v| v != 0) {
                            *slot = value;
                        }
                    }
                    self.usage = Some(Usage::from_anthropic(*c));
                }
            }
            _ => {}
        }
    }
}

/// Makes an OpenAI chat request stream its usage, as a tree edit: the specification that the
/// proxy's splice (`body_edit::with_stream_usage`) is tested against.
///
/// Returns `true` when it added `stream_options.include_usage`; the gateway must then remove the
/// extra usage-only chunk (see [`UsageChunkStripper`]) because the client did not ask for it.
/// A non-object `stream_options` is left alone so upstream rejects it as it would without us.
#[cfg(test)]
pub fn ensure_stream_usage(body: &mut Value) -> bool {
    let Some(obj) = body.as_object_mut() else {
        return false;
    };
    if obj.get("stream").and_then(Value::as_bool) != Some(true) {
        return false;
    }
    match obj.get_mut("stream_options") {
        None | Some(Value::Null) => {
            let mut options = serde_json::Map::new();
            options.insert("include_usage".to_owned(), Value::Bool(true));
            obj.insert("stream_options".to_owned(), Value::Object(options));
            true
        }
        Some(Value::Object(options)) => {
            if options.get("include_usage").and_then(Value::as_bool) == Some(true) {
                return false;
            }
            options.insert("include_usage".to_owned(), Value::Bool(true));
            true
        }
        Some(_) => false,
    }
}

/// Removes the usage-only chunk (`"choices": []` with a `usage` object) that
/// [`ensure_stream_usage`] made upstream send, forwarding everything else byte for byte.
///
/// Only the current unfinished event is held back. Events over 4 MiB are passed through
/// unexamined instead of being held, since a usage chunk is never that large.
#[derive(Debug, Default)]
pub struct UsageChunkStripper {
    splitter: EventSplitter,
    scratch: Vec<u8>,
    /// Whether the last completed event was forwarded, which decides the fate of the LF of a
    /// CRLF separator that arrives in the next chunk.
    last_kept: bool,
}

impl UsageChunkStripper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes the next upstream chunk and returns the bytes to forward now.
    pub fn process(&mut self, chunk: &[u8]) -> Bytes {
        let mut out = Vec::new();
        let scratch = &mut self.scratch;
        let last_kept = &mut self.last_kept;
        self.splitter.feed(chunk, &mut |piece| match piece {
            Piece::Event(event) => {
                *last_kept = !is_usage_only_chunk(event, scratch);
                if *last_kept {
                    out.extend_from_slice(event);
                }
            }
            Piece::Oversized(bytes) => {
                *last_kept = true;
                out.extend_from_slice(bytes);
            }
            Piece::TrailingLf => {
                if *last_kept {
                    out.push(b'\n');
                }
            }
        });
        scratch.clear();
        scratch.shrink_to(RETAINED_CAPACITY);
        Bytes::from(out)
    }

    /// Returns the held bytes of an unterminated final event, unchanged.
    pub fn finish(&mut self) -> Bytes {
        Bytes::from(self.splitter.take_held())
    }
}

fn is_usage_only_chunk(event: &[u8], scratch: &mut Vec<u8>) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        choices: Option<Vec<IgnoredAny>>,
        usage: Option<IfObject<IgnoredAny>>,
    }
    let Some(data) = event_data(event, scratch) else {
        return false;
    };
    if !has_usage_object(data) || find(data, b"\"choices\"").is_none() {
        return false;
    }
    // Anything unparsable is forwarded: dropping a chunk the client needed is worse than
    // leaking one it did not ask for.
    serde_json::from_slice::<Probe>(data).is_ok_and(|p| {
        p.choices.is_some_and(|c| c.is_empty()) && p.usage.is_some_and(|u| u.0.is_some())
    })
}

/// What [`EventSplitter::feed`] hands to its consumer, in stream order.
enum Piece<'a> {
    /// A complete event including the blank line that ended it, exactly as received.
    Event(&'a [u8]),
    /// Part of an event over [`MAX_EVENT_BYTES`]; never buffered, never examined.
    Oversized(&'a [u8]),
    /// The LF of a CRLF whose CR ended the previous event at the edge of the previous chunk.
    TrailingLf,
}

/// Cuts a byte stream into SSE events at blank lines, across arbitrary chunk boundaries.
///
/// Lines may end in CRLF, LF or CR (per the SSE spec), so a CR at the end of a chunk leaves the
/// meaning of a following LF open until the next chunk arrives; the two flags carry that.
#[derive(Debug, Default)]
struct EventSplitter {
    held: Vec<u8>,
    line_has_content: bool,
    /// A CR ended the last chunk inside the current event; a leading LF belongs to it.
    after_cr: bool,
    /// A CR ended the last chunk and completed an event; a leading LF belongs to that event.
    pending_lf: bool,
    oversized: bool,
}

impl EventSplitter {
    fn feed(&mut self, chunk: &[u8], sink: &mut impl FnMut(Piece<'_>)) {
        let mut rest = chunk;
        if self.pending_lf && !rest.is_empty() {
            self.pending_lf = false;
            if rest[0] == b'\n' {
                sink(Piece::TrailingLf);
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            let Some(end) = self.find_event_end(rest) else {
                self.hold(rest, sink);
                return;
            };
            let (event_tail, tail) = rest.split_at(end);
            self.complete(event_tail, sink);
            rest = tail;
        }
    }

    /// Returns the index just past the blank line ending the current event, if `buf` has it.
    fn find_event_end(&mut self, buf: &[u8]) -> Option<usize> {
        let mut i = 0;
        if self.after_cr {
            self.after_cr = false;
            if buf.first() == Some(&b'\n') {
                i = 1;
            }
        }
        while let Some(p) = buf[i..].iter().position(|&b| b == b'\n' || b == b'\r') {
            let blank = p == 0 && !self.line_has_content;
            self.line_has_content = false;
            let terminator = i + p;
            i = terminator + 1;
            if buf[terminator] == b'\r' {
                match buf.get(i) {
                    Some(b'\n') => i += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if blank {
                self.pending_lf = mem::take(&mut self.after_cr);
                return Some(i);
            }
        }
        if i < buf.len() {
            self.line_has_content = true;
        }
        None
    }

    /// Finishes the current event; whether it is oversized depends only on its total size, so
    /// every chunking of a stream yields the same pieces.
    fn complete(&mut self, event_tail: &[u8], sink: &mut impl FnMut(Piece<'_>)) {
        if self.oversized || self.held.len() + event_tail.len() > MAX_EVENT_BYTES {
            if !self.held.is_empty() {
                sink(Piece::Oversized(&self.held));
            }
            sink(Piece::Oversized(event_tail));
        } else if self.held.is_empty() {
            sink(Piece::Event(event_tail));
        } else {
            self.held.extend_from_slice(event_tail);
            sink(Piece::Event(&self.held));
        }
        self.oversized = false;
        self.clear_held();
    }

    fn hold(&mut self, partial: &[u8], sink: &mut impl FnMut(Piece<'_>)) {
        if self.oversized {
            sink(Piece::Oversized(partial));
        } else if self.held.len() + partial.len() > MAX_EVENT_BYTES {
            self.oversized = true;
            if !self.held.is_empty() {
                sink(Piece::Oversized(&self.held));
            }
            sink(Piece::Oversized(partial));
            self.clear_held();
        } else {
            self.held.extend_from_slice(partial);
        }
    }

    fn clear_held(&mut self) {
        self.held.clear();
        self.held.shrink_to(RETAINED_CAPACITY);
    }

    /// Hands over the unfinished event and starts afresh.
    fn take_held(&mut self) -> Vec<u8> {
        mem::take(self).held
    }
}

/// The event's `data` field: its `data:` lines joined with LF. Borrows the event when there is a
/// single data line (the usual case) and only copies into `scratch` to join several.
fn event_data<'a>(event: &'a [u8], scratch: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    let mut first: Option<&'a [u8]> = None;
    let mut joined = false;
    let mut rest = event;
    while !rest.is_empty() {
        let (line, tail) = split_line(rest);
        rest = tail;
        let Some(value) = data_value(line) else {
            continue;
        };
        match first {
            None => first = Some(value),
            Some(prev) => {
                if !joined {
                    scratch.clear();
                    scratch.extend_from_slice(prev);
                    joined = true;
                }
                scratch.push(b'\n');
                scratch.extend_from_slice(value);
            }
        }
    }
    if joined {
        let joined: &'a Vec<u8> = scratch;
        Some(joined)
    } else {
        first
    }
}

fn split_line(buf: &[u8]) -> (&[u8], &[u8]) {
    match buf.iter().position(|&b| b == b'\n' || b == b'\r') {
        None => (buf, &[]),
        Some(i) => {
            let next = if buf[i] == b'\r' && buf.get(i + 1) == Some(&b'\n') {
                i + 2
            } else {
                i + 1
            };
            (&buf[..i], &buf[next..])
        }
    }
}

/// The value of a `data` field line; comments and other fields give `None`.
fn data_value(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"data")?;
    match rest.split_first() {
        None => Some(rest),
        Some((b':', value)) => Some(value.strip_prefix(b" ").unwrap_or(value)),
        Some(_) => None,
    }
}

/// Cheap pre-filter before a JSON parse: is there a `"usage"` key whose value is an object?
/// Quotes inside JSON strings are escaped, so text that merely mentions "usage" cannot match.
fn has_usage_object(json: &[u8]) -> bool {
    const KEY: &[u8] = b"\"usage\"";
    let mut rest = json;
    while let Some(pos) = find(rest, KEY) {
        rest = &rest[pos + KEY.len()..];
        if let Some(value) = rest.trim_ascii_start().strip_prefix(b":") {
            if value.trim_ascii_start().first() == Some(&b'{') {
                return true;
            }
        }
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

// Typed probes: serde skips every other field without building a `Value` for it, which matters
// for large bodies such as a `response.completed` event carrying the whole output.

#[derive(Deserialize)]
struct UsageHolder {
    usage: Option<IfObject<UsageCounts>>,
}

#[derive(Deserialize)]
struct ResponsesEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    response: Option<ResponseProbe>,
}

/// The `response` of a Responses event: its id and usage, nothing else built.
#[derive(Deserialize)]
struct ResponseProbe {
    id: Option<String>,
    usage: Option<IfObject<UsageCounts>>,
}

#[derive(Deserialize)]
struct AnthropicEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<UsageHolder>,
    usage: Option<IfObject<UsageCounts>>,
}

#[derive(Deserialize)]
struct ChatChunkProbe {
    choices: Option<Vec<ChoiceProbe>>,
}

#[derive(Deserialize)]
struct ChoiceProbe {
    delta: Option<DeltaProbe>,
    /// Legacy Completions stream text here instead of in a delta.
    text: Option<Value>,
}

#[derive(Deserialize)]
struct DeltaProbe {
    content: Option<Value>,
    reasoning_content: Option<Value>,
    reasoning: Option<Value>,
    refusal: Option<Value>,
    tool_calls: Option<Value>,
    function_call: Option<Value>,
}

fn chat_chunk_has_content(data: &[u8]) -> bool {
    // The role chunk carries `"content":""`, which must not count as output.
    fn non_empty(value: &Option<Value>) -> bool {
        match value {
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(_)) => true,
            _ => false,
        }
    }
    let Ok(chunk) = serde_json::from_slice::<ChatChunkProbe>(data) else {
        return false;
    };
    chunk.choices.unwrap_or_default().iter().any(|choice| {
        non_empty(&choice.text)
            || choice.delta.as_ref().is_some_and(|d| {
                [
                    &d.content,
                    &d.reasoning_content,
                    &d.reasoning,
                    &d.refusal,
                    &d.tool_calls,
                    &d.function_call,
                ]
                .into_iter()
                .any(non_empty)
            })
    })
}

/// One Gemini answer or stream chunk (`GenerateContentResponse`): its `usageMetadata`, and,
/// when `probe_content`, whether it carries generated content. Every chunk repeats the counts
/// so far, so the last one read is the answer's usage.
pub(crate) fn gemini_chunk(data: &[u8], probe_content: bool) -> (Option<Usage>, bool) {
    #[derive(Deserialize)]
    struct Chunk {
        candidates: Option<Vec<Candidate>>,
    }
    #[derive(Deserialize)]
    struct Candidate {
        content: Option<Content>,
    }
    #[derive(Deserialize)]
    struct Content {
        parts: Option<Vec<Value>>,
    }
    let content = probe_content
        && serde_json::from_slice::<Chunk>(data).is_ok_and(|c| {
            c.candidates.unwrap_or_default().iter().any(|candidate| {
                candidate
                    .content
                    .as_ref()
                    .and_then(|c| c.parts.as_ref())
                    .is_some_and(|parts| {
                        // A part with empty text carries nothing; any other part (text,
                        // function call, inline data) is output.
                        parts.iter().any(|p| match p.get("text") {
                            Some(Value::String(t)) => !t.is_empty(),
                            _ => p.as_object().is_some_and(|o| !o.is_empty()),
                        })
                    })
            })
        });
    let usage = find(data, b"\"usageMetadata\"")
        .is_some()
        .then(|| usage_from_json(ApiFormat::Gemini, data))
        .flatten();
    (usage, content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CHAT_ROLE: &str = r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

"#;
    const CHAT_CONTENT_1: &str = r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}

"#;
    // Multi-byte UTF-8 and a quoted "usage" in the text exercise mid-character splits and the
    // usage pre-filter.
    const CHAT_CONTENT_2: &str = r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":[{"index":0,"delta":{"content":" wörld 👋 \"usage\":{}"},"logprobs":null,"finish_reason":null}],"usage":null}

"#;
    const CHAT_FINISH: &str = r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}

"#;
    const CHAT_USAGE: &str = r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":[],"usage":{"prompt_tokens":1033,"completion_tokens":12,"total_tokens":1045,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}

"#;
    const CHAT_DONE: &str = "data: [DONE]\n\n";

    const CHAT_EXPECTED: Usage = Usage {
        prompt_tokens: 1033,
        completion_tokens: 12,
        total_tokens: 1045,
        cached_tokens: 1024,
        reasoning_tokens: 0,
        cache_creation_tokens: 0,
        cache_read_tokens: 0,
        cache_creation_1h_tokens: 0,
    };

    fn chat_events() -> Vec<&'static str> {
        vec![
            CHAT_ROLE,
            CHAT_CONTENT_1,
            CHAT_CONTENT_2,
            CHAT_FINISH,
            CHAT_USAGE,
            CHAT_DONE,
        ]
    }

    const ANTHROPIC_STREAM: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-20250514","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":3,"cache_read_input_tokens":7,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"! Grüße 🌍"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}

event: message_stop
data: {"type":"message_stop"}

"#;

    const ANTHROPIC_EXPECTED: Usage = Usage {
        prompt_tokens: 35,
        completion_tokens: 15,
        total_tokens: 50,
        cached_tokens: 7,
        reasoning_tokens: 0,
        cache_creation_tokens: 3,
        cache_read_tokens: 7,
        cache_creation_1h_tokens: 0,
    };

    const RESPONSES_STREAM: &str = r#"event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","created_at":1741290958,"status":"in_progress","error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":"o4-mini-2025-04-16","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":"medium","summary":null},"store":true,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":null,"user":null,"metadata":{}}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":1,"content_index":0,"delta":"Hi théré"}

event: response.completed
data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","created_at":1741290958,"status":"completed","error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":"o4-mini-2025-04-16","output":[{"id":"rs_67c9fdcf1a2c8190","type":"reasoning","summary":[]},{"id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi théré","annotations":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":"medium","summary":null},"store":true,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":{"input_tokens":1290,"input_tokens_details":{"cached_tokens":1152},"output_tokens":211,"output_tokens_details":{"reasoning_tokens":192},"total_tokens":1501},"user":null,"metadata":{}}}

"#;

    const RESPONSES_EXPECTED: Usage = Usage {
        prompt_tokens: 1290,
        completion_tokens: 211,
        total_tokens: 1501,
        cached_tokens: 1152,
        reasoning_tokens: 192,
        cache_creation_tokens: 0,
        cache_read_tokens: 0,
        cache_creation_1h_tokens: 0,
    };

    /// Many different ways to cut `input` into chunks, including empty chunks: every two-way
    /// split, byte at a time, fixed sizes, and pseudo-random multi-way cuts.
    fn chunkings(input: &[u8]) -> Vec<Vec<&[u8]>> {
        let mut all: Vec<Vec<&[u8]>> = Vec::new();
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            all.push(vec![a, b]);
        }
        for size in 1..=13 {
            all.push(input.chunks(size).collect());
        }
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..300 {
            let mut parts = Vec::new();
            let mut rest = input;
            while !rest.is_empty() {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let take = ((seed >> 33) % 48) as usize;
                let (a, b) = rest.split_at(take.min(rest.len()));
                parts.push(a);
                rest = b;
            }
            all.push(parts);
        }
        all
    }

    fn with_eol(stream: &str, eol: &str) -> String {
        stream.replace('\n', eol)
    }

    fn track(format: ApiFormat, parts: &[&[u8]]) -> SseUsageTracker {
        let mut tracker = SseUsageTracker::new(format);
        for part in parts {
            tracker.feed(part);
        }
        tracker
    }

    fn assert_usage_every_chunking(format: ApiFormat, stream: &str, expected: Usage) {
        for eol in ["\n", "\r\n", "\r"] {
            let stream = with_eol(stream, eol);
            for parts in chunkings(stream.as_bytes()) {
                let tracker = track(format, &parts);
                assert_eq!(
                    tracker.usage(),
                    Some(expected),
                    "eol {eol:?}, parts {parts:?}"
                );
                assert!(tracker.first_content_seen());
            }
        }
    }

    fn strip(parts: &[&[u8]]) -> Vec<u8> {
        let mut stripper = UsageChunkStripper::new();
        let mut out = Vec::new();
        for part in parts {
            out.extend_from_slice(&stripper.process(part));
        }
        out.extend_from_slice(&stripper.finish());
        out
    }

    #[test]
    fn json_chat_completion() {
        let body = br#"{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"The image shows a wooden boardwalk.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":32,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}"#;
        let expected = Usage {
            prompt_tokens: 1117,
            completion_tokens: 46,
            total_tokens: 1163,
            cached_tokens: 1024,
            reasoning_tokens: 32,
            ..Usage::default()
        };
        assert_eq!(usage_from_json(ApiFormat::OpenAiChat, body), Some(expected));
    }

    #[test]
    fn json_legacy_completion_computes_missing_total() {
        let body = br#"{"id":"cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7","object":"text_completion","created":1589478378,"model":"gpt-3.5-turbo-instruct","choices":[{"text":"\n\nThis is indeed a test","index":0,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":null,"prompt_tokens_details":null}}"#;
        let expected = Usage {
            prompt_tokens: 5,
            completion_tokens: 7,
            total_tokens: 12,
            ..Usage::default()
        };
        assert_eq!(
            usage_from_json(ApiFormat::OpenAiCompletions, body),
            Some(expected)
        );
    }

    #[test]
    fn json_embeddings_have_no_completion() {
        let body = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292,-0.0028842222]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}"#;
        let expected = Usage {
            prompt_tokens: 8,
            total_tokens: 8,
            ..Usage::default()
        };
        assert_eq!(
            usage_from_json(ApiFormat::OpenAiEmbeddings, body),
            Some(expected)
        );
    }

    #[test]
    fn json_responses() {
        let body = br#"{"id":"resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41","object":"response","created_at":1741476777,"status":"completed","error":null,"incomplete_details":null,"model":"o4-mini-2025-04-16","output":[{"type":"message","id":"msg_67ccd3acc8d48190a77525dc6de64b4104becb25c45c1d41","status":"completed","role":"assistant","content":[{"type":"output_text","text":"The image depicts a scenic landscape.","annotations":[]}]}],"usage":{"input_tokens":328,"input_tokens_details":{"cached_tokens":256},"output_tokens":52,"output_tokens_details":{"reasoning_tokens":24},"total_tokens":380},"metadata":{}}"#;
        let expected = Usage {
            prompt_tokens: 328,
            completion_tokens: 52,
            total_tokens: 380,
            cached_tokens: 256,
            reasoning_tokens: 24,
            ..Usage::default()
        };
        assert_eq!(
            usage_from_json(ApiFormat::OpenAiResponses, body),
            Some(expected)
        );
    }

    #[test]
    fn json_anthropic_adds_cache_to_prompt() {
        let body = br#"{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Hi! My name is Claude."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":2095,"cache_creation_input_tokens":120,"cache_read_input_tokens":1800,"cache_creation":{"ephemeral_5m_input_tokens":120,"ephemeral_1h_input_tokens":0},"output_tokens":503,"service_tier":"standard"}}"#;
        let expected = Usage {
            prompt_tokens: 2095 + 120 + 1800,
            completion_tokens: 503,
            total_tokens: 2095 + 120 + 1800 + 503,
            cached_tokens: 1800,
            reasoning_tokens: 0,
            cache_creation_tokens: 120,
            cache_read_tokens: 1800,
            cache_creation_1h_tokens: 0,
        };
        assert_eq!(
            usage_from_json(ApiFormat::AnthropicMessages, body),
            Some(expected)
        );
    }

    #[test]
    fn json_null_missing_and_odd_fields_count_as_zero() {
        let body =
            br#"{"usage":{"input_tokens":null,"output_tokens":"7","cache_read_input_tokens":-4}}"#;
        assert_eq!(
            usage_from_json(ApiFormat::AnthropicMessages, body),
            Some(Usage::default())
        );
        let body = br#"{"usage":{"prompt_tokens":10.0,"completion_tokens":18446744073709551615}}"#;
        let usage = usage_from_json(ApiFormat::OpenAiChat, body).unwrap();
        assert_eq!(usage.prompt_tokens, 10);
        assert_eq!(usage.completion_tokens, i64::MAX);
        assert_eq!(usage.total_tokens, i64::MAX);
    }

    #[test]
    fn json_without_usage_or_invalid_is_none() {
        let bodies: [&[u8]; 9] = [
            br#"{"id":"chatcmpl-1","choices":[]}"#,
            br#"{"id":"chatcmpl-1","usage":null}"#,
            br#"{"usage":5}"#,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            br#"{"usage":{"prompt_tokens":1"#,
            b"\xff\xfe{\"usage\":{}}",
            b"",
            b"[1,2]",
            b"data: [DONE]",
        ];
        for format in [
            ApiFormat::OpenAiChat,
            ApiFormat::OpenAiResponses,
            ApiFormat::AnthropicMessages,
        ] {
            for body in bodies {
                assert_eq!(usage_from_json(format, body), None, "{body:?}");
            }
        }
        let chat = br#"{"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
        assert_eq!(usage_from_json(ApiFormat::Other, chat), None);
    }

    #[test]
    fn sse_chat_usage_at_every_split() {
        assert_usage_every_chunking(
            ApiFormat::OpenAiChat,
            &chat_events().concat(),
            CHAT_EXPECTED,
        );
    }

    #[test]
    fn sse_anthropic_usage_at_every_split() {
        assert_usage_every_chunking(
            ApiFormat::AnthropicMessages,
            ANTHROPIC_STREAM,
            ANTHROPIC_EXPECTED,
        );
    }

    #[test]
    fn sse_responses_usage_at_every_split() {
        assert_usage_every_chunking(
            ApiFormat::OpenAiResponses,
            RESPONSES_STREAM,
            RESPONSES_EXPECTED,
        );
    }

    #[test]
    fn sse_usage_is_none_until_reported() {
        let mut tracker = SseUsageTracker::new(ApiFormat::OpenAiChat);
        for event in [CHAT_ROLE, CHAT_CONTENT_1, CHAT_CONTENT_2, CHAT_FINISH] {
            tracker.feed(event.as_bytes());
            assert_eq!(tracker.usage(), None);
        }
        // An event without its blank line is not complete yet.
        tracker.feed(CHAT_USAGE.trim_end().as_bytes());
        assert_eq!(tracker.usage(), None);
        tracker.feed(b"\n\n");
        assert_eq!(tracker.usage(), Some(CHAT_EXPECTED));

        let mut tracker = SseUsageTracker::new(ApiFormat::OpenAiResponses);
        tracker.feed(
            RESPONSES_STREAM
                .split("event: response.completed")
                .next()
                .unwrap()
                .as_bytes(),
        );
        assert_eq!(tracker.usage(), None);
    }

    #[test]
    fn sse_first_content_seen() {
        let mut tracker = SseUsageTracker::new(ApiFormat::OpenAiChat);
        tracker.feed(CHAT_ROLE.as_bytes());
        assert!(!tracker.first_content_seen());
        tracker.feed(CHAT_CONTENT_1.as_bytes());
        assert!(tracker.first_content_seen());

        let mut tracker = SseUsageTracker::new(ApiFormat::OpenAiChat);
        tracker.feed(br#"data: {"choices":[{"index":0,"delta":{"content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#);
        assert!(!tracker.first_content_seen());
        tracker.feed(b"\n\n");
        assert!(tracker.first_content_seen());

        let mut tracker = SseUsageTracker::new(ApiFormat::OpenAiCompletions);
        tracker.feed(b"data: {\"choices\":[{\"text\":\"\",\"index\":0}]}\n\n");
        assert!(!tracker.first_content_seen());
        tracker.feed(b"data: {\"choices\":[{\"text\":\"Once\",\"index\":0}]}\n\n");
        assert!(tracker.first_content_seen());

        let head = |stream: &'static str, marker: &str| stream.split(marker).next().unwrap();
        let mut tracker = SseUsageTracker::new(ApiFormat::AnthropicMessages);
        tracker.feed(head(ANTHROPIC_STREAM, "event: content_block_delta").as_bytes());
        assert!(!tracker.first_content_seen());
        assert_eq!(
            tracker.usage(),
            Some(Usage {
                completion_tokens: 1,
                total_tokens: 36,
                ..ANTHROPIC_EXPECTED
            })
        );
        tracker.feed(ANTHROPIC_STREAM.as_bytes());
        assert!(tracker.first_content_seen());

        let mut tracker = SseUsageTracker::new(ApiFormat::OpenAiResponses);
        tracker.feed(head(RESPONSES_STREAM, "event: response.output_text.delta").as_bytes());
        assert!(!tracker.first_content_seen());
        tracker.feed(RESPONSES_STREAM.as_bytes());
        assert!(tracker.first_content_seen());
    }

    #[test]
    fn the_created_response_id_is_read_from_its_first_event_or_the_json_answer() {
        let id = "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654";
        let mut tracker = SseUsageTracker::new(ApiFormat::OpenAiResponses);
        assert_eq!(tracker.response_id(), None);
        let created = RESPONSES_STREAM
            .split("event: response.output_text.delta")
            .next()
            .unwrap();
        tracker.feed(created.as_bytes());
        assert_eq!(tracker.response_id(), Some(id));
        let mut chat = SseUsageTracker::new(ApiFormat::OpenAiChat);
        chat.feed(RESPONSES_STREAM.as_bytes());
        assert_eq!(chat.response_id(), None, "only a Responses stream has one");
        let answer = format!(r#"{{"id":"{id}","object":"response","output":[{{"id":"msg_1"}}]}}"#);
        assert_eq!(
            response_id_from_json(answer.as_bytes()).as_deref(),
            Some(id)
        );
        assert_eq!(response_id_from_json(br#"{"id":7}"#), None);
        assert_eq!(
            response_id_from_json(br#"{"id":"resp_1""#),
            None,
            "truncated"
        );
    }

    #[test]
    fn sse_chat_last_usage_wins_and_null_usage_is_ignored() {
        let stream = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],",
            "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}],",
            "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n",
            "data: {\"choices\":[],\"usage\":null}\n\n",
            "data: [DONE]\n\n",
        );
        let tracker = track(ApiFormat::OpenAiChat, &[stream.as_bytes()]);
        let expected = Usage {
            prompt_tokens: 9,
            completion_tokens: 2,
            total_tokens: 11,
            ..Usage::default()
        };
        assert_eq!(tracker.usage(), Some(expected));
    }

    #[test]
    fn sse_multiline_data_comments_and_fields() {
        // Data split over several `data:` lines is joined with LF, which is JSON whitespace.
        let stream = concat!(
            ": OPENROUTER PROCESSING\n\n",
            "retry: 3000\n",
            "id: 7\n",
            "event: chunk\n",
            "data: {\"choices\":[],\n",
            ": a comment inside the event\n",
            "data:\"usage\":\n",
            "data: {\"prompt_tokens\":4,\"completion_tokens\":5}}\n",
            "\n",
            "data: [DONE]\n\n",
        );
        let expected = Usage {
            prompt_tokens: 4,
            completion_tokens: 5,
            total_tokens: 9,
            ..Usage::default()
        };
        for parts in chunkings(stream.as_bytes()) {
            assert_eq!(track(ApiFormat::OpenAiChat, &parts).usage(), Some(expected));
        }
        let mut scratch = Vec::new();
        let event = b"event: x\r\ndata: a\r\ndata\r\ndata:b\r\ndatum: c\r\n\r\n";
        assert_eq!(event_data(event, &mut scratch), Some(&b"a\n\nb"[..]));
        assert_eq!(event_data(b": only a comment\n\n", &mut scratch), None);
    }

    #[test]
    fn sse_anthropic_output_is_cumulative_and_newer_counts_replace() {
        let start = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-opus-4-1","usage":{"input_tokens":25,"cache_creation_input_tokens":3,"cache_read_input_tokens":7,"output_tokens":1}}}

"#;
        let delta = |usage: &str| {
            format!(
                "event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":null}},\"usage\":{usage}}}\n\n"
            )
        };
        let mut tracker = SseUsageTracker::new(ApiFormat::AnthropicMessages);
        tracker.feed(start.as_bytes());
        tracker.feed(delta(r#"{"output_tokens":5}"#).as_bytes());
        tracker.feed(delta(r#"{"output_tokens":15}"#).as_bytes());
        assert_eq!(tracker.usage(), Some(ANTHROPIC_EXPECTED));

        // Zeros and nulls from older API versions must not wipe message_start's counts.
        tracker.feed(
            delta(r#"{"input_tokens":0,"cache_creation_input_tokens":null,"cache_read_input_tokens":0,"output_tokens":15}"#)
                .as_bytes(),
        );
        assert_eq!(tracker.usage(), Some(ANTHROPIC_EXPECTED));

        tracker.feed(
            delta(r#"{"input_tokens":30,"cache_creation_input_tokens":4,"cache_read_input_tokens":8,"output_tokens":20}"#)
                .as_bytes(),
        );
        let expected = Usage {
            prompt_tokens: 42,
            completion_tokens: 20,
            total_tokens: 62,
            cached_tokens: 8,
            reasoning_tokens: 0,
            cache_creation_tokens: 4,
            cache_read_tokens: 8,
            cache_creation_1h_tokens: 0,
        };
        assert_eq!(tracker.usage(), Some(expected));
    }

    #[test]
    fn sse_responses_incomplete_and_failed_count() {
        for kind in ["response.incomplete", "response.failed"] {
            let event = format!(
                "event: {kind}\ndata: {{\"type\":\"{kind}\",\"response\":{{\"status\":\"incomplete\",\"usage\":{{\"input_tokens\":10,\"output_tokens\":3}}}}}}\n\n"
            );
            let tracker = track(ApiFormat::OpenAiResponses, &[event.as_bytes()]);
            let expected = Usage {
                prompt_tokens: 10,
                completion_tokens: 3,
                total_tokens: 13,
                ..Usage::default()
            };
            assert_eq!(tracker.usage(), Some(expected), "{kind}");
        }
        let failed_without_usage: &[u8] =
            b"data: {\"type\":\"response.failed\",\"response\":{\"usage\":null}}\n\n";
        let tracker = track(ApiFormat::OpenAiResponses, &[failed_without_usage]);
        assert_eq!(tracker.usage(), None);
    }

    #[test]
    fn sse_other_format_and_garbage_are_ignored() {
        let stream = chat_events().concat();
        assert_eq!(track(ApiFormat::Other, &[stream.as_bytes()]).usage(), None);
        let garbage: &[u8] = b"data: {\"usage\":{\"prompt_tokens\":\n\n\xff\xfe\x00\r\r\n\n";
        let tracker = track(ApiFormat::OpenAiChat, &[garbage, stream.as_bytes()]);
        assert_eq!(tracker.usage(), Some(CHAT_EXPECTED));
    }

    fn oversized_usage_event() -> String {
        let padding = "x".repeat(MAX_EVENT_BYTES);
        format!(
            "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":999,\"completion_tokens\":999}},\"pad\":\"{padding}\"}}\n\n"
        )
    }

    #[test]
    fn sse_oversized_event_is_discarded_and_memory_stays_bounded() {
        let big = oversized_usage_event();
        for chunk_size in [big.len(), 65_536, 1_000_003] {
            let mut tracker = SseUsageTracker::new(ApiFormat::OpenAiChat);
            for chunk in big.as_bytes().chunks(chunk_size) {
                tracker.feed(chunk);
                assert!(tracker.splitter.held.len() <= MAX_EVENT_BYTES);
            }
            assert_eq!(tracker.usage(), None, "chunk size {chunk_size}");
            assert!(tracker.splitter.held.capacity() <= RETAINED_CAPACITY);
            tracker.feed(CHAT_USAGE.as_bytes());
            assert_eq!(tracker.usage(), Some(CHAT_EXPECTED));
        }
    }

    #[test]
    fn ensure_stream_usage_adds_option_only_when_needed() {
        let mut body = json!({"model": "gpt-4o", "stream": true, "messages": []});
        assert!(ensure_stream_usage(&mut body));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));

        let mut body = json!({"stream": true, "stream_options": {"include_obfuscation": false}});
        assert!(ensure_stream_usage(&mut body));
        assert_eq!(
            body["stream_options"],
            json!({"include_obfuscation": false, "include_usage": true})
        );

        let mut body = json!({"stream": true, "stream_options": {"include_usage": false}});
        assert!(ensure_stream_usage(&mut body));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));

        let mut body = json!({"stream": true, "stream_options": null});
        assert!(ensure_stream_usage(&mut body));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));

        for unchanged in [
            json!({"stream": true, "stream_options": {"include_usage": true}}),
            json!({"stream": false}),
            json!({"stream": "true"}),
            json!({"messages": []}),
            json!({"stream": true, "stream_options": "bogus"}),
            json!([1, 2]),
            Value::Null,
        ] {
            let mut body = unchanged.clone();
            assert!(!ensure_stream_usage(&mut body), "{unchanged}");
            assert_eq!(body, unchanged);
        }
    }

    #[test]
    fn stripper_drops_only_the_usage_chunk_at_every_split() {
        for eol in ["\n", "\r\n", "\r"] {
            let events: Vec<String> = chat_events().iter().map(|e| with_eol(e, eol)).collect();
            let input = events.concat();
            let expected: String = events
                .iter()
                .filter(|e| !e.contains("\"choices\":[]"))
                .map(String::as_str)
                .collect();
            assert_eq!(expected.len(), input.len() - events[4].len());
            for parts in chunkings(input.as_bytes()) {
                assert_eq!(
                    String::from_utf8(strip(&parts)).unwrap(),
                    expected,
                    "eol {eol:?}, parts {parts:?}"
                );
            }
        }
    }

    #[test]
    fn stripper_forwards_complete_events_without_delay() {
        let mut stripper = UsageChunkStripper::new();
        assert_eq!(stripper.process(CHAT_ROLE.as_bytes()), CHAT_ROLE.as_bytes());
        let (head, tail) = CHAT_CONTENT_1.split_at(40);
        assert!(stripper.process(head.as_bytes()).is_empty());
        assert_eq!(stripper.process(tail.as_bytes()), CHAT_CONTENT_1.as_bytes());
        assert!(stripper.process(CHAT_USAGE.as_bytes()).is_empty());
        assert_eq!(stripper.process(CHAT_DONE.as_bytes()), CHAT_DONE.as_bytes());
        assert!(stripper.finish().is_empty());
    }

    #[test]
    fn stripper_keeps_everything_else_verbatim() {
        let streams = [
            ANTHROPIC_STREAM.to_owned(),
            RESPONSES_STREAM.to_owned(),
            // Usage alongside choices, null usage, missing choices, broken JSON, comments,
            // blank lines between events and an unterminated final event.
            concat!(
                "\n\n: keep-alive\n\n",
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":1}}\n\n",
                "data: {\"choices\":[],\"usage\":null}\r\n\r\n",
                "data: {\"usage\":{\"prompt_tokens\":1}}\n\n",
                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}\n\n",
                "event: error\ndata: {\"error\":{\"message\":\"boom\"}}\n\n",
                "data: [DONE]\n\ndata: {\"choices\":[],\"usage\":{}}"
            )
            .to_owned(),
        ];
        for stream in streams {
            for parts in chunkings(stream.as_bytes()) {
                assert_eq!(strip(&parts), stream.as_bytes());
            }
        }
    }

    #[test]
    fn stripper_finish_flushes_held_tail_unchanged() {
        let mut stripper = UsageChunkStripper::new();
        let tail = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n";
        assert!(stripper.process(tail.as_bytes()).is_empty());
        assert_eq!(stripper.finish(), tail.as_bytes());
        assert!(stripper.finish().is_empty());
        // A usage chunk ending in CR at a chunk edge takes the LF of its CRLF with it.
        let usage = with_eol(CHAT_USAGE, "\r\n");
        let done = with_eol(CHAT_DONE, "\r\n");
        assert!(stripper
            .process(&usage.as_bytes()[..usage.len() - 1])
            .is_empty());
        assert_eq!(
            stripper.process(format!("\n{done}").as_bytes()),
            done.as_bytes()
        );
    }

    #[test]
    fn stripper_passes_oversized_events_through_unheld() {
        let big = oversized_usage_event();
        let input = format!("{big}{CHAT_USAGE}{CHAT_DONE}");
        let expected = format!("{big}{CHAT_DONE}");
        for chunk_size in [input.len(), 65_536] {
            let mut stripper = UsageChunkStripper::new();
            let mut out = Vec::new();
            for chunk in input.as_bytes().chunks(chunk_size) {
                out.extend_from_slice(&stripper.process(chunk));
                assert!(stripper.splitter.held.len() <= MAX_EVENT_BYTES);
            }
            out.extend_from_slice(&stripper.finish());
            assert!(out == expected.as_bytes(), "chunk size {chunk_size}");
        }
    }

    #[test]
    fn usage_serde_round_trip_and_defaults() {
        let usage = ANTHROPIC_EXPECTED;
        let text = serde_json::to_string(&usage).unwrap();
        assert_eq!(serde_json::from_str::<Usage>(&text).unwrap(), usage);
        let partial: Usage = serde_json::from_str(r#"{"prompt_tokens":3}"#).unwrap();
        assert_eq!(
            partial,
            Usage {
                prompt_tokens: 3,
                ..Usage::default()
            }
        );
    }

    const ANTHROPIC_1H_USAGE: &str = r#"{"input_tokens":2095,"cache_creation_input_tokens":1500,"cache_read_input_tokens":1800,"cache_creation":{"ephemeral_5m_input_tokens":500,"ephemeral_1h_input_tokens":1000},"output_tokens":503,"service_tier":"standard"}"#;

    const ANTHROPIC_1H_EXPECTED: Usage = Usage {
        prompt_tokens: 2095 + 1500 + 1800,
        completion_tokens: 503,
        total_tokens: 2095 + 1500 + 1800 + 503,
        cached_tokens: 1800,
        reasoning_tokens: 0,
        cache_creation_tokens: 1500,
        cache_read_tokens: 1800,
        cache_creation_1h_tokens: 1000,
    };

    /// The same answer as `ANTHROPIC_1H_USAGE`, streamed: the input counts in `message_start`,
    /// the cumulative output in `message_delta`.
    fn anthropic_1h_stream(delta_usage: &str) -> String {
        format!(
            "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"usage\":{{\"input_tokens\":2095,\"cache_creation_input_tokens\":1500,\"cache_read_input_tokens\":1800,\"cache_creation\":{{\"ephemeral_5m_input_tokens\":500,\"ephemeral_1h_input_tokens\":1000}},\"output_tokens\":1}}}}}}\n\n\
             event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"Hi\"}}}}\n\n\
             event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}},\"usage\":{delta_usage}}}\n\n\
             event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
        )
    }

    #[test]
    fn anthropic_1h_cache_writes_are_read_from_json_and_sse() {
        let body = format!(r#"{{"id":"msg_1","type":"message","usage":{ANTHROPIC_1H_USAGE}}}"#);
        assert_eq!(
            usage_from_json(ApiFormat::AnthropicMessages, body.as_bytes()),
            Some(ANTHROPIC_1H_EXPECTED)
        );
        // Older answers have no `cache_creation` object: every write is a 5-minute one.
        let body =
            br#"{"usage":{"input_tokens":5,"cache_creation_input_tokens":9,"output_tokens":1}}"#;
        let usage = usage_from_json(ApiFormat::AnthropicMessages, body).unwrap();
        assert_eq!(
            (usage.cache_creation_tokens, usage.cache_creation_1h_tokens),
            (9, 0)
        );
        // A 1-hour count above the writes is capped at them.
        let body = br#"{"usage":{"input_tokens":5,"cache_creation_input_tokens":9,"cache_creation":{"ephemeral_1h_input_tokens":12},"output_tokens":1}}"#;
        let usage = usage_from_json(ApiFormat::AnthropicMessages, body).unwrap();
        assert_eq!(usage.cache_creation_1h_tokens, 9);

        // Streamed: from message_start, kept when message_delta gives only the output (older
        // API versions) or zeros, and read again when it repeats every count (newer ones).
        for delta in [
            r#"{"output_tokens":503}"#.to_string(),
            r#"{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":503}"#.to_string(),
            ANTHROPIC_1H_USAGE.to_string(),
        ] {
            assert_usage_every_chunking(
                ApiFormat::AnthropicMessages,
                &anthropic_1h_stream(&delta),
                ANTHROPIC_1H_EXPECTED,
            );
        }
        let later_1h = anthropic_1h_stream(
            r#"{"cache_creation_input_tokens":1500,"cache_creation":{"ephemeral_1h_input_tokens":1500},"output_tokens":503}"#,
        );
        let tracker = track(ApiFormat::AnthropicMessages, &[later_1h.as_bytes()]);
        assert_eq!(tracker.usage().unwrap().cache_creation_1h_tokens, 1500);
    }

    /// A streamed answer costs exactly what the same answer costs unstreamed, however the
    /// stream is cut; the figures are worked out by hand in `model::prices`'s tests' manner.
    #[test]
    fn prices_streamed_answers_cost_what_unstreamed_ones_do() {
        use crate::model::prices::{cost_nanos, Price, MULTIPLIER_ONE_PPM};
        const M: i64 = 1_000_000;
        let gpt_4o = Price {
            input: 2_500_000,
            output: 10 * M,
            cached_input: Some(1_250_000),
            ..Price::default()
        };
        let o4_mini = Price {
            input: 1_100_000,
            output: 4_400_000,
            cached_input: Some(275_000),
            ..Price::default()
        };
        let sonnet = Price {
            input: 3 * M,
            output: 15 * M,
            cached_input: Some(300_000),
            cache_write_5m: Some(3_750_000),
            cache_write_1h: Some(6 * M),
        };
        let chat_json = r#"{"id":"chatcmpl-1","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1033,"completion_tokens":12,"total_tokens":1045,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;
        let responses_json = r#"{"id":"resp_1","object":"response","status":"completed","usage":{"input_tokens":1290,"input_tokens_details":{"cached_tokens":1152},"output_tokens":211,"output_tokens_details":{"reasoning_tokens":192},"total_tokens":1501}}"#;
        let anthropic_json = format!(r#"{{"id":"msg_1","usage":{ANTHROPIC_1H_USAGE}}}"#);
        let cases = [
            // 9 x $2.50 + 1024 x $1.25 + 12 x $10 per million = $0.0014225
            (
                ApiFormat::OpenAiChat,
                chat_events().concat(),
                chat_json.to_string(),
                gpt_4o,
                1_422_500,
            ),
            // 138 x $1.10 + 1152 x $0.275 + 211 x $4.40 per million = $0.001397
            (
                ApiFormat::OpenAiResponses,
                RESPONSES_STREAM.to_string(),
                responses_json.to_string(),
                o4_mini,
                1_397_000,
            ),
            // 2095 x $3 + 1800 x $0.30 + 500 x $3.75 + 1000 x $6 + 503 x $15 per million = $0.022245
            (
                ApiFormat::AnthropicMessages,
                anthropic_1h_stream(r#"{"output_tokens":503}"#),
                anthropic_json,
                sonnet,
                22_245_000,
            ),
        ];
        for (format, stream, json, price, expected) in cases {
            let whole = usage_from_json(format, json.as_bytes()).expect("usage in the JSON answer");
            assert_eq!(
                cost_nanos(&price, &whole, MULTIPLIER_ONE_PPM),
                expected,
                "{format:?}"
            );
            for parts in chunkings(stream.as_bytes()) {
                let streamed = track(format, &parts).usage().expect("usage in the stream");
                assert_eq!(streamed, whole, "{format:?}");
                assert_eq!(cost_nanos(&price, &streamed, MULTIPLIER_ONE_PPM), expected);
            }
        }
    }

    const GEMINI_ANSWER: &str = r#"{"candidates":[{"content":{"parts":[{"text":"Hi there, \"usageMetadata\":{}"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":40,"totalTokenCount":1290,"cachedContentTokenCount":1024,"promptTokensDetails":[{"modality":"TEXT","tokenCount":1200}],"thoughtsTokenCount":50},"modelVersion":"gemini-2.5-flash","responseId":"abc"}"#;

    const GEMINI_EXPECTED: Usage = Usage {
        prompt_tokens: 1200,
        completion_tokens: 90,
        total_tokens: 1290,
        cached_tokens: 1024,
        reasoning_tokens: 50,
        cache_creation_tokens: 0,
        cache_read_tokens: 0,
        cache_creation_1h_tokens: 0,
    };

    #[test]
    fn json_gemini_counts_thoughts_as_output_and_cache_inside_the_prompt() {
        assert_eq!(
            usage_from_json(ApiFormat::Gemini, GEMINI_ANSWER.as_bytes()),
            Some(GEMINI_EXPECTED)
        );
        // Tool-use prompt tokens are input; a missing total is the sum.
        let tools = br#"{"usageMetadata":{"promptTokenCount":10,"toolUsePromptTokenCount":5,"candidatesTokenCount":3}}"#;
        let u = usage_from_json(ApiFormat::Gemini, tools).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (15, 3, 18)
        );
        assert_eq!(
            usage_from_json(ApiFormat::Gemini, br#"{"embedding":{"values":[0.1]}}"#),
            None
        );
        // The other formats' `usage` is not Gemini's.
        assert_eq!(
            usage_from_json(ApiFormat::Gemini, br#"{"usage":{"prompt_tokens":1}}"#),
            None
        );
    }

    #[test]
    fn sse_gemini_last_usage_wins_at_every_split() {
        let chunk = |text: &str, candidates: u32, thoughts: u32| {
            format!(
                "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":{}}}],\"role\":\"model\"}},\"index\":0}}],\"usageMetadata\":{{\"promptTokenCount\":1200,\"candidatesTokenCount\":{candidates},\"totalTokenCount\":{},\"cachedContentTokenCount\":1024,\"thoughtsTokenCount\":{thoughts}}},\"modelVersion\":\"gemini-2.5-flash\"}}\n\n",
                json!(text),
                1200 + candidates + thoughts
            )
        };
        let stream = [
            chunk("", 0, 50),
            chunk("Hel", 20, 50),
            chunk("lo wörld", 40, 50),
        ]
        .concat();
        assert_usage_every_chunking(ApiFormat::Gemini, &stream, GEMINI_EXPECTED);
        let first = chunk("", 0, 50);
        let tracker = track(ApiFormat::Gemini, &[first.as_bytes()]);
        assert!(
            !tracker.first_content_seen(),
            "an empty text part is not content"
        );
        assert_eq!(tracker.usage().unwrap().completion_tokens, 50);
    }
}
