//! The cost of fixed usage documents from each provider, to the nano-dollar, against figures
//! computed by hand in the comments (rates in USD per million tokens; a rate of $1/M is one
//! pico-dollar per token, 1,000 pico-dollars are one nano-dollar). The parsing of the same
//! documents is tested in `server::proxy::usage`, which also prices them streamed and not.
use super::*;

const M: i64 = MICROS_PER_USD;

/// gpt-4o: $2.50 input, $1.25 cached input, $10.00 output.
const GPT_4O: Price = Price {
    input: 2_500_000,
    output: 10_000_000,
    cached_input: Some(1_250_000),
    cache_write_5m: None,
    cache_write_1h: None,
};

/// claude-sonnet-4-5: $3 input, $15 output, $0.30 cache read, $3.75 5-minute write, $6 1-hour
/// write.
const SONNET: Price = Price {
    input: 3 * M,
    output: 15 * M,
    cached_input: Some(300_000),
    cache_write_5m: Some(3_750_000),
    cache_write_1h: Some(6 * M),
};

/// Anthropic's `{"input_tokens":2095,"cache_creation_input_tokens":1500,
/// "cache_read_input_tokens":1800,"cache_creation":{"ephemeral_5m_input_tokens":500,
/// "ephemeral_1h_input_tokens":1000},"output_tokens":503}`, normalised: the prompt is all input.
const ANTHROPIC_USAGE: Usage = Usage {
    prompt_tokens: 2095 + 1500 + 1800,
    completion_tokens: 503,
    total_tokens: 2095 + 1500 + 1800 + 503,
    cached_tokens: 1800,
    reasoning_tokens: 0,
    cache_creation_tokens: 1500,
    cache_read_tokens: 1800,
    cache_creation_1h_tokens: 1000,
};

#[test]
fn openai_chat_prices_cached_input_at_its_rate_and_reasoning_as_output() {
    // `{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,
    //   "prompt_tokens_details":{"cached_tokens":1024},
    //   "completion_tokens_details":{"reasoning_tokens":32}}`: prompt_tokens include the cached
    // ones, completion_tokens the reasoning.
    let usage = Usage {
        prompt_tokens: 1117,
        completion_tokens: 46,
        total_tokens: 1163,
        cached_tokens: 1024,
        reasoning_tokens: 32,
        ..Usage::default()
    };
    //   uncached   93 x $2.50/M = $0.0002325
    //   cached   1024 x $1.25/M = $0.00128
    //   output     46 x $10/M   = $0.00046
    //   total                    $0.0019725 = 1,972,500 nano-USD
    assert_eq!(cost_nanos(&GPT_4O, &usage, MULTIPLIER_ONE_PPM), 1_972_500);
}

#[test]
fn openai_responses_prices_like_chat() {
    // o4-mini: $1.10 input, $0.275 cached, $4.40 output.
    let o4_mini = Price {
        input: 1_100_000,
        output: 4_400_000,
        cached_input: Some(275_000),
        ..Price::default()
    };
    // `{"input_tokens":328,"input_tokens_details":{"cached_tokens":256},"output_tokens":52,
    //   "output_tokens_details":{"reasoning_tokens":24},"total_tokens":380}`
    let usage = Usage {
        prompt_tokens: 328,
        completion_tokens: 52,
        total_tokens: 380,
        cached_tokens: 256,
        reasoning_tokens: 24,
        ..Usage::default()
    };
    //   uncached  72 x $1.10/M  = $0.0000792
    //   cached   256 x $0.275/M = $0.0000704
    //   output    52 x $4.40/M  = $0.0002288
    //   total                    $0.0003784 = 378,400 nano-USD
    assert_eq!(cost_nanos(&o4_mini, &usage, MULTIPLIER_ONE_PPM), 378_400);
}

