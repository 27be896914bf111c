//! What the gateway reads of a client's JSON body: the model it routes by and whether the answer
//! streams. A typed probe skips every other field without building a tree for it (a chat body is
//! mostly `messages`); the full `Value` is built only when the body must change.
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("this gateway routes by the `model` field of a JSON request body")]
    Empty,
    #[error("the request body must be a JSON object")]
    NotObject,
    #[error("malformed JSON body: {0}")]
    Malformed(String),
    #[error("missing required parameter: `model`")]
    MissingModel,
    #[error("`model` is longer than {MAX_MODEL_BYTES} bytes")]
    ModelTooLong,
    #[error("`model` contains a control character")]
    ModelControlCharacter,
}

/// No provider names a model this long; the name is stored in every log row and matched
/// against every upstream's patterns.
pub(crate) const MAX_MODEL_BYTES: usize = 256;

/// The routing facts of a request body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RequestFacts {
    /// Trimmed, never empty.
    pub model: String,
    pub stream: bool,
    /// What names the agent session the request belongs to, when the body says: Claude Code's
    /// session inside `metadata.user_id`, or Codex's `prompt_cache_key`.
    pub session: Option<String>,
    /// A Responses request's `previous_response_id`: it goes where that response was made.
    pub previous_response: Option<String>,
}

/// Only these fields are read (as any JSON value, so a `model` that is not a string is
/// "missing" rather than a parse error); the others are skipped unbuilt.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    stream: Option<Value>,
    #[serde(default)]
    metadata: Option<MetadataProbe>,
    #[serde(default)]
    prompt_cache_key: Option<Value>,
    #[serde(default)]
    previous_response_id: Option<Value>,
}

#[derive(Deserialize)]
struct MetadataProbe {
    #[serde(default)]
    user_id: Option<Value>,
}

/// Longest session name the gateway keeps (a UUID is 36 bytes).
const MAX_SESSION_BYTES: usize = 256;

/// The session a body names: Claude Code's inside `metadata.user_id`, else Codex's
/// `prompt_cache_key`.
fn session_in(probe: &Probe) -> Option<String> {
    let claude = probe
        .metadata
        .as_ref()
        .and_then(|m| m.user_id.as_ref())
        .and_then(Value::as_str)
        .and_then(claude_session);
    let codex = probe.prompt_cache_key.as_ref().and_then(Value::as_str);
    claude
        .as_deref()
        .or(codex)
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= MAX_SESSION_BYTES)
        .map(String::from)
}

/// The session in Claude Code's `metadata.user_id`: current versions (2.1) send a JSON object
/// in that string (`{"device_id":…,"account_uuid":…,"session_id":"<uuid>"}`), older ones
/// `user_<hash>_account_<uuid>_session_<uuid>`.
fn claude_session(user_id: &str) -> Option<String> {
    if user_id.trim_start().starts_with('{') {
        #[derive(Deserialize)]
        struct UserId {
            #[serde(default)]
            session_id: Option<Value>,
        }
        let parsed: UserId = serde_json::from_str(user_id).ok()?;
        return match parsed.session_id? {
            Value::String(s) => Some(s),
            _ => None,
        };
    }
    user_id.rsplit_once("session_").map(|(_, s)| s.to_string())
}

