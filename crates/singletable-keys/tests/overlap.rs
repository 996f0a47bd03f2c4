//! `Template::may_overlap` against brute force: it never misses an overlap (sound), and every
//! overlap it reports comes with a key both templates really render (exact).

use std::collections::HashSet;

use proptest::prelude::*;
use singletable_keys::{check_value, KeyPart, Segment, Template};

/// One piece of a template over a tiny alphabet: literals `A`, `B`, `AB`, `#`, or a placeholder.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["A", "B", "AB", "#", "<p>"])
}

/// Template text from pieces. Texts the grammar refuses (two placeholders in one part) are left
/// to `Template::parse` to weed out.
fn text(pieces: &[&str]) -> String {
    let mut text = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        match *piece {
            "<p>" => text.push_str(&format!("<p{i}>")),
            literal => text.push_str(literal),
        }
    }
    text
}

/// Two templates: unrelated, or the second a variation of the first (some pieces swapped for
/// others, maybe a piece more or less), which overlap far more often.
fn template_pair() -> impl Strategy<Value = (String, String)> {
    let unrelated = (
        prop::collection::vec(piece(), 1..6),
        prop::collection::vec(piece(), 1..6),
    )
        .prop_map(|(a, b)| (text(&a), text(&b)));
    let related = (
        prop::collection::vec((piece(), prop::option::weighted(0.3, piece())), 1..6),
        prop::option::of(piece()),
        any::<bool>(),
    )
        .prop_map(|(pieces, extra, drop_last)| {
            let a: Vec<&str> = pieces.iter().map(|(p, _)| *p).collect();
            let mut b: Vec<&str> = pieces.iter().map(|(p, swap)| swap.unwrap_or(p)).collect();
            b.extend(extra);
            if drop_last && b.len() > 1 {
                b.pop();
            }
            (text(&a), text(&b))
        });
    prop_oneof![unrelated, related]
}

/// Every value over `A`, `B` of length 1 to 3.
fn values() -> Vec<String> {
    let mut all = vec![String::new()];
    let mut out = Vec::new();
    for _ in 0..3 {
        all = all
            .iter()
            .flat_map(|v| ["A", "B"].map(|c| format!("{v}{c}")))
            .collect();
        out.extend(all.iter().cloned());
    }
    out
}

/// Every key the template renders from `values`.
fn renderings(template: &Template<'_>, values: &[String], separator: char) -> HashSet<String> {
    let params = template.params().count();
    let mut keys = HashSet::new();
    let mut choice = vec![0; params];
    loop {
        let chosen: Vec<&dyn KeyPart> =
            choice.iter().map(|&i| &values[i] as &dyn KeyPart).collect();
        let mut key = String::new();
        if template.render(&chosen, separator, &mut key).is_ok() {
            keys.insert(key);
        }
        // The next choice, as a counter in base `values.len()`.
        let Some(at) = choice.iter().rposition(|&i| i + 1 < values.len()) else {
            return keys;
        };
        choice[at] += 1;
        choice[at + 1..].fill(0);
    }
}

/// Whether `template` renders `key`: it parses back into accepted values that render it again.
fn renders(template: &Template<'_>, key: &str, separator: char) -> bool {
    let Ok(parsed) = template.parse_key(key, separator) else {
        return false;
    };
    let values: Vec<&dyn KeyPart> = parsed.iter().map(|v| v as &dyn KeyPart).collect();
    let mut again = String::new();
    parsed.iter().all(|v| check_value(v, separator).is_ok())
        && template.render(&values, separator, &mut again).is_ok()
        && again == key
}

/// Whether `render` can succeed at all: no literal holds a separator other than `#`.
fn can_render(template: &Template<'_>, separator: char) -> bool {
    template.segments().iter().all(
        |s| !matches!(s, Segment::Literal(text) if separator != '#' && text.contains(separator)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn overlap_is_sound_and_exact(
        (a, b) in template_pair(),
        separator in prop::sample::select(vec!['#', '|', 'B']),
    ) {
        let (Ok(a), Ok(b)) = (Template::parse(&a), Template::parse(&b)) else {
            return Ok(());
        };
        let values = values();
        let ours = renderings(&a, &values, separator);
        let theirs = renderings(&b, &values, separator);
        let answer = a.may_overlap(&b, separator);
        prop_assert_eq!(answer, b.may_overlap(&a, separator), "symmetric");
        if let Some(key) = ours.intersection(&theirs).next() {
            prop_assert!(answer, "both render {:?}, but may_overlap is false", key);
        }
        match a.common_key(&b, separator) {
            Some(key) => {
                prop_assert!(answer);
                if can_render(&a, separator) && can_render(&b, separator) {
                    prop_assert!(renders(&a, &key, separator), "{} does not render {:?}", a, key);
                    prop_assert!(renders(&b, &key, separator), "{} does not render {:?}", b, key);
                }
            }
            None => prop_assert!(!answer),
        }
    }
}

#[test]
fn the_examples() {
    let cases = [
        ("#METADATA", "TEAM#<id>", false),
        ("TEAM#<id>", "TEAM#<team_id>#MEMBER#<id>", false),
        ("TEAM#<id>", "TEAM#<other>", true),
        ("ORG#<id>", "<kind>#<id>", true),
        ("A<x>", "B<y>", false),
        ("<x>Z", "<y>Y", false),
        ("USER#<id>", "USER#ADMIN", true),
        ("AT#<at>#<id>", "AT#<at>", false),
    ];
    for (a, b, expected) in cases {
        let (a, b) = (Template::parse(a).unwrap(), Template::parse(b).unwrap());
        assert_eq!(a.may_overlap(&b, '#'), expected, "{a} vs {b}");
        assert_eq!(b.may_overlap(&a, '#'), expected, "{b} vs {a}");
    }
}
