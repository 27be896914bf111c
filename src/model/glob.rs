//! Model-name patterns: `*` matches any run of characters, compared ASCII case-insensitively.

/// Matches `name` against `pattern`, where `*` stands for any run of characters (possibly empty)
/// and everything else is literal, compared ASCII case-insensitively.
///
/// Runs in O(pattern × name) worst case: on a mismatch only the most recent `*` is retried, which
/// is enough because an earlier star can never need to absorb more than the later one already can.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    // Byte-wise is sound for UTF-8: `*` is ASCII, and a literal run of valid UTF-8 can only line up
    // with `name` on character boundaries.
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    let (mut pi, mut ni) = (0, 0);
    // (pattern index just after the last `*`, name index that star's match currently ends at)
    let mut backtrack: Option<(usize, usize)> = None;

    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            pi += 1;
            backtrack = Some((pi, ni));
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&n[ni]) {
            pi += 1;
            ni += 1;
        } else if let Some((star_pi, star_ni)) = backtrack {
            pi = star_pi;
            ni = star_ni + 1;
            backtrack = Some((star_pi, ni));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}
