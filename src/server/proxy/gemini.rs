//! Google's native Gemini API: which calls a client key may make (`models/{model}:{action}`
//! below `/v1beta/`, or below `/v1/` where the current google-genai SDK sends them), how the
//! model is read from the path, what of the query goes upstream, and model lists in Gemini's
//! shape.
use std::borrow::Cow;

use axum::http::{HeaderMap, Method};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use super::endpoints::{decode, Endpoint, Refusal};
use super::request_body::MAX_MODEL_BYTES;

/// The API version a client called, which the upstream is called with too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V1beta,
}

impl Version {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V1beta => "v1beta",
        }
    }
}

/// The Gemini calls the gateway forwards: `POST models/{model}:{action}`. The action is sent
/// upstream as written here, never as the client spelled it.
static ACTIONS: &[(&str, Endpoint)] = &[
    ("generateContent", Endpoint::GenerateContent),
    ("streamGenerateContent", Endpoint::StreamGenerateContent),
    ("countTokens", Endpoint::CountTokens),
    ("embedContent", Endpoint::EmbedContent),
    ("batchEmbedContents", Endpoint::BatchEmbedContents),
];

/// One Gemini call: the endpoint and the model its path names (none for the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub endpoint: Endpoint,
    pub model: Option<String>,
}

/// Why a Gemini path is refused: as for the other formats, or a model name that cannot be one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathRefusal {
    Path(Refusal),
    BadModel,
}

impl Endpoint {
    /// The action of a forwarded Gemini call (`generateContent`, ...).
    pub(crate) fn gemini_action(self) -> Option<&'static str> {
        ACTIONS
            .iter()
            .find(|(_, e)| *e == self)
            .map(|(action, _)| *action)
    }
}

/// Which Gemini surface a request is on, if any. Everything below `/v1beta/` is; below `/v1/`
/// (the OpenAI namespace) only what cannot be an OpenAI call: a POST to `models/{m}:{action}`,
/// and the model list or a model when the caller authenticates as Google's SDKs do
/// (`x-goog-api-key` or `key=`), since `GET /v1/models` is OpenAI's list otherwise.
pub(crate) fn surface(
    uri_path: &str,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Option<Version> {
    if uri_path.starts_with("/v1beta/") || uri_path.starts_with("/api/proxy/v1beta/") {
        return Some(Version::V1beta);
    }
    let below = uri_path
        .strip_prefix("/v1/")
        .or_else(|| uri_path.strip_prefix("/api/proxy/v1/"))?;
    let google_client = || headers.contains_key(GOOG_KEY) || key_in_query(query).is_some();
    // An OpenAI or Anthropic call costs a scan of its path, nothing decoded or allocated.
    let maybe = if *method == Method::POST {
        below.contains([':', '%'])
    } else {
        *method == Method::GET && below.starts_with("models") && google_client()
    };
    if !maybe {
        return None;
    }
    let segments = decode(below).ok()?;
    let gemini = match segments.as_slice() {
        [models, name] if *method == Method::POST => models == "models" && name.contains(':'),
        [models] | [models, _] if *method == Method::GET => models == "models" && google_client(),
        _ => false,
    };
    gemini.then_some(Version::V1)
}

const GOOG_KEY: &str = "x-goog-api-key";

/// The part of the path below the version (still percent-encoded).
pub(crate) fn below_version(uri_path: &str) -> &str {
    ["/api/proxy/v1beta/", "/v1beta/", "/api/proxy/v1/", "/v1/"]
        .iter()
        .find_map(|prefix| uri_path.strip_prefix(prefix))
        .unwrap_or("")
}

/// Finds the call for `method` and the raw path below the version. Segments are judged
/// decoded (see `endpoints::decode`); the model must look like a model id.
pub(crate) fn find(method: &Method, raw_path: &str) -> Result<Call, PathRefusal> {
    let decoded = decode(raw_path).map_err(PathRefusal::Path)?;
    let (get, post) = (*method == Method::GET, *method == Method::POST);
    match decoded.as_slice() {
        [models] if get && models == "models" => Ok(Call {
            endpoint: Endpoint::GeminiListModels,
            model: None,
        }),
        [models, name] if get && models == "models" => Ok(Call {
            endpoint: Endpoint::GeminiGetModel,
            model: Some(model_name(name)?),
        }),
        [models, name] if post && models == "models" => {
            let (model, action) = name
                .rsplit_once(':')
                .ok_or(PathRefusal::Path(Refusal::Unknown))?;
            let endpoint = ACTIONS
                .iter()
                .find(|(a, _)| *a == action)
                .map(|(_, e)| *e)
                .ok_or(PathRefusal::Path(Refusal::Unknown))?;
            Ok(Call {
                endpoint,
                model: Some(model_name(model)?),
            })
        }
        _ => Err(PathRefusal::Path(Refusal::Unknown)),
    }
}

/// A model id as Google writes them (`gemini-2.5-flash`, `text-embedding-004`): letters,
/// digits, `-`, `.` and `_`, not starting with a dot. Anything else would change the path
/// the upstream is sent.
fn model_name(name: &str) -> Result<String, PathRefusal> {
    let ok = !name.is_empty()
        && name.len() <= MAX_MODEL_BYTES
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(PathRefusal::BadModel)
    }
}

