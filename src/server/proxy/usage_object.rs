//! A provider's `usage` object, read straight into the counts the gateway records.
//!
//! Every format's usage is a handful of integer members, some inside a `*_details` object. They
//! are deserialized into fixed fields without building a `serde_json::Value` tree: no map, no
//! string key is allocated. The reading is as lenient as the tree it replaces was:
//! - a count that is not a number is absent; a fraction is truncated towards zero; a negative is
//!   0; an integer beyond `i64` is `i64::MAX`;
//! - a `*_details` member that is not an object is absent;
//! - unknown members of any type are skipped;
//! - a member given twice takes its last value, as a JSON object parsed into a map would.
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The counts a usage object may carry, across OpenAI's Chat/Completions/Embeddings, OpenAI's
/// Responses and Anthropic's Messages formats. `None` marks a count absent or not a number.
/// Anthropic's `cache_creation` object (the writes by TTL) is read like a `*_details` one.
/// Gemini's `usageMetadata` counts are its own members (`promptTokenCount`, ...), except
/// `totalTokenCount`, which is read as `total_tokens`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UsageCounts {
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_creation_input_tokens: Option<i64>,
    pub cache_read_input_tokens: Option<i64>,
    pub prompt_tokens_details: Details,
    pub completion_tokens_details: Details,
    pub input_tokens_details: Details,
    pub output_tokens_details: Details,
    pub cache_creation: Details,
    pub prompt_token_count: Option<i64>,
    pub candidates_token_count: Option<i64>,
    pub cached_content_token_count: Option<i64>,
    pub thoughts_token_count: Option<i64>,
    pub tool_use_prompt_token_count: Option<i64>,
}

/// A `*_details` (or `cache_creation`) object's counts; all absent when the member is missing
/// or not an object.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Details {
    pub cached_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    /// Anthropic's `cache_creation.ephemeral_1h_input_tokens`: cache writes with the 1-hour TTL.
    pub ephemeral_1h_input_tokens: Option<i64>,
}

/// A JSON value that is read as `T` when it is an object and is otherwise skipped (`None`), so a
/// `"usage": null` or `"usage": 5` never fails the document around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IfObject<T>(pub Option<T>);

impl<T> Default for IfObject<T> {
    fn default() -> Self {
        IfObject(None)
    }
}

/// A token count: any number, clamped as described above; anything else is `None`.
struct Count(Option<i64>);

impl<'de> Deserialize<'de> for UsageCounts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(CountsVisitor)
    }
}

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DetailsVisitor)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for IfObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IfObjectVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CountVisitor)
    }
}

/// A `*_details` member's counts: all absent when it is not an object.
fn details(member: IfObject<Details>) -> Details {
    member.0.unwrap_or_default()
}

struct CountsVisitor;

impl<'de> Visitor<'de> for CountsVisitor {
    type Value = UsageCounts;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a usage object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UsageCounts, A::Error> {
        let mut c = UsageCounts::default();
        while let Some(key) = map.next_key::<Key>()? {
            let slot = match key {
                Key::PromptTokens => &mut c.prompt_tokens,
                Key::CompletionTokens => &mut c.completion_tokens,
                Key::TotalTokens => &mut c.total_tokens,
                Key::InputTokens => &mut c.input_tokens,
                Key::OutputTokens => &mut c.output_tokens,
                Key::CacheCreationInputTokens => &mut c.cache_creation_input_tokens,
                Key::CacheReadInputTokens => &mut c.cache_read_input_tokens,
                Key::PromptTokenCount => &mut c.prompt_token_count,
                Key::CandidatesTokenCount => &mut c.candidates_token_count,
                Key::CachedContentTokenCount => &mut c.cached_content_token_count,
                Key::ThoughtsTokenCount => &mut c.thoughts_token_count,
                Key::ToolUsePromptTokenCount => &mut c.tool_use_prompt_token_count,
                Key::PromptTokensDetails => {
                    c.prompt_tokens_details = details(map.next_value()?);
                    continue;
                }
                Key::CompletionTokensDetails => {
                    c.completion_tokens_details = details(map.next_value()?);
                    continue;
                }
                Key::InputTokensDetails => {
                    c.input_tokens_details = details(map.next_value()?);
                    continue;
                }
                Key::OutputTokensDetails => {
                    c.output_tokens_details = details(map.next_value()?);
                    continue;
                }
                Key::CacheCreation => {
                    c.cache_creation = details(map.next_value()?);
                    continue;
                }
                Key::CachedTokens
                | Key::ReasoningTokens
                | Key::Ephemeral1hInputTokens
                | Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value::<Count>()?.0;
        }
        Ok(c)
    }
}

struct DetailsVisitor;

impl<'de> Visitor<'de> for DetailsVisitor {
    type Value = Details;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a usage details object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Details, A::Error> {
        let mut d = Details::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::CachedTokens => d.cached_tokens = map.next_value::<Count>()?.0,
                Key::ReasoningTokens => d.reasoning_tokens = map.next_value::<Count>()?.0,
                Key::Ephemeral1hInputTokens => {
                    d.ephemeral_1h_input_tokens = map.next_value::<Count>()?.0
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(d)
    }
}

struct IfObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for IfObjectVisitor<T> {
    type Value = IfObject<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<IfObject<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|t| IfObject(Some(t)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<IfObject<T>, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| IfObject(None))
    }

