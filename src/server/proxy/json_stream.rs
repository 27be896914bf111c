//! Google's streamed answer without `alt=sse`: one JSON array whose elements arrive over time
//! (`[{…}\n,\r\n{…}\n]`). The reader hands over each complete element as it ends, holding only
//! the element in progress, and only up to a bound: a larger one is skipped unread, so memory
//! stays bounded whatever the upstream sends. A lone object (an error answer) is one element.

/// A `GenerateContentResponse` chunk is a few kilobytes of text; one this large is not read.
const MAX_ELEMENT_BYTES: usize = 4 * 1024 * 1024;
/// What the buffer keeps between elements, so one big element does not pin its size.
const RETAINED_CAPACITY: usize = 64 * 1024;

#[derive(Debug, Default)]
pub(crate) struct ArrayElements {
    /// Nesting of `[` and `{` outside strings.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// The depth the element in progress opened at (0 for a lone object, 1 in the array).
    element_at: Option<usize>,
    held: Vec<u8>,
    oversized: bool,
}

impl ArrayElements {
    /// Reads the next chunk as received, handing each element that ends in it to `sink`.
    pub(crate) fn feed(&mut self, chunk: &[u8], sink: &mut impl FnMut(&[u8])) {
        let mut start = self.element_at.map(|_| 0);
        for (i, &b) in chunk.iter().enumerate() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    if b == b'{' && self.element_at.is_none() && self.depth <= 1 {
                        self.element_at = Some(self.depth);
                        start = Some(i);
                    }
                    self.depth += 1;
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if b == b'}' && self.element_at == Some(self.depth) {
                        let from = start.take().unwrap_or(0);
                        self.complete(&chunk[from..=i], sink);
                        self.element_at = None;
                    }
                }
                _ => {}
            }
        }
        if let Some(from) = start {
            self.hold(&chunk[from..]);
        }
    }

    /// Ends the element in progress: handed over from the chunk itself when it began there
    /// (the usual case), else from what was held.
    fn complete(&mut self, tail: &[u8], sink: &mut impl FnMut(&[u8])) {
        if self.oversized || self.held.len() + tail.len() > MAX_ELEMENT_BYTES {
            // Skipped unread.
        } else if self.held.is_empty() {
            sink(tail);
        } else {
            self.held.extend_from_slice(tail);
            sink(&self.held);
        }
        self.oversized = false;
        self.held.clear();
        self.held.shrink_to(RETAINED_CAPACITY);
    }

    fn hold(&mut self, partial: &[u8]) {
        if self.oversized {
            return;
        }
        if self.held.len() + partial.len() > MAX_ELEMENT_BYTES {
            self.oversized = true;
            self.held.clear();
            self.held.shrink_to(RETAINED_CAPACITY);
        } else {
            self.held.extend_from_slice(partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(parts: &[&[u8]]) -> Vec<String> {
        let mut reader = ArrayElements::default();
        let mut out = Vec::new();
        for part in parts {
            reader.feed(part, &mut |e| {
                out.push(String::from_utf8(e.to_vec()).unwrap())
            });
        }
        out
    }

    const STREAM: &str = "[{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"a } \\\" ] { [\"}]}}],\n\"usageMetadata\": {\"promptTokenCount\": 3}}\n,\r\n{\"candidates\": [], \"note\": \"w\u{f6}rld \\\\\"}\n]";

    #[test]
    fn every_element_at_every_split() {
        let whole = elements(&[STREAM.as_bytes()]);
        assert_eq!(whole.len(), 2, "{whole:?}");
        for element in &whole {
            serde_json::from_str::<serde_json::Value>(element).expect(element);
        }
        assert!(whole[0].ends_with("{\"promptTokenCount\": 3}}"));
        assert_eq!(
            whole[1],
            "{\"candidates\": [], \"note\": \"w\u{f6}rld \\\\\"}"
        );
        let bytes = STREAM.as_bytes();
        for a in 0..=bytes.len() {
            assert_eq!(elements(&[&bytes[..a], &bytes[a..]]), whole, "split at {a}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(elements(&singles), whole);
    }

    #[test]
    fn a_lone_object_is_one_element() {
        let error = r#"{"error": {"code": 400, "message": "bad {", "status": "INVALID_ARGUMENT"}}"#;
        assert_eq!(elements(&[error.as_bytes()]), [error]);
    }

    #[test]
    fn an_oversized_element_is_skipped_and_the_next_read() {
        let big = format!("[{{\"x\":\"{}\"}},", "a".repeat(MAX_ELEMENT_BYTES));
        let mut reader = ArrayElements::default();
        let mut seen = Vec::new();
        for part in big.as_bytes().chunks(64 * 1024) {
            reader.feed(part, &mut |e| seen.push(e.len()));
            assert!(reader.held.len() <= MAX_ELEMENT_BYTES);
        }
        reader.feed(b"{\"y\":1}]", &mut |e| seen.push(e.len()));
        assert_eq!(seen, [7]);
        assert!(reader.held.capacity() <= RETAINED_CAPACITY);
    }
}