#[test]
fn anthropic_prices_reads_and_both_kinds_of_writes_apart() {
    //   input      2095 x $3/M    = $0.006285
    //   cache read 1800 x $0.30/M = $0.00054
    //   5m write    500 x $3.75/M = $0.001875
    //   1h write   1000 x $6/M    = $0.006
    //   output      503 x $15/M   = $0.007545
    //   total                      $0.022245 = 22,245,000 nano-USD
    assert_eq!(
        cost_nanos(&SONNET, &ANTHROPIC_USAGE, MULTIPLIER_ONE_PPM),
        22_245_000
    );
    // Without the 1-hour detail every write is a 5-minute one: 1500 x $3.75/M = $0.005625
    // instead of $0.007875, so $0.019995 in all.
    let all_5m = Usage {
        cache_creation_1h_tokens: 0,
        ..ANTHROPIC_USAGE
    };
    assert_eq!(cost_nanos(&SONNET, &all_5m, MULTIPLIER_ONE_PPM), 19_995_000);
}

#[test]
fn gemini_thoughts_are_output() {
    // A Gemini `usageMetadata` maps to `Usage` as prompt = promptTokenCount,
    // cached = cachedContentTokenCount, completion = candidatesTokenCount + thoughtsTokenCount:
    // `{"promptTokenCount":1200,"cachedContentTokenCount":800,"candidatesTokenCount":150,
    //   "thoughtsTokenCount":350,"totalTokenCount":1700}`
    let usage = Usage {
        prompt_tokens: 1200,
        completion_tokens: 150 + 350,
        total_tokens: 1700,
        cached_tokens: 800,
        reasoning_tokens: 350,
        ..Usage::default()
    };
    // gemini-2.5-pro: $1.25 input, $0.125 cached, $10 output.
    let pro = Price {
        input: 1_250_000,
        output: 10 * M,
        cached_input: Some(125_000),
        ..Price::default()
    };
    //   uncached 400 x $1.25/M  = $0.0005
    //   cached   800 x $0.125/M = $0.0001
    //   output   500 x $10/M    = $0.005
    //   total                    $0.0056 = 5,600,000 nano-USD
    assert_eq!(cost_nanos(&pro, &usage, MULTIPLIER_ONE_PPM), 5_600_000);
}

#[test]
fn the_multiplier_applies_before_the_one_rounding() {
    // $0.022245 x 0.85 = $0.01890825; x 1.5 = $0.0333675; x 0 = 0.
    assert_eq!(cost_nanos(&SONNET, &ANTHROPIC_USAGE, 850_000), 18_908_250);
    assert_eq!(cost_nanos(&SONNET, &ANTHROPIC_USAGE, 1_500_000), 33_367_500);
    assert_eq!(cost_nanos(&SONNET, &ANTHROPIC_USAGE, 0), 0);
}

#[test]
fn rounding_is_half_up_once_per_request() {
    // $0.000001 per million tokens is one pico-dollar per token.
    let pico = Price {
        input: 1,
        output: 1,
        ..Price::default()
    };
    let usage = |prompt, completion| Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        ..Usage::default()
    };
    assert_eq!(cost_nanos(&pico, &usage(499, 0), MULTIPLIER_ONE_PPM), 0);
    assert_eq!(cost_nanos(&pico, &usage(500, 0), MULTIPLIER_ONE_PPM), 1);
    assert_eq!(cost_nanos(&pico, &usage(1_499, 0), MULTIPLIER_ONE_PPM), 1);
    assert_eq!(cost_nanos(&pico, &usage(1_500, 0), MULTIPLIER_ONE_PPM), 2);
    // 500 + 500 pico-dollars are one nano-dollar; rounding each part would make two.
    assert_eq!(cost_nanos(&pico, &usage(500, 500), MULTIPLIER_ONE_PPM), 1);
    // 1,000 pico x 0.5005 = 500.5 pico, up to 1 nano; x 0.4995 = 499.5 pico, down to 0.
    assert_eq!(cost_nanos(&pico, &usage(1_000, 0), 500_500), 1);
    assert_eq!(cost_nanos(&pico, &usage(1_000, 0), 499_500), 0);
}