/// Everything but unreserved characters is escaped in a path segment the gateway builds (an
/// admin's redirect target may hold anything).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The path below the upstream's root: `{version}/models/{model}:{action}`.
pub(crate) fn upstream_path(version: Version, model: &str, action: &str) -> String {
    format!(
        "{}/models/{}:{action}",
        version.as_str(),
        utf8_percent_encode(model, SEGMENT)
    )
}

/// The query's parameters, names and values decoded.
fn params(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (
            percent_decode_str(name).decode_utf8_lossy(),
            percent_decode_str(value).decode_utf8_lossy(),
        )
    })
}

/// The gateway key a Google client sent as the `key` query parameter.
pub(crate) fn key_in_query(query: Option<&str>) -> Option<String> {
    params(query?)
        .find(|(name, value)| name == "key" && !value.trim().is_empty())
        .map(|(_, value)| value.trim().to_string())
}

/// What of the client's query goes upstream: only `alt=sse` on a streamed call. The `key`
/// (the gateway's own key) never does, nor anything that changes what the answer carries
/// (`fields` could drop `usageMetadata`, `alt=proto` would make it unreadable).
pub(crate) fn forwarded_query(endpoint: Endpoint, query: Option<&str>) -> Option<String> {
    let sse = endpoint == Endpoint::StreamGenerateContent
        && query.is_some_and(|q| params(q).any(|(name, value)| name == "alt" && value == "sse"));
    sse.then(|| "alt=sse".to_string())
}

/// The generation methods a listed model is said to support: the gateway knows only names,
/// so embedding models (by name) get the embedding calls, the others the generating ones.
fn methods_of(model: &str) -> Value {
    if model.contains("embedding") {
        json!(["embedContent", "batchEmbedContents", "countTokens"])
    } else {
        json!(["generateContent", "streamGenerateContent", "countTokens"])
    }
}

/// One model in Gemini's shape.
pub(crate) fn model_object(id: &str) -> Value {
    json!({
        "name": format!("models/{id}"),
        "baseModelId": id,
        "version": "",
        "displayName": id,
        "description": "",
        "supportedGenerationMethods": methods_of(id),
    })
}

