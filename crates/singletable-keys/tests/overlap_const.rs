//! `Template::may_overlap_const` and `keys_may_collide_const`, which generated code evaluates
//! when it compiles, against `Template::may_overlap` and `keys_may_collide`, which the runtime
//! uses (and which `tests/overlap.rs` checks against brute force): the same answer on every pair.

use proptest::prelude::*;
use singletable_keys::{keys_may_collide, keys_may_collide_const, Segment, Template};

/// One piece of a template: ASCII, non-ASCII and control characters, separators, placeholders.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "A", "B", "AB", "x", "y", "é", "ü€", "😀", "\u{85}", "\n", "|", "#", "<p>",
    ])
}

/// Template text from pieces; texts the grammar refuses are left to `Template::parse`.
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

/// Two templates: unrelated, or the second a variation of the first (which overlap more often).
fn template_pair() -> impl Strategy<Value = (String, String)> {
    let unrelated = (
        prop::collection::vec(piece(), 1..8),
        prop::collection::vec(piece(), 1..8),
    )
        .prop_map(|(a, b)| (text(&a), text(&b)));
    let related = (
        prop::collection::vec((piece(), prop::option::weighted(0.3, piece())), 1..8),
        prop::option::of(piece()),
    )
        .prop_map(|(pieces, extra)| {
            let a: Vec<&str> = pieces.iter().map(|(p, _)| *p).collect();
            let mut b: Vec<&str> = pieces.iter().map(|(p, swap)| swap.unwrap_or(p)).collect();
            b.extend(extra);
            (text(&a), text(&b))
        });
    prop_oneof![unrelated, related]
}

fn separator() -> impl Strategy<Value = char> {
    prop::sample::select(vec!['#', '|', 'B', 'x', 'é', '\n'])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn the_const_overlap_agrees(
        (a, b) in template_pair(),
        separator in separator(),
    ) {
        let (Ok(a), Ok(b)) = (Template::parse(&a), Template::parse(&b)) else {
            return Ok(());
        };
        let expected = a.may_overlap(&b, separator);
        prop_assert_eq!(a.may_overlap_const(&b, separator), expected, "{:?} and {:?}", a, b);
        prop_assert_eq!(b.may_overlap_const(&a, separator), expected, "{:?} and {:?}", b, a);
    }

    #[test]
    fn the_const_collision_agrees(
        (pk_a, pk_b) in template_pair(),
        (sk_a, sk_b) in template_pair(),
        separator in separator(),
    ) {
        let parsed = (
            Template::parse(&pk_a),
            Template::parse(&sk_a),
            Template::parse(&pk_b),
            Template::parse(&sk_b),
        );
        let (Ok(pk_a), Ok(sk_a), Ok(pk_b), Ok(sk_b)) = parsed else {
            return Ok(());
        };
        let (a, b) = ((&pk_a, &sk_a), (&pk_b, &sk_b));
        prop_assert_eq!(
            keys_may_collide_const(a, b, separator),
            keys_may_collide(a, b, separator)
        );
    }
}

/// Templates as generated code holds them: built in a `const`, decided in a `const`.
const TEAM_PK: &Template<'static> = &Template::from_segments(
    "TEAM#<id>",
    &[
        Segment::Literal("TEAM"),
        Segment::Separator,
        Segment::Param("id"),
    ],
);
const METADATA: &Template<'static> = &Template::from_segments(
    "#METADATA",
    &[Segment::Separator, Segment::Literal("METADATA")],
);
const MEMBER_SK: &Template<'static> = &Template::from_segments(
    "MEMBER#<id>",
    &[
        Segment::Literal("MEMBER"),
        Segment::Separator,
        Segment::Param("id"),
    ],
);
const TEAM_AND_TEAM: bool = keys_may_collide_const((TEAM_PK, METADATA), (TEAM_PK, METADATA), '#');
const TEAM_AND_MEMBER: bool =
    keys_may_collide_const((TEAM_PK, METADATA), (TEAM_PK, MEMBER_SK), '#');

#[test]
fn it_is_decided_at_compile_time() {
    const { assert!(TEAM_AND_TEAM) };
    const { assert!(!TEAM_AND_MEMBER) };
}

#[test]
fn a_long_template_is_decided_exactly() {
    let long = format!("{}#<id>", "A".repeat(5000));
    let long = Template::parse(&long).unwrap();
    for other in ["<x>#<id>", "A<x>", "B<x>", "<x>B"] {
        let other = Template::parse(other).unwrap();
        assert_eq!(
            long.may_overlap_const(&other, '#'),
            long.may_overlap(&other, '#'),
            "{other}"
        );
    }
}

#[test]
fn two_templates_too_long_for_any_key_are_taken_to_overlap() {
    let (a, b) = ("A".repeat(5000), "B".repeat(5000));
    let (a, b) = (Template::parse(&a).unwrap(), Template::parse(&b).unwrap());
    assert!(!a.may_overlap(&b, '#'));
    assert!(
        a.may_overlap_const(&b, '#'),
        "conservative beyond 4096 tokens"
    );
}
