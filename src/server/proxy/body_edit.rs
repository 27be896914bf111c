//! The two changes the gateway makes to a client's JSON body, made as byte splices: a streaming
//! chat body is asked for its usage, and a redirected model is renamed. Only the member that
//! changes is parsed (`json_field` finds it), so a large body costs a copy, never a tree (see
//! docs/security.md for the peak memory of the largest body).
use serde_json::{Map, Value};

use super::json_field::top_level_field;

/// Where `part` (a slice of `whole`) starts and ends in `whole`.
fn span(whole: &[u8], part: &[u8]) -> (usize, usize) {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    (start, start + part.len())
}

fn splice(body: &[u8], (start, end): (usize, usize), with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() - (end - start) + with.len());
    out.extend_from_slice(&body[..start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&body[end..]);
    out
}

/// Outcome of an edit that could not be made as a splice (the member is spelled with escapes,
/// or the body's structure is not one complete object): the caller falls back to a tree.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Edit {
    Unchanged,
    Changed(Vec<u8>),
    NotFound,
}

/// Makes `stream_options.include_usage` true in a streaming chat body, as
/// `usage::ensure_stream_usage` does on a tree: added when absent or null, set when false,
/// left alone when already true or when `stream_options` is not an object.
pub(crate) fn with_stream_usage(body: &[u8]) -> Edit {
    const ADDED: &[u8] = br#""stream_options":{"include_usage":true}"#;
    // `top_level_field` also proves the body is one complete object.
    if top_level_field(body, "model").is_none() {
        return Edit::NotFound;
    }
    match top_level_field(body, "stream_options") {
        None => {
            let Some(open) = body.iter().position(|&b| b == b'{') else {
                return Edit::NotFound;
            };
            let mut inserted = ADDED.to_vec();
            inserted.push(b',');
            Edit::Changed(splice(body, (open + 1, open + 1), &inserted))
        }
        Some(raw) => {
            let options = match serde_json::from_slice::<Value>(raw) {
                Ok(Value::Null) => Map::new(),
                Ok(Value::Object(options)) => options,
                Ok(_) => return Edit::Unchanged,
                Err(_) => return Edit::NotFound,
            };
            if options.get("include_usage").and_then(Value::as_bool) == Some(true) {
                return Edit::Unchanged;
            }
            let mut options = options;
            options.insert("include_usage".into(), Value::Bool(true));
            let Ok(new) = serde_json::to_vec(&Value::Object(options)) else {
                return Edit::NotFound;
            };
            Edit::Changed(splice(body, span(body, raw), &new))
        }
    }
}

/// The body with its top-level `model` set to `model`.
pub(crate) fn with_model(body: &[u8], model: &str) -> Edit {
    let Some(raw) = top_level_field(body, "model") else {
        return Edit::NotFound;
    };
    match serde_json::to_vec(model) {
        Ok(new) => Edit::Changed(splice(body, span(body, raw), &new)),
        Err(_) => Edit::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::proxy::usage::ensure_stream_usage;

    fn tree(body: &str) -> Value {
        serde_json::from_str(body).unwrap()
    }

    /// The splice gives what the tree edit gives, for every shape of `stream_options`.
    #[test]
    fn stream_usage_matches_the_tree_edit() {
        for body in [
            r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"{\"stream_options\":1}"}]}"#,
            r#"{ "model" : "m" , "stream" : true }"#,
            r#"{"model":"m","stream":true,"stream_options":null}"#,
            r#"{"model":"m","stream":true,"stream_options":{}}"#,
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":false,"x":1}}"#,
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#,
            r#"{"model":"m","stream":true,"stream_options":"odd"}"#,
            "\n {\"model\":\"m\",\"stream\":true}\n",
        ] {
            let mut expected = tree(body);
            let changed = ensure_stream_usage(&mut expected);
            match with_stream_usage(body.as_bytes()) {
                Edit::Changed(out) => {
                    assert!(changed, "{body}");
                    let got: Value = serde_json::from_slice(&out).unwrap();
                    assert_eq!(got, expected, "{body}");
                }
                Edit::Unchanged => assert!(!changed, "{body}"),
                Edit::NotFound => panic!("{body}"),
            }
        }
    }

    #[test]
    fn the_model_is_renamed_in_place() {
        let body = br#"{"messages":[{"content":"\"model\": \"x\""}],"model":"alias","n":1}"#;
        let Edit::Changed(out) = with_model(body, "real \"model\"") else {
            panic!("not renamed");
        };
        let got: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(got["model"], "real \"model\"");
        assert_eq!(got["messages"][0]["content"], "\"model\": \"x\"");
        assert_eq!(got["n"], 1);
    }

    #[test]
    fn bodies_that_cannot_be_spliced_say_so() {
        assert_eq!(with_model(br#"{"mod\u0065l":"m"}"#, "x"), Edit::NotFound);
        assert_eq!(with_model(br#"{"model":"m""#, "x"), Edit::NotFound);
        assert_eq!(with_stream_usage(br#"[1,2]"#), Edit::NotFound);
    }

    #[test]
    fn a_huge_body_is_edited_without_a_tree() {
        let mut body = br#"{"model":"m","stream":true,"messages":["#.to_vec();
        body.extend(std::iter::repeat_n(b"0,".as_slice(), 2_000_000).flatten());
        body.extend_from_slice(b"0]}");
        let Edit::Changed(out) = with_stream_usage(&body) else {
            panic!("not edited");
        };
        assert_eq!(
            out.len(),
            body.len() + br#""stream_options":{"include_usage":true},"#.len()
        );
        assert!(out.starts_with(br#"{"stream_options":{"include_usage":true},"model""#));
    }
}
