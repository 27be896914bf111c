//! The provider endpoints a client key may reach: one table of (method, path) pairs per API
//! format. Anything else (files, batches, fine-tunes, stored objects of other tenants, or a path
//! that climbs out of the upstream's base URL) answers 404 in the caller's format.
use axum::http::Method;

use super::usage::ApiFormat;
use crate::model::upstreams::Format;

/// One endpoint the proxy forwards or answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    Responses,
    ResponsesInputTokens,
    Moderations,
    ImageGenerations,
    AudioSpeech,
    Messages,
    MessagesCountTokens,
    /// `GET /v1/models`, answered by the gateway from the key's upstreams.
    ListModels,
    /// `GET /v1/models/{model}`, answered by the gateway likewise.
    GetModel,
    /// A POST path outside the table that an upstream the key may use opted in to
    /// (`extra_paths`); forwarded only to such upstreams.
    Extra,
    /// Google's own API (`gemini::find`): `models/{model}:{action}`, the model in the path.
    GenerateContent,
    StreamGenerateContent,
    CountTokens,
    EmbedContent,
    BatchEmbedContents,
    /// `GET models` and `GET models/{model}` in Gemini's shape, answered by the gateway.
    GeminiListModels,
    GeminiGetModel,
    /// A stored Responses object (`/v1/responses/{id}...`): sent to the upstream that created
    /// it, for the key that created it.
    StoredResponse(ResponseOp),
}

/// What is done with a stored Responses object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseOp {
    /// `GET /v1/responses/{id}`
    Get,
    /// `DELETE /v1/responses/{id}`
    Delete,
    /// `GET /v1/responses/{id}/input_items`
    InputItems,
    /// `POST /v1/responses/{id}/cancel`
    Cancel,
}

impl ResponseOp {
    /// The path below `/v1/` the creating upstream receives, for a checked id.
    pub(crate) fn path(self, id: &str) -> String {
        match self {
            ResponseOp::Get | ResponseOp::Delete => format!("responses/{id}"),
            ResponseOp::InputItems => format!("responses/{id}/input_items"),
            ResponseOp::Cancel => format!("responses/{id}/cancel"),
        }
    }
}

/// Longest response id the gateway takes (OpenAI's are about 60 characters).
const MAX_RESPONSE_ID: usize = 128;

/// A response id as providers spell them: letters, digits, `_` and `-`.
fn is_response_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_RESPONSE_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The table: method, path below `/v1/`, endpoint, and the API format an upstream must speak
/// to be sent it (none for what the gateway answers itself). The path is forwarded exactly as
/// written here, never as the client spelled it.
static TABLE: &[(Method, &str, Endpoint, Option<Format>)] = &[
    (
        Method::POST,
        "chat/completions",
        Endpoint::ChatCompletions,
        Some(Format::ChatCompletions),
    ),
    (
        Method::POST,
        "completions",
        Endpoint::Completions,
        Some(Format::Completions),
    ),
    (
        Method::POST,
        "embeddings",
        Endpoint::Embeddings,
        Some(Format::Embeddings),
    ),
    (
        Method::POST,
        "responses",
        Endpoint::Responses,
        Some(Format::Responses),
    ),
    (
        Method::POST,
        "responses/input_tokens",
        Endpoint::ResponsesInputTokens,
        Some(Format::Responses),
    ),
    (
        Method::POST,
        "moderations",
        Endpoint::Moderations,
        Some(Format::Moderations),
    ),
    (
        Method::POST,
        "images/generations",
        Endpoint::ImageGenerations,
        Some(Format::Images),
    ),
    (
        Method::POST,
        "audio/speech",
        Endpoint::AudioSpeech,
        Some(Format::Audio),
    ),
    (
        Method::POST,
        "messages",
        Endpoint::Messages,
        Some(Format::Messages),
    ),
    (
        Method::POST,
        "messages/count_tokens",
        Endpoint::MessagesCountTokens,
        Some(Format::Messages),
    ),
    (Method::GET, "models", Endpoint::ListModels, None),
];