pub(crate) fn read_facts(body: &[u8]) -> Result<RequestFacts, BodyError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => return Err(BodyError::Empty),
        // A derived struct would also accept an array (by position); only objects route.
        Some(b'{') => {}
        Some(_) => {
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                    Ok(_) => BodyError::NotObject,
                    Err(e) => BodyError::Malformed(e.to_string()),
                },
            )
        }
    }
    let probe: Probe =
        serde_json::from_slice(body).map_err(|e| BodyError::Malformed(e.to_string()))?;
    let session = session_in(&probe);
    let previous_response = match &probe.previous_response_id {
        Some(Value::String(id)) if !id.is_empty() && id.len() <= MAX_SESSION_BYTES => {
            Some(id.clone())
        }
        _ => None,
    };
    let model = match probe.model {
        Some(Value::String(m)) if m.trim().is_empty() => return Err(BodyError::MissingModel),
        // Usually already trimmed: keep the parsed string rather than copy it.
        Some(Value::String(m)) if m.trim().len() == m.len() => m,
        Some(Value::String(m)) => m.trim().to_string(),
        _ => return Err(BodyError::MissingModel),
    };
    if model.len() > MAX_MODEL_BYTES {
        return Err(BodyError::ModelTooLong);
    }
    if model.chars().any(char::is_control) {
        return Err(BodyError::ModelControlCharacter);
    }
    let stream = probe.stream == Some(Value::Bool(true));
    Ok(RequestFacts {
        model,
        stream,
        session,
        previous_response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(body: &str) -> Result<RequestFacts, BodyError> {
        read_facts(body.as_bytes())
    }

    #[test]
    fn reads_model_and_stream_and_skips_the_rest() {
        let body = r#"{"messages":[{"role":"user","content":"a \"model\": x"}],"model":" gpt-4o ","stream":true}"#;
        assert_eq!(
            facts(body),
            Ok(RequestFacts {
                model: "gpt-4o".into(),
                stream: true,
                session: None,
                previous_response: None,
            })
        );
        let escaped = r#"{"model":"gpt\u002d4o","stream":false}"#;
        assert_eq!(facts(escaped).unwrap().model, "gpt-4o");
        assert!(!facts(r#"{"model":"m"}"#).unwrap().stream);
        // Only a JSON `true` streams, as the providers read it.
        assert!(!facts(r#"{"model":"m","stream":"true"}"#).unwrap().stream);
    }

    #[test]
    fn sessions_are_read_from_claude_code_and_codex_bodies() {
        let claude = r#"{"model":"claude-sonnet-4","metadata":{"user_id":"user_ab12_account_9f_session_6a1e-42"}}"#;
        assert_eq!(facts(claude).unwrap().session.as_deref(), Some("6a1e-42"));
        // What Claude Code 2.1 sends: a JSON object inside the string.
        let claude_json = r#"{"model":"claude-sonnet-4-5","metadata":{"user_id":"{\"device_id\":\"d23c\",\"account_uuid\":\"\",\"session_id\":\"082c28a7-506a\"}"}}"#;
        assert_eq!(
            facts(claude_json).unwrap().session.as_deref(),
            Some("082c28a7-506a")
        );
        let no_session =
            r#"{"model":"m","metadata":{"user_id":"{\"device_id\":\"d23c\",\"session_id\":7}"}}"#;
        assert_eq!(facts(no_session).unwrap().session, None);
        let not_json = r#"{"model":"m","metadata":{"user_id":"{session_x"}}"#;
        assert_eq!(facts(not_json).unwrap().session, None);
        let codex = r#"{"model":"gpt-5-codex","prompt_cache_key":"019a-77","input":[]}"#;
        assert_eq!(facts(codex).unwrap().session.as_deref(), Some("019a-77"));
        assert_eq!(
            facts(r#"{"model":"m","metadata":{"user_id":"plain-user"}}"#)
                .unwrap()
                .session,
            None
        );
        assert_eq!(
            facts(r#"{"model":"m","prompt_cache_key":7}"#)
                .unwrap()
                .session,
            None
        );
        let long = format!(
            r#"{{"model":"m","prompt_cache_key":"{}"}}"#,
            "x".repeat(300)
        );
        assert_eq!(
            facts(&long).unwrap().session,
            None,
            "overlong names are ignored"
        );
    }

    #[test]
    fn a_previous_response_id_is_read() {
        let body = r#"{"model":"gpt-5","previous_response_id":"resp_abc","input":"hi"}"#;
        assert_eq!(
            facts(body).unwrap().previous_response.as_deref(),
            Some("resp_abc")
        );
        for absent in [
            r#"{"model":"m"}"#,
            r#"{"model":"m","previous_response_id":null}"#,
            r#"{"model":"m","previous_response_id":""}"#,
            r#"{"model":"m","previous_response_id":3}"#,
        ] {
            assert_eq!(facts(absent).unwrap().previous_response, None, "{absent}");
        }
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        assert_eq!(facts(""), Err(BodyError::Empty));
        assert_eq!(facts("  \n"), Err(BodyError::Empty));
        assert_eq!(facts(r#"["model","m"]"#), Err(BodyError::NotObject));
        assert_eq!(facts("42"), Err(BodyError::NotObject));
        assert!(matches!(facts("{\"model\":"), Err(BodyError::Malformed(_))));
        assert!(matches!(facts("nope"), Err(BodyError::Malformed(_))));
        assert!(matches!(
            facts(r#"{"model":"m"} x"#),
            Err(BodyError::Malformed(_))
        ));
        assert_eq!(facts("{}"), Err(BodyError::MissingModel));
        assert_eq!(facts(r#"{"model":"  "}"#), Err(BodyError::MissingModel));
        assert_eq!(facts(r#"{"model":7}"#), Err(BodyError::MissingModel));
        assert_eq!(facts(r#"{"model":null}"#), Err(BodyError::MissingModel));
        let longest = format!(r#"{{"model":"{}"}}"#, "m".repeat(MAX_MODEL_BYTES));
        assert!(facts(&longest).is_ok());
        let too_long = format!(r#"{{"model":"{}"}}"#, "m".repeat(MAX_MODEL_BYTES + 1));
        assert_eq!(facts(&too_long), Err(BodyError::ModelTooLong));
        for control in [
            r#"{"model":"gpt-4o\u0000mini"}"#,
            r#"{"model":"gpt\n4o"}"#,
            r#"{"model":"a\u007fb"}"#,
        ] {
            assert_eq!(
                facts(control),
                Err(BodyError::ModelControlCharacter),
                "{control}"
            );
        }
        // Two `model` keys are ambiguous: refused rather than routed by one of them.
        assert!(matches!(
            facts(r#"{"model":"a","model":"b"}"#),
            Err(BodyError::Malformed(m)) if m.contains("duplicate field")
        ));
    }
}