    fn visit_bool<E>(self, _: bool) -> Result<IfObject<T>, E> {
        Ok(IfObject(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<IfObject<T>, E> {
        Ok(IfObject(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<IfObject<T>, E> {
        Ok(IfObject(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<IfObject<T>, E> {
        Ok(IfObject(None))
    }

    fn visit_str<E>(self, _: &str) -> Result<IfObject<T>, E> {
        Ok(IfObject(None))
    }

    fn visit_unit<E>(self) -> Result<IfObject<T>, E> {
        Ok(IfObject(None))
    }

    fn visit_none<E>(self) -> Result<IfObject<T>, E> {
        Ok(IfObject(None))
    }
}

struct CountVisitor;

impl<'de> Visitor<'de> for CountVisitor {
    type Value = Count;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_i64<E>(self, v: i64) -> Result<Count, E> {
        Ok(Count(Some(v.max(0))))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Count, E> {
        Ok(Count(Some(i64::try_from(v).unwrap_or(i64::MAX))))
    }

    /// `as` saturates, and JSON has no NaN: a fraction truncates, a huge value is `i64::MAX`.
    fn visit_f64<E>(self, v: f64) -> Result<Count, E> {
        Ok(Count(Some((v as i64).max(0))))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Count, A::Error> {
        IgnoredAny.visit_map(map).map(|_| Count(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Count, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| Count(None))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Count, E> {
        Ok(Count(None))
    }

    fn visit_str<E>(self, _: &str) -> Result<Count, E> {
        Ok(Count(None))
    }

    fn visit_unit<E>(self) -> Result<Count, E> {
        Ok(Count(None))
    }

    fn visit_none<E>(self) -> Result<Count, E> {
        Ok(Count(None))
    }
}

/// The member names any usage or details object may hold that the gateway reads.
enum Key {
    PromptTokens,
    CompletionTokens,
    TotalTokens,
    InputTokens,
    OutputTokens,
    CacheCreationInputTokens,
    CacheReadInputTokens,
    PromptTokenCount,
    CandidatesTokenCount,
    CachedContentTokenCount,
    ThoughtsTokenCount,
    ToolUsePromptTokenCount,
    PromptTokensDetails,
    CompletionTokensDetails,
    InputTokensDetails,
    OutputTokensDetails,
    CacheCreation,
    CachedTokens,
    ReasoningTokens,
    Ephemeral1hInputTokens,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    /// serde_json hands keys over unescaped, borrowed where it can, so no key is allocated.
    fn visit_str<E>(self, name: &str) -> Result<Key, E> {
        Ok(match name {
            "prompt_tokens" => Key::PromptTokens,
            "completion_tokens" => Key::CompletionTokens,
            "total_tokens" => Key::TotalTokens,
            "input_tokens" => Key::InputTokens,
            "output_tokens" => Key::OutputTokens,
            "cache_creation_input_tokens" => Key::CacheCreationInputTokens,
            "cache_read_input_tokens" => Key::CacheReadInputTokens,
            "promptTokenCount" => Key::PromptTokenCount,
            "candidatesTokenCount" => Key::CandidatesTokenCount,
            "cachedContentTokenCount" => Key::CachedContentTokenCount,
            "thoughtsTokenCount" => Key::ThoughtsTokenCount,
            "toolUsePromptTokenCount" => Key::ToolUsePromptTokenCount,
            "totalTokenCount" => Key::TotalTokens,
            "prompt_tokens_details" => Key::PromptTokensDetails,
            "completion_tokens_details" => Key::CompletionTokensDetails,
            "input_tokens_details" => Key::InputTokensDetails,
            "output_tokens_details" => Key::OutputTokensDetails,
            "cache_creation" => Key::CacheCreation,
            "cached_tokens" => Key::CachedTokens,
            "reasoning_tokens" => Key::ReasoningTokens,
            "ephemeral_1h_input_tokens" => Key::Ephemeral1hInputTokens,
            _ => Key::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    fn counts(json: &str) -> Option<UsageCounts> {
        serde_json::from_str(json).ok()
    }

    /// What the `Value` tree this reader replaced gave for one count.
    fn tree_count(obj: &Map<String, Value>, key: &str) -> Option<i64> {
        let Some(Value::Number(n)) = obj.get(key) else {
            return None;
        };
        let value = n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .or_else(|| n.as_f64().map(|f| f as i64))?;
        Some(value.max(0))
    }

    fn tree_details(obj: &Map<String, Value>, key: &str) -> Details {
        match obj.get(key) {
            Some(Value::Object(d)) => Details {
                cached_tokens: tree_count(d, "cached_tokens"),
                reasoning_tokens: tree_count(d, "reasoning_tokens"),
                ephemeral_1h_input_tokens: tree_count(d, "ephemeral_1h_input_tokens"),
            },
            _ => Details::default(),
        }
    }

    fn tree(json: &str) -> Option<UsageCounts> {
        let obj: Map<String, Value> = serde_json::from_str(json).ok()?;
        Some(UsageCounts {
            prompt_tokens: tree_count(&obj, "prompt_tokens"),
            completion_tokens: tree_count(&obj, "completion_tokens"),
            total_tokens: tree_count(&obj, "total_tokens"),
            input_tokens: tree_count(&obj, "input_tokens"),
            output_tokens: tree_count(&obj, "output_tokens"),
            cache_creation_input_tokens: tree_count(&obj, "cache_creation_input_tokens"),
            cache_read_input_tokens: tree_count(&obj, "cache_read_input_tokens"),
            prompt_tokens_details: tree_details(&obj, "prompt_tokens_details"),
            completion_tokens_details: tree_details(&obj, "completion_tokens_details"),
            input_tokens_details: tree_details(&obj, "input_tokens_details"),
            output_tokens_details: tree_details(&obj, "output_tokens_details"),
            cache_creation: tree_details(&obj, "cache_creation"),
            prompt_token_count: tree_count(&obj, "promptTokenCount"),
            candidates_token_count: tree_count(&obj, "candidatesTokenCount"),
            cached_content_token_count: tree_count(&obj, "cachedContentTokenCount"),
            thoughts_token_count: tree_count(&obj, "thoughtsTokenCount"),
            tool_use_prompt_token_count: tree_count(&obj, "toolUsePromptTokenCount"),
        })
    }

    #[test]
    fn reads_every_format_s_counts() {
        let chat = r#"{"prompt_tokens":1033,"completion_tokens":12,"total_tokens":1045,
            "prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},
            "completion_tokens_details":{"reasoning_tokens":7,"audio_tokens":0}}"#;
        let c = counts(chat).unwrap();
        assert_eq!(
            (c.prompt_tokens, c.completion_tokens, c.total_tokens),
            (Some(1033), Some(12), Some(1045))
        );
        assert_eq!(c.prompt_tokens_details.cached_tokens, Some(1024));
        assert_eq!(c.completion_tokens_details.reasoning_tokens, Some(7));
        assert_eq!(c.input_tokens, None);

        let anthropic = r#"{"input_tokens":3,"cache_creation_input_tokens":200,
            "cache_read_input_tokens":1000,"output_tokens":50,
            "cache_creation":{"ephemeral_5m_input_tokens":50,"ephemeral_1h_input_tokens":150},
            "server_tool_use":{"web_search_requests":1},"service_tier":"standard"}"#;
        let c = counts(anthropic).unwrap();
        assert_eq!(
            (
                c.input_tokens,
                c.cache_creation_input_tokens,
                c.cache_read_input_tokens,
                c.output_tokens
            ),
            (Some(3), Some(200), Some(1000), Some(50))
        );
        assert_eq!(c.cache_creation.ephemeral_1h_input_tokens, Some(150));

        let responses = r#"{"input_tokens":36,"input_tokens_details":{"cached_tokens":4},
            "output_tokens":87,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":123}"#;
        let c = counts(responses).unwrap();
        assert_eq!(c.input_tokens_details.cached_tokens, Some(4));
        assert_eq!(c.output_tokens_details.reasoning_tokens, Some(64));
        assert_eq!(c.total_tokens, Some(123));

        let gemini = r#"{"promptTokenCount":1200,"candidatesTokenCount":40,"totalTokenCount":1290,
            "cachedContentTokenCount":1024,"thoughtsTokenCount":50,"toolUsePromptTokenCount":0,
            "promptTokensDetails":[{"modality":"TEXT","tokenCount":1200}],"trafficType":"ON_DEMAND"}"#;
        let c = counts(gemini).unwrap();
        assert_eq!(
            (
                c.prompt_token_count,
                c.candidates_token_count,
                c.total_tokens,
                c.cached_content_token_count,
                c.thoughts_token_count,
                c.tool_use_prompt_token_count
            ),
            (
                Some(1200),
                Some(40),
                Some(1290),
                Some(1024),
                Some(50),
                Some(0)
            )
        );
    }

    #[test]
    fn agrees_with_a_value_tree_on_odd_and_repeated_members() {
        let cases = [
            r#"{}"#,
            r#"{"prompt_tokens":null,"completion_tokens":"7","total_tokens":true}"#,
            r#"{"prompt_tokens":-4,"completion_tokens":10.9,"total_tokens":-0.5}"#,
            r#"{"prompt_tokens":18446744073709551615,"completion_tokens":9223372036854775807}"#,
            r#"{"prompt_tokens":9223372036854775808,"completion_tokens":1e300,"total_tokens":-1e300}"#,
            r#"{"prompt_tokens":123456789012345678901234567890}"#,
            r#"{"prompt_tokens":[1,2],"completion_tokens":{"a":1},"total_tokens":[]}"#,
            r#"{"prompt_tokens":1,"prompt_tokens":2}"#,
            r#"{"prompt_tokens":1,"prompt_tokens":null}"#,
            r#"{"prompt_tokens_details":{"cached_tokens":5},"prompt_tokens_details":null}"#,
            r#"{"prompt_tokens_details":null,"prompt_tokens_details":{"cached_tokens":5}}"#,
            r#"{"prompt_tokens_details":{"cached_tokens":5,"cached_tokens":6}}"#,
            r#"{"prompt_tokens_details":7,"completion_tokens_details":"x","input_tokens_details":[{}]}"#,
            r#"{"output_tokens_details":{"reasoning_tokens":{"deep":[1,{"x":2}]},"cached_tokens":3}}"#,
            r#"{"cached_tokens":9,"reasoning_tokens":9,"nested":{"prompt_tokens":9}}"#,
            r#"{"cache_creation":{"ephemeral_1h_input_tokens":7,"ephemeral_5m_input_tokens":1}}"#,
            r#"{"cache_creation":null,"ephemeral_1h_input_tokens":4}"#,
            r#"{"cache_creation":{"ephemeral_1h_input_tokens":"7"},"cache_creation":[1]}"#,
            r#"{"prompt\u005ftokens":11,"input_tokens":1e2}"#,
            r#"{"prompt_tokens":1,"extra":{"a":[1,2,{"b":null}],"c":"\"}"}}"#,
            r#"{ "input_tokens" : 3 , "output_tokens" : 4 }"#,
            r#"{"promptTokenCount":"9","candidatesTokenCount":-2,"thoughtsTokenCount":1.5}"#,
            r#"{"cachedContentTokenCount":4,"cachedContentTokenCount":null,"toolUsePromptTokenCount":[1]}"#,
        ];
        for case in cases {
            let read = counts(case);
            assert!(read.is_some(), "{case}");
            assert_eq!(read, tree(case), "{case}");
        }
    }

    #[test]
    fn refuses_what_is_not_one_object() {
        for case in [
            "null",
            "5",
            r#""usage""#,
            "[]",
            r#"[{"prompt_tokens":1}]"#,
            r#"{"prompt_tokens":1"#,
            r#"{"prompt_tokens":1,}"#,
            r#"{"prompt_tokens":01}"#,
            r#"{"prompt_tokens":1} x"#,
            "",
        ] {
            assert_eq!(counts(case), None, "{case}");
            assert_eq!(tree(case), None, "{case}");
        }
    }

    #[test]
    fn if_object_skips_any_other_value_without_failing_its_document() {
        #[derive(Deserialize)]
        struct Holder {
            usage: Option<IfObject<UsageCounts>>,
            after: u8,
        }
        for (usage, expected) in [
            (json!(null), None),
            (json!(5), None),
            (json!(-5.5), None),
            (json!(true), None),
            (json!("usage"), None),
            (json!([{"prompt_tokens": 1}]), None),
            (
                json!({"prompt_tokens": 1}),
                Some(UsageCounts {
                    prompt_tokens: Some(1),
                    ..UsageCounts::default()
                }),
            ),
        ] {
            let doc = json!({"usage": usage, "after": 1}).to_string();
            let holder: Holder = serde_json::from_str(&doc).expect(&doc);
            assert_eq!(holder.usage.and_then(|u| u.0), expected, "{doc}");
            assert_eq!(holder.after, 1);
        }
    }
}
