//! Which upstreams may serve a requested model, and which model name is sent to them.
use std::collections::{BTreeMap, HashMap, HashSet};

/// Most patterns one upstream may list; keeps per-request matching cheap.
pub(crate) const MAX_MODEL_PATTERNS: usize = 500;
/// Longest accepted pattern, in characters.
pub(crate) const MAX_MODEL_PATTERN_LEN: usize = 200;

pub(crate) use crate::model::glob::glob_match;
pub(crate) use crate::model::upstreams::Provider;

/// Patterns an upstream serves when its own list is empty.
///
/// `openai_compatible` has none: such upstreams host arbitrary models, so guessing would route
/// requests to servers that cannot answer them.
pub(crate) fn default_patterns(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Openai => &[
            "gpt-*",
            "o1*",
            "o3*",
            "o4*",
            "chatgpt-*",
            "text-embedding-*",
            "omni-*",
        ],
        Provider::Anthropic => &["claude-*"],
        Provider::Google => &["gemini-*"],
        Provider::OpenaiCompatible => &[],
    }
}

/// Whether an upstream of `provider` listing `allowed_models` may serve `model`.
///
/// An empty list means "the provider defaults", not "everything"; a non-empty list replaces the
/// defaults entirely.
pub(crate) fn serves(provider: Provider, allowed_models: &[String], model: &str) -> bool {
    if allowed_models.is_empty() {
        default_patterns(provider)
            .iter()
            .any(|pattern| glob_match(pattern, model))
    } else {
        allowed_models
            .iter()
            .any(|pattern| glob_match(pattern, model))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum RedirectError {
    #[error("model redirects form a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("model redirect has an empty name")]
    Empty,
    #[error("model redirect maps {0} to itself")]
    SelfLoop(String),
}

impl RedirectError {
    /// A stable code for the UI's message, and the value it names.
    pub(crate) fn reason(&self) -> (&'static str, Option<String>) {
        match self {
            RedirectError::Cycle(path) => ("redirect_cycle", Some(path.join(" → "))),
            RedirectError::Empty => ("required", None),
            RedirectError::SelfLoop(name) => ("redirect_self", Some(name.clone())),
        }
    }
}

/// Checks a requested -> sent redirect map before it is stored.
///
/// Reports the first problem in key order, so the same map always yields the same error. A cycle
/// is reported starting and ending at its smallest name, whichever key led into it.
pub(crate) fn validate_redirects(map: &BTreeMap<String, String>) -> Result<(), RedirectError> {
    for (from, to) in map {
        if from.trim().is_empty() || to.trim().is_empty() {
            return Err(RedirectError::Empty);
        }
        if from == to {
            return Err(RedirectError::SelfLoop(from.clone()));
        }
    }

    // Each name has at most one outgoing edge, so walking from every key and remembering which
    // names are already known to terminate finds every cycle in linear time.
    let mut terminates: HashSet<&str> = HashSet::new();
    for start in map.keys() {
        let mut path: Vec<&str> = Vec::new();
        let mut on_path: HashMap<&str, usize> = HashMap::new();
        let mut current = start.as_str();
        loop {
            if terminates.contains(current) {
                break;
            }
            if let Some(&index) = on_path.get(current) {
                return Err(RedirectError::Cycle(canonical_cycle(&path[index..])));
            }
            on_path.insert(current, path.len());
            path.push(current);
            match map.get(current) {
                Some(next) => current = next,
                None => break,
            }
        }
        terminates.extend(path);
    }
    Ok(())
}

/// Rotates a cycle to begin at its smallest name and closes it, e.g. `[b, c, a]` -> `[a, b, c, a]`.
fn canonical_cycle(cycle: &[&str]) -> Vec<String> {
    let start = cycle
        .iter()
        .enumerate()
        .min_by_key(|&(_, name)| *name)
        .map_or(0, |(index, _)| index);
    cycle[start..]
        .iter()
        .chain(&cycle[..start])
        .chain(cycle.get(start))
        .map(|name| (*name).to_owned())
        .collect()
}

/// The model name to send upstream for `model`, following chained redirects to their end.
///
/// Keys are exact, case-sensitive model names, never globs: a redirect is an explicit rename, and
/// pattern keys would make overlapping rules ambiguous. A name without a redirect resolves to
/// itself. Stored maps are validated, but a cyclic one still cannot hang a request: an acyclic
/// chain has at most `map.len()` hops, so resolution stops there.
pub(crate) fn resolve_redirect(map: &BTreeMap<String, String>, model: &str) -> String {
    let mut current = model;
    for _ in 0..map.len() {
        match map.get(current) {
            Some(next) => current = next,
            None => break,
        }
    }
    current.to_owned()
}

/// Decodes a stored JSON array of model patterns.
///
/// Missing, empty or malformed text (including arrays holding non-strings) decodes to an empty
/// list rather than failing the request; callers then fall back to the provider defaults.
pub(crate) fn parse_model_list(value: Option<&str>) -> Vec<String> {
    value
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// Decodes a stored JSON object of requested -> sent model names; anything unreadable is empty.
pub(crate) fn parse_redirects(value: Option<&str>) -> BTreeMap<String, String> {
    value
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// Checks a model pattern list before it is stored.
///
/// Messages quote the entry with `{:?}` so control characters cannot corrupt logs or responses,
/// and cut overlong entries short so a huge input does not become a huge error.
pub(crate) fn validate_model_patterns(list: &[String]) -> Result<(), String> {
    if list.len() > MAX_MODEL_PATTERNS {
        return Err(format!(
            "at most {MAX_MODEL_PATTERNS} model patterns are allowed, got {}",
            list.len()
        ));
    }
    for (index, entry) in list.iter().enumerate() {
        if entry.trim().is_empty() {
            return Err(format!("model pattern #{} {entry:?} is empty", index + 1));
        }
        if entry.chars().count() > MAX_MODEL_PATTERN_LEN {
            let head: String = entry.chars().take(40).collect();
            return Err(format!(
                "model pattern {head:?}... is longer than {MAX_MODEL_PATTERN_LEN} characters"
            ));
        }
        if entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "model pattern {entry:?} contains whitespace or control characters"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn redirects(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(from, to)| ((*from).to_owned(), (*to).to_owned()))
            .collect()
    }

    const ALL_PROVIDERS: [Provider; 4] = [
        Provider::Openai,
        Provider::Anthropic,
        Provider::Google,
        Provider::OpenaiCompatible,
    ];

    #[test]
    fn provider_strings_round_trip_through_from_str_and_serde() {
        for provider in ALL_PROVIDERS {
            assert_eq!(provider.as_str().parse::<Provider>(), Ok(provider));
            assert_eq!(provider.to_string(), provider.as_str());
            let json = serde_json::to_string(&provider).unwrap();
            assert_eq!(json, format!("\"{}\"", provider.as_str()));
            assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), provider);
        }
    }

    #[test]
    fn provider_from_str_rejects_other_spellings() {
        for bad in [
            "",
            "OpenAI",
            "openai-compatible",
            " openai",
            "azure",
            "OpenaiCompatible",
        ] {
            let err = bad.parse::<Provider>().unwrap_err();
            assert_eq!(err.value, bad);
            assert_eq!(err.names(), "openai, anthropic, google, openai_compatible");
        }
    }

    #[test]
    fn glob_match_table() {
        let cases: &[(&str, &str, bool)] = &[
            // prefix, suffix, infix
            ("gpt-4*", "gpt-4o-mini", true),
            ("gpt-4*", "gpt-4", true),
            ("gpt-4*", "gpt-3.5-turbo", false),
            ("*-mini", "o3-mini", true),
            ("*-mini", "o3-mini-high", false),
            ("claude-*-sonnet*", "claude-3-5-sonnet-20241022", true),
            ("claude-*-sonnet*", "claude-3-sonnet", true),
            ("claude-*-sonnet*", "claude-sonnet-4-5", false),
            ("*sonnet*", "claude-sonnet-4-5", true),
            // exact
            ("gpt-4o", "gpt-4o", true),
            ("gpt-4o", "gpt-4o-mini", false),
            ("gpt-4o-mini", "gpt-4o", false),
            // stars alone and repeated
            ("*", "anything-at-all", true),
            ("*", "", true),
            ("**", "x", true),
            ("a**b", "ab", true),
            ("***", "", true),
            // empty pattern only matches empty name
            ("", "", true),
            ("", "a", false),
            ("a", "", false),
            ("a*", "", false),
            // case-insensitive
            ("GPT-4*", "gpt-4o", true),
            ("gpt-4o", "GPT-4O", true),
            ("Claude-*", "CLAUDE-opus-4", true),
            // other glob metacharacters are literal
            ("gpt-?", "gpt-4", false),
            ("gpt-?", "gpt-?", true),
            ("gpt-[4]", "gpt-4", false),
            ("gpt-[4]", "gpt-[4]", true),
            ("a.b", "axb", false),
            // backtracking needs the last star to retry
            ("*a*b", "aaab", true),
            ("*a*b", "aaa", false),
            ("a*b*c", "abcabc", true),
            ("a*b*c", "abcab", false),
            ("*ab", "aab", true),
            ("*aab", "aaab", true),
            ("a*a", "a", false),
            // non-ASCII is literal and matched exactly
            ("modèle-*", "modèle-1", true),
            ("modèle-*", "MODèLE-1", true),
            ("modèle-*", "MODÈLE-1", false),
            ("*é", "café", true),
            ("caf*", "café", true),
        ];
        for &(pattern, name, expected) in cases {
            assert_eq!(
                glob_match(pattern, name),
                expected,
                "glob_match({pattern:?}, {name:?})"
            );
        }
    }

    #[test]
    fn glob_match_pathological_patterns_stay_polynomial() {
        // A naive recursive matcher explores exponentially many splits here and would not return.
        let many_a = "a".repeat(20_000);
        assert!(!glob_match("*a*a*a*a*b", &many_a));
        assert!(glob_match("*a*a*a*a*", &many_a));
        assert!(glob_match("*a*a*a*a*b", &format!("{many_a}b")));

        let long_pattern = format!("{}b", "a*".repeat(100));
        assert!(!glob_match(&long_pattern, &many_a));
        assert!(glob_match(&long_pattern, &format!("{many_a}b")));
    }

    #[test]
    fn default_patterns_per_provider() {
        assert_eq!(default_patterns(Provider::Anthropic), &["claude-*"]);
        assert_eq!(default_patterns(Provider::Google), &["gemini-*"]);
        assert_eq!(
            default_patterns(Provider::Openai),
            &[
                "gpt-*",
                "o1*",
                "o3*",
                "o4*",
                "chatgpt-*",
                "text-embedding-*",
                "omni-*"
            ]
        );
        assert!(default_patterns(Provider::OpenaiCompatible).is_empty());
    }

    #[test]
    fn serves_with_provider_defaults() {
        let cases: &[(Provider, &str, bool)] = &[
            (Provider::Openai, "gpt-4o", true),
            (Provider::Openai, "gpt-4o-mini", true),
            (Provider::Openai, "o1", true),
            (Provider::Openai, "o1-preview", true),
            (Provider::Openai, "o3-mini", true),
            (Provider::Openai, "o4-mini", true),
            (Provider::Openai, "chatgpt-4o-latest", true),
            (Provider::Openai, "text-embedding-3-small", true),
            (Provider::Openai, "omni-moderation-latest", true),
            (Provider::Openai, "claude-3-5-sonnet", false),
            (Provider::Openai, "gemini-2.0-flash", false),
            (Provider::Openai, "o2", false),
            (Provider::Anthropic, "claude-sonnet-4-5", true),
            (Provider::Anthropic, "claude-3-5-haiku-20241022", true),
            (Provider::Anthropic, "gpt-4o", false),
            (Provider::Google, "gemini-2.0-flash", true),
            (Provider::Google, "gemini-1.5-pro", true),
            (Provider::Google, "claude-sonnet-4-5", false),
            (Provider::OpenaiCompatible, "deepseek-chat", false),
            (Provider::OpenaiCompatible, "gpt-4o", false),
            (Provider::OpenaiCompatible, "", false),
        ];
        for &(provider, model, expected) in cases {
            assert_eq!(
                serves(provider, &[], model),
                expected,
                "serves({provider}, [], {model:?})"
            );
        }
    }

    #[test]
    fn serves_with_explicit_list_replaces_defaults() {
        let deepseek = strings(&["deepseek-*"]);
        assert!(serves(
            Provider::OpenaiCompatible,
            &deepseek,
            "deepseek-chat"
        ));
        assert!(serves(
            Provider::OpenaiCompatible,
            &deepseek,
            "DeepSeek-Reasoner"
        ));
        assert!(!serves(Provider::OpenaiCompatible, &deepseek, "gpt-4o"));

        // An explicit list narrows a first-party provider too.
        let only_mini = strings(&["gpt-4o-mini", "o3*"]);
        assert!(serves(Provider::Openai, &only_mini, "gpt-4o-mini"));
        assert!(serves(Provider::Openai, &only_mini, "o3-mini"));
        assert!(!serves(Provider::Openai, &only_mini, "gpt-4o"));

        let everything = strings(&["*"]);
        assert!(serves(Provider::Anthropic, &everything, "gpt-4o"));
    }

    #[test]
    fn resolve_redirect_follows_chains() {
        let map = redirects(&[("a", "b"), ("b", "c"), ("gpt-4", "gpt-4o")]);
        assert_eq!(resolve_redirect(&map, "a"), "c");
        assert_eq!(resolve_redirect(&map, "b"), "c");
        assert_eq!(resolve_redirect(&map, "c"), "c");
        assert_eq!(resolve_redirect(&map, "gpt-4"), "gpt-4o");
        assert_eq!(resolve_redirect(&map, "unmapped"), "unmapped");
        assert_eq!(resolve_redirect(&BTreeMap::new(), "gpt-4o"), "gpt-4o");
    }

    #[test]
    fn resolve_redirect_keys_are_exact_and_case_sensitive() {
        let map = redirects(&[("gpt-4", "gpt-4o"), ("claude-*", "claude-sonnet-4-5")]);
        assert_eq!(resolve_redirect(&map, "GPT-4"), "GPT-4");
        assert_eq!(resolve_redirect(&map, "gpt-4-turbo"), "gpt-4-turbo");
        assert_eq!(resolve_redirect(&map, "claude-3-opus"), "claude-3-opus");
        assert_eq!(resolve_redirect(&map, "claude-*"), "claude-sonnet-4-5");
    }

    #[test]
    fn resolve_redirect_longest_valid_chain_is_followed_fully() {
        let map = redirects(&[("m1", "m2"), ("m2", "m3"), ("m3", "m4"), ("m4", "m5")]);
        assert_eq!(resolve_redirect(&map, "m1"), "m5");
    }

    #[test]
    fn resolve_redirect_terminates_on_cycles() {
        let map = redirects(&[("a", "b"), ("b", "a")]);
        // Two hops from "a" land back on "a".
        assert_eq!(resolve_redirect(&map, "a"), "a");
        let self_loop = redirects(&[("x", "x")]);
        assert_eq!(resolve_redirect(&self_loop, "x"), "x");
        let tail_into_cycle = redirects(&[("t", "a"), ("a", "b"), ("b", "a")]);
        assert_eq!(resolve_redirect(&tail_into_cycle, "t"), "a");
    }

    #[test]
    fn validate_redirects_accepts_chains() {
        assert_eq!(validate_redirects(&BTreeMap::new()), Ok(()));
        let map = redirects(&[("a", "b"), ("b", "c"), ("x", "c"), ("gpt-4", "gpt-4o")]);
        assert_eq!(validate_redirects(&map), Ok(()));
    }

    #[test]
    fn validate_redirects_rejects_empty_names_and_self_loops() {
        let cases: &[(&[(&str, &str)], RedirectError)] = &[
            (&[("", "b")], RedirectError::Empty),
            (&[("a", "")], RedirectError::Empty),
            (&[("  ", "b")], RedirectError::Empty),
            (&[("a", "\t\n")], RedirectError::Empty),
            (&[("a", "a")], RedirectError::SelfLoop("a".to_owned())),
            // The first problem in key order wins.
            (
                &[("b", "b"), ("a", "a")],
                RedirectError::SelfLoop("a".to_owned()),
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                validate_redirects(&redirects(pairs)).as_ref(),
                Err(expected),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn validate_redirects_reports_cycles_from_their_smallest_name() {
        let cycle = |names: &[&str]| RedirectError::Cycle(strings(names));
        let cases: &[(&[(&str, &str)], RedirectError)] = &[
            (&[("a", "b"), ("b", "a")], cycle(&["a", "b", "a"])),
            (
                &[("a", "b"), ("b", "c"), ("c", "a")],
                cycle(&["a", "b", "c", "a"]),
            ),
            (
                &[("c", "a"), ("b", "c"), ("a", "b")],
                cycle(&["a", "b", "c", "a"]),
            ),
            // Reached through a tail whose key sorts first.
            (
                &[("0-tail", "y"), ("y", "z"), ("z", "x"), ("x", "y")],
                cycle(&["x", "y", "z", "x"]),
            ),
            // Alongside a valid chain.
            (
                &[("gpt-4", "gpt-4o"), ("m", "n"), ("n", "m")],
                cycle(&["m", "n", "m"]),
            ),
            // Two cycles: the one reached from the smallest key is reported.
            (
                &[("p", "q"), ("q", "p"), ("d", "e"), ("e", "d")],
                cycle(&["d", "e", "d"]),
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                validate_redirects(&redirects(pairs)).as_ref(),
                Err(expected),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn redirect_error_messages() {
        assert_eq!(
            RedirectError::Cycle(strings(&["a", "b", "c", "a"])).to_string(),
            "model redirects form a cycle: a -> b -> c -> a"
        );
        assert_eq!(
            RedirectError::Empty.to_string(),
            "model redirect has an empty name"
        );
        assert_eq!(
            RedirectError::SelfLoop("gpt-4".to_owned()).to_string(),
            "model redirect maps gpt-4 to itself"
        );
    }

    #[test]
    fn parse_model_list_decodes_arrays_and_tolerates_garbage() {
        assert_eq!(
            parse_model_list(Some(r#"["gpt-4*", "o3-mini"]"#)),
            strings(&["gpt-4*", "o3-mini"])
        );
        assert_eq!(parse_model_list(Some("[]")), Vec::<String>::new());
        for bad in [
            None,
            Some(""),
            Some("   "),
            Some("null"),
            Some("not json"),
            Some("[\"gpt-4o\""),
            Some("[1, 2]"),
            Some(r#"["ok", null]"#),
            Some(r#"{"a": "b"}"#),
            Some(r#""gpt-4o""#),
        ] {
            assert!(parse_model_list(bad).is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn parse_redirects_decodes_objects_and_tolerates_garbage() {
        assert_eq!(
            parse_redirects(Some(r#"{"gpt-4": "gpt-4o", "a": "b"}"#)),
            redirects(&[("gpt-4", "gpt-4o"), ("a", "b")])
        );
        assert!(parse_redirects(Some("{}")).is_empty());
        for bad in [
            None,
            Some(""),
            Some("null"),
            Some("{"),
            Some(r#"{"a": 1}"#),
            Some(r#"{"a": null}"#),
            Some(r#"["a", "b"]"#),
            Some("42"),
        ] {
            assert!(parse_redirects(bad).is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn validate_model_patterns_accepts_reasonable_lists() {
        assert_eq!(validate_model_patterns(&[]), Ok(()));
        assert_eq!(
            validate_model_patterns(&strings(&["gpt-4*", "*", "deepseek-chat", "modèle-*"])),
            Ok(())
        );
        let at_limit = vec!["é".repeat(MAX_MODEL_PATTERN_LEN)];
        assert_eq!(validate_model_patterns(&at_limit), Ok(()));
        let full = vec!["m".to_owned(); MAX_MODEL_PATTERNS];
        assert_eq!(validate_model_patterns(&full), Ok(()));
    }

    #[test]
    fn validate_model_patterns_names_the_bad_entry() {
        let cases: &[(&[&str], &str)] = &[
            (&["ok", ""], "model pattern #2 \"\" is empty"),
            (&["   "], "model pattern #1 \"   \" is empty"),
            (
                &["gpt 4o"],
                "model pattern \"gpt 4o\" contains whitespace or control characters",
            ),
            (
                &[" gpt-4o"],
                "model pattern \" gpt-4o\" contains whitespace or control characters",
            ),
            (
                &["gpt-4o\u{7}"],
                "model pattern \"gpt-4o\\u{7}\" contains whitespace or control characters",
            ),
            (
                &["a\u{a0}b"],
                "model pattern \"a\\u{a0}b\" contains whitespace or control characters",
            ),
        ];
        for (list, expected) in cases {
            assert_eq!(
                validate_model_patterns(&strings(list)),
                Err((*expected).to_owned()),
                "{list:?}"
            );
        }
    }

    #[test]
    fn validate_model_patterns_enforces_limits() {
        let too_long = vec![format!("x{}", "y".repeat(MAX_MODEL_PATTERN_LEN))];
        let err = validate_model_patterns(&too_long).unwrap_err();
        assert!(err.starts_with("model pattern \"xyyy"), "{err}");
        assert!(err.ends_with("is longer than 200 characters"), "{err}");
        assert!(err.len() < 120, "overlong entry echoed in full: {err}");

        let too_many = vec!["m".to_owned(); MAX_MODEL_PATTERNS + 1];
        assert_eq!(
            validate_model_patterns(&too_many),
            Err("at most 500 model patterns are allowed, got 501".to_owned())
        );
    }
}
