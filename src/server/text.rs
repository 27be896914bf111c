//! Bounding text a caller controls before it is stored or echoed.

/// At most `max` bytes of `s`, cut at a character boundary; `true` when something was cut.
pub(crate) fn cut(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// Like `cut`, owned, with `…` marking a cut.
pub(crate) fn cut_owned(s: &str, max: usize) -> String {
    match cut(s, max) {
        (whole, false) => whole.to_string(),
        (part, true) => format!("{part}…"),
    }
}

/// An error with its whole cause chain, for the log: the useful part (a refused address, a reset
/// connection) sits several sources deep. hyper's errors carry no URL.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    causes(e)
        .map(|cause| cause.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

/// The error, then its source, then that one's, to the root cause.
pub(crate) fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |cause| cause.source())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_a_character_boundary() {
        assert_eq!(cut("abc", 3), ("abc", false));
        assert_eq!(cut("abcd", 3), ("abc", true));
        assert_eq!(cut("a醒b", 2), ("a", true));
        assert_eq!(cut_owned("a醒b", 4), "a醒…");
        assert_eq!(cut_owned("ok", 4), "ok");
    }
}
