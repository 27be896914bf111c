//! Finds one member of a JSON object without parsing the others.
//!
//! A non-streaming answer is mostly generated text, and the gateway reads only its `usage`. A
//! full parse checks every byte of that text for escapes and UTF-8; this walk jumps from quote to
//! quote with `memchr` and looks only at the object's structure, so the parse is left with the
//! few hundred bytes of the member itself.

/// The raw bytes of the value of `key` among the top-level members of the object in `json`.
///
/// `None` unless `json` is one object whose structure is complete: every string, object and
/// array closed, members separated by commas, nothing but whitespace after it. (A truncated
/// answer reports no usage rather than a partial one.) The members' values are not validated:
/// the caller parses the one it gets. A key is compared as written, so an escaped spelling of
/// `key` is not recognised. With the key given twice, the last one counts.
pub(crate) fn top_level_field<'a>(json: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut i = skip_whitespace(json, 0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_whitespace(json, i + 1);
    let mut found = None;
    if json.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if json.get(i) != Some(&b'"') {
                return None;
            }
            let name_end = string_end(json, i)?;
            let name = &json[i + 1..name_end - 1];
            i = skip_whitespace(json, name_end);
            if json.get(i) != Some(&b':') {
                return None;
            }
            let start = skip_whitespace(json, i + 1);
            let end = value_end(json, start)?;
            if name == key.as_bytes() {
                found = Some(&json[start..end]);
            }
            i = skip_whitespace(json, end);
            match json.get(i) {
                Some(b',') => i = skip_whitespace(json, i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    if skip_whitespace(json, i) != json.len() {
        return None;
    }
    found
}

fn skip_whitespace(json: &[u8], mut i: usize) -> usize {
    while matches!(json.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Just past the string whose opening quote is at `i`.
fn string_end(json: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', json.get(i..)?)?;
        if json[i] == b'"' {
            return Some(i + 1);
        }
        // A backslash: the byte after it is escaped, whatever it is.
        i += 2;
    }
}

/// Just past the value that starts at `i`.
fn value_end(json: &[u8], i: usize) -> Option<usize> {
    match *json.get(i)? {
        b'"' => string_end(json, i),
        b'{' | b'[' => {
            // Brackets must nest as they open, so `{"a":[}]` is not mistaken for complete. One
            // bit per open bracket, set for `[`: no allocation, and a value nested deeper than
            // 128 levels (no provider's answer is) gives `None`.
            let mut squares: u128 = 0;
            let mut depth = 0u32;
            let mut j = i;
            loop {
                match *json.get(j)? {
                    b'"' => {
                        j = string_end(json, j)?;
                        continue;
                    }
                    open @ (b'{' | b'[') => {
                        if depth == u128::BITS {
                            return None;
                        }
                        if open == b'[' {
                            squares |= 1 << depth;
                        } else {
                            squares &= !(1 << depth);
                        }
                        depth += 1;
                    }
                    close @ (b'}' | b']') => {
                        depth -= 1;
                        let square = squares >> depth & 1 == 1;
                        if square != (close == b']') {
                            return None;
                        }
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        // A number, `true`, `false` or `null`: up to the next delimiter.
        _ => {
            let len = json[i..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(json.len() - i);
            (len > 0).then_some(i + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::top_level_field;

    fn field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
        top_level_field(json.as_bytes(), key).map(|v| std::str::from_utf8(v).unwrap())
    }

    #[test]
    fn finds_a_top_level_member_of_any_kind() {
        let json = r#" { "id" : "x", "n": -1.5e3, "t":true, "z":null, "a":[1,[2],{"b":"]"}],
            "usage" : {"prompt_tokens": 3, "d": {"e": [4]}} , "last":"\"}" } "#;
        assert_eq!(
            field(json, "usage"),
            Some(r#"{"prompt_tokens": 3, "d": {"e": [4]}}"#)
        );
        assert_eq!(field(json, "id"), Some(r#""x""#));
        assert_eq!(field(json, "n"), Some("-1.5e3"));
        assert_eq!(field(json, "t"), Some("true"));
        assert_eq!(field(json, "z"), Some("null"));
        assert_eq!(field(json, "a"), Some(r#"[1,[2],{"b":"]"}]"#));
        assert_eq!(field(json, "last"), Some(r#""\"}""#));
        assert_eq!(field(json, "missing"), None);
        assert_eq!(field("{}", "usage"), None);
    }

    #[test]
    fn keys_inside_strings_and_nested_objects_are_not_top_level() {
        // Text that quotes the key (escaped, as JSON requires), and a nested member of that name.
        let json =
            r#"{"content":"say \"usage\": {1}","choices":[{"usage":{"x":1}}],"meta":{"usage":2}}"#;
        assert_eq!(field(json, "usage"), None);
        let json = r#"{"content":"\\","usage":{"y":2}}"#;
        assert_eq!(field(json, "usage"), Some(r#"{"y":2}"#));
    }

    #[test]
    fn nesting_up_to_128_levels_is_walked() {
        let nested = |levels: usize| {
            let mut json = String::from(r#"{"deep":"#);
            for l in 0..levels {
                json.push(if l % 2 == 0 { '[' } else { '{' });
                if l % 2 == 1 {
                    json.push_str(r#""k":"#);
                }
            }
            json.push('1');
            for l in (0..levels).rev() {
                json.push(if l % 2 == 0 { ']' } else { '}' });
            }
            json.push_str(r#","usage":{"t":1}}"#);
            json
        };
        assert_eq!(field(&nested(128), "usage"), Some(r#"{"t":1}"#));
        // The whole nested value, from its first bracket to its last.
        let json = nested(128);
        let deep = &json[r#"{"deep":"#.len()..json.len() - r#","usage":{"t":1}}"#.len()];
        assert_eq!(field(&json, "deep"), Some(deep));
        assert_eq!(field(&nested(129), "usage"), None);
    }

    #[test]
    fn the_last_of_repeated_keys_counts() {
        assert_eq!(
            field(r#"{"usage":1,"usage":{"k":2}}"#, "usage"),
            Some(r#"{"k":2}"#)
        );
    }

    #[test]
    fn incomplete_or_misshapen_documents_give_nothing() {
        let bodies = [
            "",
            "   ",
            "[1,2]",
            r#""usage""#,
            r#"{"usage":{"prompt_tokens":1"#,
            r#"{"usage":{"prompt_tokens":1}"#,
            r#"{"usage":{"a":"b}}"#,
            r#"{"usage":{"a":[}]}}"#,
            r#"{"usage":{"a":1}]"#,
            r#"{"usage":{"a":1}} trailing"#,
            r#"{"usage":{"a":1}}{}"#,
            r#"{"usage" {"a":1}}"#,
            r#"{"usage":{"a":1} "b":2}"#,
            r#"{"usage":}"#,
            r#"{usage:{"a":1}}"#,
            r#"{"usage":{"a":1},}"#,
            "{\"usage\":{\"a\":\"\\",
            "\u{feff}{\"usage\":{}}",
        ];
        for body in bodies {
            assert_eq!(field(body, "usage"), None, "{body:?}");
        }
    }
}