#[test]
fn absent_rates_fall_back_and_odd_counts_stay_sane() {
    let plain = Price {
        input: 3 * M,
        output: 15 * M,
        ..Price::default()
    };
    assert_eq!(plain.cached_input_rate(), 3 * M);
    assert_eq!(plain.cache_write_5m_rate(), 3 * M);
    assert_eq!(plain.cache_write_1h_rate(), 3 * M);
    let five = Price {
        cache_write_5m: Some(3_750_000),
        ..plain
    };
    assert_eq!(five.cache_write_1h_rate(), 3_750_000);
    // Every input token at $3/M when nothing else is given: 5395 x 3 + 503 x 15 = 23,730.
    assert_eq!(
        cost_nanos(&plain, &ANTHROPIC_USAGE, MULTIPLIER_ONE_PPM),
        23_730_000
    );

    // More cached than prompt tokens (a confused upstream) bills no negative input.
    let odd = Usage {
        prompt_tokens: 10,
        cached_tokens: 20,
        cache_creation_1h_tokens: 5,
        ..Usage::default()
    };
    // 20 cached x $1.25/M = $0.000025; the 1-hour writes cannot exceed the writes (none).
    assert_eq!(cost_nanos(&GPT_4O, &odd, MULTIPLIER_ONE_PPM), 25_000);
    let huge = Usage {
        prompt_tokens: i64::MAX,
        completion_tokens: i64::MAX,
        ..Usage::default()
    };
    assert_eq!(cost_nanos(&GPT_4O, &huge, i64::MAX), i64::MAX);
    assert_eq!(
        cost_nanos(&GPT_4O, &Usage::default(), MULTIPLIER_ONE_PPM),
        0
    );
}

fn table() -> PriceTable {
    let p = |usd: i64| Price {
        input: usd * M,
        output: usd * M,
        ..Price::default()
    };
    PriceTable::new([
        ("*".to_string(), p(1)),
        ("claude-*".to_string(), p(3)),
        ("claude-opus-*".to_string(), p(15)),
        ("Claude-Opus-4-1".to_string(), p(20)),
        ("gpt-4o*".to_string(), p(5)),
        ("gpt-*-mini".to_string(), p(6)),
        ("gpt-4o".to_string(), p(2)),
        ("gpt-4o".to_string(), p(7)),
    ])
}

#[test]
fn exact_names_win_then_the_most_specific_pattern() {
    let t = table();
    let found = |model: &str| {
        t.find(model)
            .map(|(pattern, price)| (pattern, price.input / M))
    };
    assert_eq!(found("claude-opus-4-1"), Some(("claude-opus-4-1", 20)));
    assert_eq!(found("claude-opus-4-5"), Some(("claude-opus-*", 15)));
    assert_eq!(found("claude-haiku-4-5"), Some(("claude-*", 3)));
    // "gpt--mini" holds more literal characters than "gpt-4o".
    assert_eq!(found("gpt-4o-mini"), Some(("gpt-*-mini", 6)));
    assert_eq!(found("gpt-4o-2024-08-06"), Some(("gpt-4o*", 5)));
    // A later entry for the same pattern replaces the earlier one.
    assert_eq!(found("gpt-4o"), Some(("gpt-4o", 7)));
    assert_eq!(found("llama-3"), Some(("*", 1)));
    assert_eq!(t.len(), 7);
}