/// The model list in Gemini's shape, in one page.
pub(crate) fn models_list(ids: impl IntoIterator<Item = String>) -> Value {
    let models: Vec<Value> = ids.into_iter().map(|id| model_object(&id)).collect();
    json!({ "models": models })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: Method, path: &str) -> Result<Call, PathRefusal> {
        find(&method, path)
    }

    #[test]
    fn the_documented_calls_are_found_with_their_model() {
        for (action, endpoint) in ACTIONS {
            let found = call(Method::POST, &format!("models/gemini-2.5-flash:{action}")).unwrap();
            assert_eq!(found.endpoint, *endpoint);
            assert_eq!(found.model.as_deref(), Some("gemini-2.5-flash"));
            assert_eq!(endpoint.gemini_action(), Some(*action));
        }
        assert_eq!(
            call(Method::GET, "models").unwrap().endpoint,
            Endpoint::GeminiListModels
        );
        let got = call(Method::GET, "models/text-embedding-004").unwrap();
        assert_eq!(got.endpoint, Endpoint::GeminiGetModel);
        assert_eq!(got.model.as_deref(), Some("text-embedding-004"));
        // Segments are judged decoded, as an upstream would read them.
        let encoded = call(Method::POST, "models/gemini-2.5-flash%3AgenerateContent").unwrap();
        assert_eq!(encoded.endpoint, Endpoint::GenerateContent);
    }

    #[test]
    fn other_calls_are_unknown() {
        let unknown = Err(PathRefusal::Path(Refusal::Unknown));
        for (method, path) in [
            (Method::POST, "models/gemini-2.5-flash:predict"),
            (Method::POST, "models/gemini-2.5-flash:predictLongRunning"),
            (Method::POST, "models/gemini-2.5-flash:generateAnswer"),
            (Method::POST, "models/gemini-2.5-flash"),
            (Method::POST, "models/gemini-2.5-flash:"),
            (Method::GET, "models/gemini-2.5-flash:generateContent/x"),
            (Method::POST, "tunedModels/mine:generateContent"),
            (Method::GET, "files"),
            (Method::POST, "files"),
            (Method::GET, "cachedContents"),
            (Method::DELETE, "models/gemini-2.5-flash"),
            (Method::POST, "models"),
            (Method::GET, ""),
            (Method::POST, "models//gemini:generateContent"),
            (Method::POST, "batches"),
        ] {
            assert_eq!(call(method.clone(), path), unknown, "{method} {path}");
        }
    }

    #[test]
    fn unsafe_paths_and_models_are_refused() {
        for path in [
            "models/..:generateContent",
            "models/%2e%2e:generateContent",
            "../models/gemini:generateContent",
            "models/a%2fb:generateContent",
            "models/a%5cb:generateContent",
            "models/gemini%00:generateContent",
        ] {
            let refused = call(Method::POST, path);
            assert!(
                matches!(
                    refused,
                    Err(PathRefusal::Path(Refusal::UnsafePath)) | Err(PathRefusal::BadModel)
                ),
                "{path}: {refused:?}"
            );
        }
        for path in [
            "models/..x:generateContent",
            "models/.hidden:generateContent",
            "models/a b:generateContent",
            "models/a?key=1:generateContent",
            "models/a%3Fkey=1:generateContent",
            "models/a:b:generateContent",
            "models/:generateContent",
            "models/gemini%E2%80%8B:generateContent",
        ] {
            assert_eq!(
                call(Method::POST, path),
                Err(PathRefusal::BadModel),
                "{path}"
            );
        }
        let long = format!("models/{}:generateContent", "m".repeat(MAX_MODEL_BYTES + 1));
        assert_eq!(call(Method::POST, &long), Err(PathRefusal::BadModel));
    }

    #[test]
    fn the_surface_is_v1beta_or_an_unmistakable_gemini_call_below_v1() {
        let none = HeaderMap::new();
        let mut goog = HeaderMap::new();
        goog.insert(GOOG_KEY, "k".parse().unwrap());
        let post = Method::POST;
        let get = Method::GET;
        assert_eq!(
            surface("/v1beta/models", &get, &none, None),
            Some(Version::V1beta)
        );
        assert_eq!(
            surface("/api/proxy/v1beta/anything", &post, &none, None),
            Some(Version::V1beta)
        );
        assert_eq!(
            surface(
                "/v1/models/gemini-2.5-flash:generateContent",
                &post,
                &none,
                None
            ),
            Some(Version::V1)
        );
        assert_eq!(surface("/v1/chat/completions", &post, &goog, None), None);
        assert_eq!(surface("/v1/models", &get, &none, None), None);
        assert_eq!(surface("/v1/models/gpt-4o", &get, &none, None), None);
        assert_eq!(surface("/v1/models", &get, &goog, None), Some(Version::V1));
        assert_eq!(
            surface("/v1/models/gemini-2.5-flash", &get, &none, Some("key=ar-1")),
            Some(Version::V1)
        );
        assert_eq!(below_version("/v1beta/models"), "models");
        assert_eq!(below_version("/api/proxy/v1/models/x:y"), "models/x:y");
    }

    #[test]
    fn the_key_never_goes_upstream_and_only_alt_sse_does() {
        assert_eq!(
            key_in_query(Some("alt=sse&key=ar-abc%2Bd")),
            Some("ar-abc+d".into())
        );
        assert_eq!(key_in_query(Some("%6Bey=ar-x")), Some("ar-x".into()));
        assert_eq!(key_in_query(Some("key=&alt=sse")), None);
        assert_eq!(key_in_query(None), None);
        let stream = Endpoint::StreamGenerateContent;
        assert_eq!(
            forwarded_query(stream, Some("key=ar-secret&alt=sse")),
            Some("alt=sse".into())
        );
        assert_eq!(
            forwarded_query(stream, Some("alt=%73se")),
            Some("alt=sse".into())
        );
        assert_eq!(forwarded_query(stream, Some("alt=proto&key=ar-s")), None);
        assert_eq!(forwarded_query(stream, Some("fields=candidates")), None);
        assert_eq!(
            forwarded_query(Endpoint::GenerateContent, Some("alt=sse")),
            None
        );
    }

    #[test]
    fn upstream_paths_are_built_not_copied() {
        assert_eq!(
            upstream_path(Version::V1beta, "gemini-2.5-flash", "generateContent"),
            "v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            upstream_path(Version::V1, "a/../b c", "countTokens"),
            "v1/models/a%2F..%2Fb%20c:countTokens"
        );
    }

    #[test]
    fn models_are_listed_in_gemini_s_shape() {
        let list = models_list(["gemini-2.5-flash".to_string(), "text-embedding-004".into()]);
        assert_eq!(list["models"][0]["name"], "models/gemini-2.5-flash");
        assert_eq!(
            list["models"][0]["supportedGenerationMethods"][0],
            "generateContent"
        );
        assert_eq!(
            list["models"][1]["supportedGenerationMethods"][0],
            "embedContent"
        );
    }
}