impl Endpoint {
    /// The path below `/v1/` the upstream receives.
    pub(crate) fn path(self) -> &'static str {
        TABLE
            .iter()
            .find(|(_, _, e, _)| *e == self)
            .map_or("models", |(_, p, _, _)| p)
    }

    /// The API format an upstream must speak to be sent this endpoint (none: answered by the
    /// gateway, or an upstream's own opt-in path).
    pub(crate) fn format(self) -> Option<Format> {
        if self.gemini_action().is_some() {
            return Some(Format::Gemini);
        }
        TABLE
            .iter()
            .find(|(_, _, e, _)| *e == self)
            .and_then(|(_, _, _, f)| *f)
    }

    /// How the answer's usage is read.
    pub(crate) fn api_format(self) -> ApiFormat {
        match self {
            Endpoint::ChatCompletions => ApiFormat::OpenAiChat,
            Endpoint::Completions => ApiFormat::OpenAiCompletions,
            Endpoint::Embeddings => ApiFormat::OpenAiEmbeddings,
            Endpoint::Responses => ApiFormat::OpenAiResponses,
            Endpoint::Messages => ApiFormat::AnthropicMessages,
            Endpoint::GenerateContent
            | Endpoint::StreamGenerateContent
            | Endpoint::EmbedContent
            | Endpoint::BatchEmbedContents => ApiFormat::Gemini,
            _ => ApiFormat::Other,
        }
    }
}

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A `.` or `..` segment, raw or percent-encoded, an encoded `/` or `\`, or a control byte.
    UnsafePath,
    /// Not in the table for this method.
    Unknown,
}

/// Finds the endpoint for `method` and the raw (still percent-encoded) path below `/v1/`.
/// Segments are compared decoded, so `ch%61t/completions` is chat completions, while any
/// segment that would change the path's shape once an upstream decodes it is refused.
pub(crate) fn find(method: &Method, raw_path: &str) -> Result<Endpoint, Refusal> {
    let decoded = decode(raw_path)?;
    if let [first, model] = decoded.as_slice() {
        if first == "models" && !model.is_empty() && method == Method::GET {
            return Ok(Endpoint::GetModel);
        }
    }
    if let Some(op) = stored_response_op(method, &decoded) {
        return Ok(Endpoint::StoredResponse(op));
    }
    let joined = decoded.join("/");
    TABLE
        .iter()
        .find(|(m, p, _, _)| m == method && *p == joined)
        .map(|(_, _, e, _)| *e)
        .ok_or(Refusal::Unknown)
}

/// `responses/{id}`, `responses/{id}/input_items` and `responses/{id}/cancel`, with an id that
/// is one (`responses/input_tokens` is the table's).
fn stored_response_op(method: &Method, decoded: &[String]) -> Option<ResponseOp> {
    let (first, id, rest) = match decoded {
        [first, id] => (first, id, None),
        [first, id, rest] => (first, id, Some(rest.as_str())),
        _ => return None,
    };
    if first != "responses" || !is_response_id(id) {
        return None;
    }
    match (method, rest) {
        (&Method::GET, None) => Some(ResponseOp::Get),
        (&Method::DELETE, None) => Some(ResponseOp::Delete),
        (&Method::GET, Some("input_items")) => Some(ResponseOp::InputItems),
        (&Method::POST, Some("cancel")) => Some(ResponseOp::Cancel),
        _ => None,
    }
}

/// The response id of a stored-response path (checked by `find`).
pub(crate) fn response_id_in_path(raw_path: &str) -> Option<String> {
    let id = decode(raw_path).ok()?.into_iter().nth(1)?;
    is_response_id(&id).then_some(id)
}

/// The decoded path of a POST outside the table, for matching against upstreams' opt-ins
/// (stored normalised: `normalize_extra_path`). `None` for other methods and unsafe paths.
pub(crate) fn extra_path(method: &Method, raw_path: &str) -> Option<String> {
    if method != Method::POST {
        return None;
    }
    let joined = decode(raw_path).ok()?.join("/");
    crate::model::upstreams::normalize_extra_path(&joined)
        .ok()
        .filter(|p| *p == joined)
}

/// The path's segments, decoded; refused when one would change the path's shape once an
/// upstream decodes it.
pub(crate) fn decode(raw_path: &str) -> Result<Vec<String>, Refusal> {
    let mut decoded = Vec::with_capacity(4);
    for segment in raw_path.split('/') {
        let segment = percent_encoding::percent_decode_str(segment).collect::<Vec<u8>>();
        let unsafe_segment = segment == b"."
            || segment == b".."
            || segment
                .iter()
                .any(|&b| b == b'/' || b == b'\\' || b.is_ascii_control());
        if unsafe_segment {
            return Err(Refusal::UnsafePath);
        }
        decoded.push(String::from_utf8(segment).map_err(|_| Refusal::Unknown)?);
    }
    Ok(decoded)
}

/// The model a `GET /v1/models/{model}` asks about (decoded).
pub(crate) fn model_in_path(raw_path: &str) -> String {
    let raw = raw_path.strip_prefix("models/").unwrap_or(raw_path);
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_endpoints_are_found() {
        for (method, path, endpoint, _) in TABLE {
            assert_eq!(find(method, path), Ok(*endpoint), "{method} {path}");
            assert_eq!(endpoint.path(), *path);
        }
        assert_eq!(
            find(&Method::POST, "ch%61t/completions"),
            Ok(Endpoint::ChatCompletions)
        );
        assert_eq!(
            find(&Method::GET, "models/gpt-4o-mini"),
            Ok(Endpoint::GetModel)
        );
        assert_eq!(model_in_path("models/gpt%2D4o"), "gpt-4o");
        assert_eq!(
            Endpoint::Messages.api_format(),
            ApiFormat::AnthropicMessages
        );
        assert_eq!(Endpoint::MessagesCountTokens.api_format(), ApiFormat::Other);
    }

    #[test]
    fn other_provider_endpoints_are_unknown() {
        for (method, path) in [
            (Method::DELETE, "files/file-abc"),
            (Method::GET, "files"),
            (Method::POST, "files"),
            (Method::POST, "batches"),
            (Method::GET, "batches/batch_1"),
            (Method::POST, "fine_tuning/jobs"),
            (Method::GET, "chat/completions"),
            (Method::GET, "chat/completions/chatcmpl-1"),
            (Method::DELETE, "chat/completions/chatcmpl-1"),
            (Method::POST, "messages/batches"),
            (Method::PUT, "responses/resp_1"),
            (Method::GET, "responses/resp_1/other"),
            (Method::POST, "responses/resp_1"),
            (Method::GET, "responses/resp%20one"),
            (Method::GET, "responses/resp.1"),
            (Method::DELETE, "models/ft:gpt-4o:org"),
            (Method::POST, "chat/completions/"),
            (Method::POST, "chat//completions"),
            (Method::POST, ""),
            (Method::POST, "assistants"),
            (Method::POST, "vector_stores"),
        ] {
            assert_eq!(
                find(&method, path),
                Err(Refusal::Unknown),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn stored_responses_are_found_by_method_and_shape() {
        for (method, path, op, forwarded) in [
            (
                Method::GET,
                "responses/resp_1",
                ResponseOp::Get,
                "responses/resp_1",
            ),
            (
                Method::DELETE,
                "responses/resp_1",
                ResponseOp::Delete,
                "responses/resp_1",
            ),
            (
                Method::GET,
                "responses/resp_1/input_items",
                ResponseOp::InputItems,
                "responses/resp_1/input_items",
            ),
            (
                Method::POST,
                "responses/resp_1/cancel",
                ResponseOp::Cancel,
                "responses/resp_1/cancel",
            ),
            (
                Method::GET,
                "responses/resp%5F1",
                ResponseOp::Get,
                "responses/resp_1",
            ),
        ] {
            assert_eq!(
                find(&method, path),
                Ok(Endpoint::StoredResponse(op)),
                "{method} {path}"
            );
            assert_eq!(response_id_in_path(path).as_deref(), Some("resp_1"));
            assert_eq!(op.path("resp_1"), forwarded);
        }
        assert_eq!(
            find(&Method::POST, "responses/input_tokens"),
            Ok(Endpoint::ResponsesInputTokens)
        );
        let long = format!("responses/{}", "a".repeat(MAX_RESPONSE_ID + 1));
        assert_eq!(find(&Method::GET, &long), Err(Refusal::Unknown));
        assert_eq!(
            find(&Method::GET, "responses/%2e%2e"),
            Err(Refusal::UnsafePath)
        );
    }

    #[test]
    fn paths_that_climb_or_hide_a_slash_are_refused() {
        for path in [
            "../files",
            "chat/../files",
            "chat/completions/..",
            "%2e%2e/files",
            "%2E%2E/files",
            ".%2e/files",
            "chat/%2e/completions",
            "./chat/completions",
            "chat%2fcompletions",
            "chat%5ccompletions",
            "models/..",
            "models/%2e%2e",
            "chat/completions%00",
        ] {
            assert_eq!(
                find(&Method::POST, path),
                Err(Refusal::UnsafePath),
                "POST {path}"
            );
            assert_eq!(
                find(&Method::GET, path),
                Err(Refusal::UnsafePath),
                "GET {path}"
            );
        }
    }
}
