//! Shell-style name patterns for `mput` and `mget`: `*` (any run of
//! characters), `?` (one character), `[abc]`, `[a-z]`, `[!a-z]` (one
//! character of a set, or not of it). A `[` without its `]` is literal.
//!
//! Matching is iterative (one backtrack point for the last `*`), so no
//! pattern can make it recurse or take exponential time.

/// Whether `text` holds any pattern character.
pub fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Whether `name` matches `pattern` as a whole.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some(_) => {
                if let Some(next) = one(&p, pi, n[ni]) {
                    pi = next;
                    ni += 1;
                    continue;
                }
            }
            None => {}
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether pattern item at `pi` (not `*`) takes `c`: the index after it.
fn one(p: &[char], pi: usize, c: char) -> Option<usize> {
    match p[pi] {
        '?' => Some(pi + 1),
        '[' => match class(p, pi, c) {
            Some((true, end)) => Some(end),
            Some((false, _)) => None,
            None => (c == '[').then_some(pi + 1),
        },
        lit => (lit == c).then_some(pi + 1),
    }
}

/// A `[...]` class at `pi`: whether it takes `c`, and the index after it;
/// `None` when the `]` is missing.
fn class(p: &[char], pi: usize, c: char) -> Option<(bool, usize)> {
    let mut i = pi + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|hi| *hi != ']') {
            hit |= lo <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_table() {
        let table = [
            ("*.txt", "a.txt", true),
            ("*.txt", "a.txt.bak", false),
            ("*", "", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("?.md", "x.md", true),
            ("?.md", "xy.md", false),
            ("[ab]1", "b1", true),
            ("[ab]1", "c1", false),
            ("[a-c]*", "cat", true),
            ("[!a-c]*", "cat", false),
            ("[!a-c]*", "dog", true),
            ("[]]", "]", true),
            ("[x", "[x", true),
            ("é?", "éü", true),
            ("**a", "bba", true),
        ];
        for (p, n, want) in table {
            assert_eq!(matches(p, n), want, "{p} vs {n}");
        }
        assert!(is_glob("a*") && !is_glob("plain name"));
    }
}
