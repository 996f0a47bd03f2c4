//! Sort-key bounds for range queries on a key prefix.
//!
//! A range query such as `range(name = "in_period", between = "AT#<at>")` over the sort key
//! `AT#<at>#<id>` is about the *prefix* of each key: the user gives values of `<at>`, and means
//! every item whose `<at>` lies in the range. DynamoDB compares whole sort keys by their UTF-8
//! bytes, so `AT#<hi>` itself is not the right upper bound: `AT#2026#x` sorts after `AT#2026`,
//! and `sk <= "AT#2026"` drops it.

/// The upper bound, for `<=` or `>`, of the sort keys that have `prefix`: `prefix`, the
/// separator, then U+10FFFF (whose UTF-8 bytes `F4 8F BF BF` sort after every other character's).
///
/// A key has the prefix `p` when it is `p` itself, or `p`, the separator and more; when `p`
/// already ends with the separator, `p` and more, and the bound is `p` then U+10FFFF. The
/// separator is what follows a complete prefix in a key: U+10FFFF alone would also take in the
/// keys of a longer value, `AT#abcd#x` for the prefix `AT#abc`.
///
/// With `p`, `lo` and `hi` rendered prefixes, a condition on the keys' prefix is this condition
/// on the sort key:
///
/// | prefix                | sort key                                       |
/// |-----------------------|------------------------------------------------|
/// | `< p`                 | `< p`                                          |
/// | `>= p`                | `>= p`                                         |
/// | `<= p`                | `<= prefix_upper_bound(p)`                     |
/// | `> p`                 | `> prefix_upper_bound(p)`                      |
/// | between `lo` and `hi` | `BETWEEN lo AND prefix_upper_bound(hi)`, see [`prefix_between`] |
///
/// # When the bounds are exact
///
/// Prefixes are compared as text, byte by byte, as DynamoDB does (for `AT#<at>`, that compares
/// the values of `<at>`). The conditions above select exactly the keys whose prefix meets the
/// condition when:
///
/// - The sort key goes on after the prefix with the separator: the range template ends where a
///   part of the sort key template ends. (`AT#<at>` over `AT#<at>X#<id>` does not; write
///   `AT#<at>X`.)
/// - No prefix is the start of another that goes on with a character sorting before the
///   separator. Otherwise DynamoDB's order interleaves the two: with `#`, `AT#a!` sorts between
///   `AT#a` and `AT#a#x`, and no single sort-key condition takes both keys of `AT#a` without
///   `AT#a!`. This holds when the last placeholder's values all have one width (timestamps as
///   keys write them, UUIDs, zero-padded numbers), when the prefix ends with a literal part or
///   with the separator, or when values hold no character below the separator: with `#`, only
///   space, `!` and `"` are (control characters are never values). A separator that sorts after
///   digits or letters, such as `:` or `|`, loses this for values of different lengths: `AT|ab`
///   sorts between `AT|a` and `AT|a|x`.
/// - No key goes on after the prefix and separator with U+10FFFF followed by more text, which
///   would sort after the bound. U+10FFFF is a Unicode noncharacter, which text does not hold.
pub fn prefix_upper_bound(prefix: &str, separator: char) -> String {
    let mut upper = String::with_capacity(prefix.len() + 2 * char::MAX.len_utf8());
    upper.push_str(prefix);
    if !prefix.ends_with(separator) {
        upper.push(separator);
    }
    upper.push(char::MAX);
    upper
}

/// The `(lower, upper)` texts of a DynamoDB `BETWEEN` that selects the sort keys whose prefix
/// lies between the prefixes `lo` and `hi`, both included: `lo` itself, and
/// [`prefix_upper_bound`]`(hi)`, exact under the conditions given there.
///
/// When `lo` sorts after `hi` no key matches, and DynamoDB refuses the `BETWEEN`: check first to
/// answer with no items instead.
pub fn prefix_between(lo: &str, hi: &str, separator: char) -> (String, String) {
    (lo.to_owned(), prefix_upper_bound(hi, separator))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn between(lo: &str, hi: &str, key: &str) -> bool {
        let (lower, upper) = prefix_between(lo, hi, '#');
        (lower.as_str()..=upper.as_str()).contains(&key)
    }

    #[test]
    fn the_upper_value_keeps_its_items() {
        assert!(between("AT#abc", "AT#abc", "AT#abc"));
        assert!(between("AT#abc", "AT#abc", "AT#abc#x"));
        assert!(between("AT#abc", "AT#abc", "AT#abc#\u{10FFFF}"));
        assert!(between("AT#a", "AT#abc", "AT#abc#x"));
        assert!(between("AT#a", "AT#abc", "AT#ab#x"));
    }

    #[test]
    fn a_longer_value_is_not_the_upper_value() {
        assert!(!between("AT#a", "AT#abc", "AT#abcd"));
        assert!(!between("AT#a", "AT#abc", "AT#abcd#x"));
        assert!(!between("AT#b", "AT#c", "AT#a#x"));
        assert!(!between("AT#b", "AT#c", "AT#d"));
    }

    #[test]
    fn le_and_gt_split_at_the_upper_bound() {
        let upper = prefix_upper_bound("AT#abc", '#');
        assert_eq!(upper, "AT#abc#\u{10FFFF}");
        for key in ["AT#ab", "AT#ab#z", "AT#abc", "AT#abc#z"] {
            assert!(key <= upper.as_str(), "{key} has a prefix <= AT#abc");
        }
        for key in ["AT#abd", "AT#abca", "AT#abcd#a", "AT#b#a"] {
            assert!(key > upper.as_str(), "{key} has a prefix > AT#abc");
        }
    }

    #[test]
    fn the_tables_separator_closes_the_prefix() {
        assert_eq!(prefix_upper_bound("AT-2026", '-'), "AT-2026-\u{10FFFF}");
        assert_eq!(prefix_upper_bound("ÀT§é", '§'), "ÀT§é§\u{10FFFF}");
        let upper = prefix_upper_bound("AT-2026", '-');
        assert!("AT-2026-x" <= upper.as_str());
        assert!("AT-20261-x" > upper.as_str());
    }

    #[test]
    fn a_prefix_ending_with_the_separator_gets_no_second_one() {
        let upper = prefix_upper_bound("AT#abc#", '#');
        assert_eq!(upper, "AT#abc#\u{10FFFF}");
        assert!("AT#abc#zz" <= upper.as_str());
        assert!("AT#abc#\u{10FFFE}" <= upper.as_str());
    }

    #[test]
    fn characters_below_the_separator_interleave() {
        // The documented limit: `|` sorts after letters, so `AT|ab` lies between `AT|a`'s keys.
        let upper = prefix_upper_bound("AT|a", '|');
        assert!("AT|a" < "AT|ab" && "AT|ab" < "AT|a|x");
        assert!("AT|ab" <= upper.as_str());
    }
}
