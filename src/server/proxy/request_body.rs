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
}

/// Only these fields are read (as any JSON value, so a `model` that is not a string is
/// "missing" rather than a parse error); the others are skipped unbuilt.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    stream: Option<Value>,
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
    Ok(RequestFacts { model, stream })
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
                stream: true
            })
        );
        let escaped = r#"{"model":"gpt\u002d4o","stream":false}"#;
        assert_eq!(facts(escaped).unwrap().model, "gpt-4o");
        assert!(!facts(r#"{"model":"m"}"#).unwrap().stream);
        // Only a JSON `true` streams, as the providers read it.
        assert!(!facts(r#"{"model":"m","stream":"true"}"#).unwrap().stream);
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
