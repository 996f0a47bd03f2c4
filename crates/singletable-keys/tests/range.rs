//! Prefix range bounds against brute force: comparing whole keys byte-wise with the bounds selects
//! exactly the keys whose parsed prefix value meets the condition.

use proptest::prelude::*;
use singletable_keys::{prefix_between, prefix_upper_bound, Template};

/// A separator and value characters that all sort after it (the bounds' documented condition),
/// ASCII and not.
fn alphabet() -> impl Strategy<Value = (char, Vec<char>)> {
    prop::sample::select(vec![
        ('#', vec!['a', 'b', '~']),
        (':', vec!['a', 'é', '😀']),
        ('-', vec!['0', '9', 'z']),
        ('·', vec!['é', 'ü', '\u{10FFFE}']),
    ])
}

fn value(chars: Vec<char>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(chars), 1..4).prop_map(String::from_iter)
}

/// Keys `AT#<v>` and `AT#<v>#<w>` (with the table's separator), and the prefix value bounds.
fn case() -> impl Strategy<Value = (char, Vec<String>, Vec<String>)> {
    alphabet().prop_flat_map(|(separator, chars)| {
        let key = (value(chars.clone()), prop::option::of(value(chars.clone())));
        let keys = prop::collection::vec(key, 1..16).prop_map(move |keys| {
            keys.into_iter()
                .map(|(v, w)| match w {
                    Some(w) => format!("AT{separator}{v}{separator}{w}"),
                    None => format!("AT{separator}{v}"),
                })
                .collect::<Vec<_>>()
        });
        (
            Just(separator),
            keys,
            prop::collection::vec(value(chars), 1..4),
        )
    })
}

/// The value of `<at>` in a key of either shape.
fn parsed_prefix(key: &str, separator: char) -> String {
    let short = Template::parse("AT#<at>").unwrap();
    let long = Template::parse("AT#<at>#<id>").unwrap();
    let values = short
        .parse_key(key, separator)
        .or_else(|_| long.parse_key(key, separator))
        .unwrap();
    values[0].to_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bounds_select_by_prefix_value((separator, keys, extra) in case()) {
        let prefix = |v: &str| format!("AT{separator}{v}");
        // Bounds: the keys' own values (to hit equal prefixes) and a few others.
        let mut bounds: Vec<String> = keys.iter().map(|k| parsed_prefix(k, separator)).collect();
        bounds.extend(extra);
        for p in &bounds {
            let (text, upper) = (prefix(p), prefix_upper_bound(&prefix(p), separator));
            for key in &keys {
                let v = parsed_prefix(key, separator);
                let key = key.as_str();
                prop_assert_eq!(key < text.as_str(), v < *p, "lt {} {}", key, p);
                prop_assert_eq!(key >= text.as_str(), v >= *p, "ge {} {}", key, p);
                prop_assert_eq!(key <= upper.as_str(), v <= *p, "le {} {}", key, p);
                prop_assert_eq!(key > upper.as_str(), v > *p, "gt {} {}", key, p);
            }
            for hi in &bounds {
                let (lower, upper) = prefix_between(&prefix(p), &prefix(hi), separator);
                for key in &keys {
                    let v = parsed_prefix(key, separator);
                    let selected = lower.as_str() <= key.as_str() && key.as_str() <= upper.as_str();
                    prop_assert_eq!(selected, *p <= v && v <= *hi, "{} between {} and {}", key, p, hi);
                }
            }
        }
    }

    /// A prefix template that ends with the separator, `AT#<at>#`, over keys `AT#<at>#<id>`.
    #[test]
    fn a_prefix_ending_with_the_separator((separator, keys, extra) in case()) {
        let long = Template::parse("AT#<at>#<id>").unwrap();
        let keys: Vec<&String> = keys.iter().filter(|k| long.parse_key(k, separator).is_ok()).collect();
        for p in &extra {
            let text = format!("AT{separator}{p}{separator}");
            let upper = prefix_upper_bound(&text, separator);
            for key in &keys {
                let v = parsed_prefix(key, separator);
                prop_assert_eq!(key.as_str() <= upper.as_str(), v <= *p);
                prop_assert_eq!(key.as_str() >= text.as_str(), v >= *p);
            }
        }
    }
}