#[test]
fn names_match_case_insensitively_and_without_a_provider_prefix() {
    let t = table();
    assert_eq!(t.lookup("GPT-4O").map(|p| p.input), Some(7 * M));
    // The provider's exact name wins over a catch-all, and its patterns over a broader one.
    assert_eq!(t.find("openai/gpt-4o").map(|f| f.0), Some("gpt-4o"));
    assert_eq!(
        t.find("anthropic/Claude-Opus-4-1").map(|f| f.0),
        Some("claude-opus-4-1")
    );
    assert_eq!(
        t.find("anthropic/claude-opus-4-5").map(|f| f.0),
        Some("claude-opus-*")
    );
    assert_eq!(t.find("meta/llama-3").map(|f| f.0), Some("*"));
    // Without a catch-all, a model no pattern names has no price: never a silent zero.
    let t = PriceTable::new([("gpt-4o".to_string(), GPT_4O)]);
    assert_eq!(t.lookup("gpt-4o"), Some(&GPT_4O));
    assert_eq!(t.find("models/gpt-4o").map(|f| f.0), Some("gpt-4o"));
    assert_eq!(t.lookup("gpt-4o-mini"), None);
    assert_eq!(t.lookup("mystery-model"), None);
    assert_eq!(t.lookup("openai/"), None);
    assert_eq!(t.lookup(""), None);
    assert!(PriceTable::default().is_empty());
    // An explicit price for the prefixed name wins over the provider's.
    let t = PriceTable::new([
        ("gpt-4o".to_string(), GPT_4O),
        ("openrouter/gpt-4o".to_string(), SONNET),
    ]);
    assert_eq!(t.lookup("openrouter/gpt-4o"), Some(&SONNET));
}

#[test]
fn rates_cross_the_wire_in_usd_per_million_exactly() {
    assert_eq!(usd_to_micros(2.5), Ok(2_500_000));
    assert_eq!(usd_to_micros(0.000001), Ok(1));
    assert_eq!(usd_to_micros(1.875), Ok(1_875_000));
    assert_eq!(usd_to_micros(0.1 + 0.2), Ok(300_000));
    assert_eq!(usd_to_micros(0.0), Ok(0));
    assert_eq!(usd_to_micros(10_000.0), Ok(10_000 * M));
    assert_eq!(usd_to_micros(9_999.999999), Ok(9_999_999_999));
    assert_eq!(usd_to_micros(0.0000001), Err(RateError::TooPrecise));
    assert_eq!(usd_to_micros(2.5000005), Err(RateError::TooPrecise));
    for bad in [-0.5, 10_000.000001, f64::NAN, f64::INFINITY] {
        assert_eq!(usd_to_micros(bad), Err(RateError::OutOfRange), "{bad}");
    }
    let rates = SONNET.to_rates();
    assert_eq!(rates.input, 3.0);
    assert_eq!(rates.cached_input, Some(0.3));
    assert_eq!(rates.cache_write_5m, Some(3.75));
    assert_eq!(Price::from_rates(&rates), Ok(SONNET));
    let bad = PriceRates {
        cache_write_1h: Some(-1.0),
        ..rates
    };
    assert_eq!(
        Price::from_rates(&bad),
        Err(("cache_write_1h", RateError::OutOfRange))
    );
}

#[test]
fn patterns_are_stored_trimmed_and_in_lower_case() {
    assert_eq!(normalize_pattern(" GPT-4o "), Ok("gpt-4o".to_string()));
    assert_eq!(
        normalize_pattern("openai/gpt-4o*"),
        Ok("openai/gpt-4o*".to_string())
    );
    assert_eq!(normalize_pattern("*"), Ok("*".to_string()));
    assert_eq!(
        normalize_pattern("accounts/x/models/llama-v3p1@8b:free+1"),
        Ok("accounts/x/models/llama-v3p1@8b:free+1".to_string())
    );
    assert_eq!(normalize_pattern("  "), Err(PatternError::Empty));
    assert_eq!(
        normalize_pattern(&"a".repeat(201)),
        Err(PatternError::TooLong)
    );
    for bad in ["gpt 4o", "gpt-4o?", "модель", "a\nb", "a%2fb"] {
        assert_eq!(
            normalize_pattern(bad),
            Err(PatternError::Characters),
            "{bad}"
        );
    }
}
