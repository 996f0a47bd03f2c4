//! Whether two templates can render the same key, decided from the templates alone.
//!
//! Several entity types share one table. A batch write carries no condition, so a put of one
//! entity could overwrite another's item if both could ever render the same primary key. This
//! module proves they cannot, or finds a key they both render.
//!
//! A rendered key is the template's literal text with every placeholder replaced by a value that
//! [`check_value`](crate::check_value) accepts: one or more characters, none of them the
//! separator or a control character. So a template is a simple pattern over characters, and two
//! templates overlap exactly when their patterns have a common word. That is decided by walking
//! both patterns side by side: a state is a position in each, and a step reads one character both
//! accept. Because a placeholder never matches the separator, the walk lines up the two keys'
//! parts on its own: `#METADATA` and `<id>#X` differ at once, as no value is empty.

use std::collections::VecDeque;

use crate::template::{const_segments, Segment, Template};

/// One step of a template's pattern.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    /// Exactly this character (literal text, or the separator).
    Char(char),
    /// One character a value may hold: the first character of a placeholder.
    One,
    /// Any number of characters a value may hold: the rest of a placeholder.
    Many,
}

impl Template<'_> {
    /// Whether some values of `self`'s placeholders and some values of `other`'s placeholders
    /// render the same text with `separator`.
    ///
    /// Sound: `false` means no two renderings are ever equal. Otherwise exact, with a key both
    /// render as proof ([`Template::common_key`]), except that it is conservative, `true` although
    /// no such key is ever written, in these cases:
    ///
    /// - A placeholder is taken to accept every value [`check_value`](crate::check_value)
    ///   accepts: that an `<id>` is always a number, say, is not known here, so `USER#<id>`
    ///   overlaps `USER#ADMIN`.
    /// - A literal that contains a separator other than `#` (possible with a custom separator) is
    ///   read as the text it would render, although [`Template::render`] refuses it.
    /// - DynamoDB's key length limits are not considered.
    pub fn may_overlap(&self, other: &Template<'_>, separator: char) -> bool {
        self.common_key(other, separator).is_some()
    }

    /// A text that both `self` and `other` render with `separator` from some values, or `None`
    /// when there is none: the example to show when [`Template::may_overlap`] says `true`. Each
    /// template that [`Template::render`] accepts parses it back into values it renders again.
    pub fn common_key(&self, other: &Template<'_>, separator: char) -> Option<String> {
        let (a, b) = (tokens(self, separator), tokens(other, separator));
        // Breadth-first over (position in a, position in b); `from[state]` is the state the walk
        // came from and the character it read (none for the end of a placeholder).
        let width = b.len() + 1;
        let mut from: Vec<Option<(usize, Option<char>)>> = vec![None; (a.len() + 1) * width];
        let start = 0;
        let goal = a.len() * width + b.len();
        from[start] = Some((start, None));
        let mut queue = VecDeque::from([start]);
        while let Some(state) = queue.pop_front() {
            if state == goal {
                return Some(path(&from, goal));
            }
            let (i, j) = (state / width, state % width);
            let mut steps = Vec::with_capacity(3);
            if a.get(i) == Some(&Token::Many) {
                steps.push((i + 1, j, None));
            }
            if b.get(j) == Some(&Token::Many) {
                steps.push((i, j + 1, None));
            }
            if let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
                if let Some(c) = common_char(x, y, separator) {
                    steps.push((after(x, i), after(y, j), Some(c)));
                }
            }
            for (i, j, c) in steps {
                let next = i * width + j;
                if from[next].is_none() {
                    from[next] = Some((state, c));
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

/// Whether two entity types may render the same primary key: `a` and `b` are each a
/// (partition key, sort key) template pair, and a key collides only when both parts are equal.
///
/// Sound, and conservative where [`Template::may_overlap`] is; also, a placeholder that appears
/// in both templates of a pair is treated as two independent values.
pub fn keys_may_collide(
    a: (&Template<'_>, &Template<'_>),
    b: (&Template<'_>, &Template<'_>),
    separator: char,
) -> bool {
    a.0.may_overlap(b.0, separator) && a.1.may_overlap(b.1, separator)
}

/// The longest template, in pattern tokens (characters of literal text and separators, two per
/// placeholder), that the `const` decision works on exactly. A template this long renders no key
/// DynamoDB accepts: its shortest key is over 2048 bytes, the limit of a partition key.
const CONST_MAX_TOKENS: usize = 4096;

impl Template<'_> {
    /// [`Template::may_overlap`] as a `const fn`, so that generated code can refuse two entities
    /// whose keys may collide when it compiles. It gives the same answer, except that when both
    /// templates are longer than 4096 characters (counting two per placeholder), which no key
    /// DynamoDB accepts could be rendered from, it says `true` without looking.
    pub const fn may_overlap_const(&self, other: &Template<'_>, separator: char) -> bool {
        // The walk of `common_key`, row by row: a step never goes back in either pattern, so
        // the states (i, j) are visited in order of i, and one row of j is all that is kept.
        let (a, b) = (const_segments(self), const_segments(other));
        let (a, b) = if token_count(a) >= token_count(b) {
            (a, b)
        } else {
            (b, a)
        };
        let width = token_count(b);
        if width > CONST_MAX_TOKENS {
            return true;
        }
        let mut row = [false; CONST_MAX_TOKENS + 1];
        let mut below = [false; CONST_MAX_TOKENS + 1];
        row[0] = true;
        let mut rows = Tokens::new(a);
        loop {
            let x = rows.next(separator);
            let mut columns = Tokens::new(b);
            let mut j = 0;
            while j <= width {
                let y = columns.next(separator);
                if row[j] {
                    match (x, y) {
                        (None, None) => return true,
                        (Some(x), Some(y)) => {
                            if matches!(x, Token::Many) {
                                below[j] = true;
                            }
                            if matches!(y, Token::Many) {
                                row[j + 1] = true;
                            }
                            if accept_same(x, y, separator) {
                                match (matches!(x, Token::Many), matches!(y, Token::Many)) {
                                    (true, true) => {}
                                    (true, false) => row[j + 1] = true,
                                    (false, true) => below[j] = true,
                                    (false, false) => below[j + 1] = true,
                                }
                            }
                        }
                        (Some(x), None) => {
                            if matches!(x, Token::Many) {
                                below[j] = true;
                            }
                        }
                        (None, Some(y)) => {
                            if matches!(y, Token::Many) {
                                row[j + 1] = true;
                            }
                        }
                    }
                }
                j += 1;
            }
            if x.is_none() {
                return false;
            }
            let mut reached = false;
            j = 0;
            while j <= width {
                row[j] = below[j];
                reached |= below[j];
                below[j] = false;
                j += 1;
            }
            if !reached {
                return false;
            }
        }
    }
}

/// [`keys_may_collide`] as a `const fn`, from [`Template::may_overlap_const`]: the same answer,
/// decided when the calling code compiles.
pub const fn keys_may_collide_const(
    a: (&Template<'_>, &Template<'_>),
    b: (&Template<'_>, &Template<'_>),
    separator: char,
) -> bool {
    a.0.may_overlap_const(b.0, separator) && a.1.may_overlap_const(b.1, separator)
}

/// The tokens of a template's pattern, one at a time, in a `const fn` (which cannot collect
/// them into a `Vec`).
struct Tokens<'t> {
    segments: &'t [Segment<'t>],
    /// The segment being read.
    at: usize,
    /// The byte of the literal being read.
    byte: usize,
    /// Whether a placeholder's `One` was read and its `Many` is next.
    many_next: bool,
}

impl<'t> Tokens<'t> {
    const fn new(segments: &'t [Segment<'t>]) -> Self {
        Tokens {
            segments,
            at: 0,
            byte: 0,
            many_next: false,
        }
    }

    const fn next(&mut self, separator: char) -> Option<Token> {
        if self.many_next {
            self.many_next = false;
            return Some(Token::Many);
        }
        while self.at < self.segments.len() {
            match self.segments[self.at] {
                Segment::Literal(text) => {
                    let bytes = text.as_bytes();
                    if self.byte < bytes.len() {
                        let (c, len) = decode_char(bytes, self.byte);
                        self.byte += len;
                        return Some(Token::Char(c));
                    }
                    self.at += 1;
                    self.byte = 0;
                }
                Segment::Separator => {
                    self.at += 1;
                    return Some(Token::Char(separator));
                }
                Segment::Param(_) => {
                    self.at += 1;
                    self.many_next = true;
                    return Some(Token::One);
                }
            }
        }
        None
    }
}

/// The number of tokens of a template's pattern.
const fn token_count(segments: &[Segment<'_>]) -> usize {
    let mut tokens = Tokens::new(segments);
    let mut count = 0;
    // The separator does not change the count.
    while tokens.next('#').is_some() {
        count += 1;
    }
    count
}

/// The character that starts at byte `at` of the UTF-8 text `bytes`, and its length.
const fn decode_char(bytes: &[u8], at: usize) -> (char, usize) {
    let first = bytes[at] as u32;
    let (mut code, len) = match first {
        0..0x80 => (first, 1),
        0x80..0xE0 => (first & 0x1F, 2),
        0xE0..0xF0 => (first & 0x0F, 3),
        _ => (first & 0x07, 4),
    };
    let mut i = 1;
    while i < len {
        code = (code << 6) | (bytes[at + i] as u32 & 0x3F);
        i += 1;
    }
    match char::from_u32(code) {
        Some(c) => (c, len),
        // Unreachable for the text of a `&str`.
        None => (char::REPLACEMENT_CHARACTER, len),
    }
}

/// Whether some character is accepted by both tokens: [`common_char`] in a `const fn`.
const fn accept_same(x: Token, y: Token, separator: char) -> bool {
    match (x, y) {
        (Token::Char(c), Token::Char(d)) => c == d,
        (Token::Char(c), _) | (_, Token::Char(c)) => c != separator && !is_control(c),
        _ => true,
    }
}

/// [`char::is_control`] (general category `Cc`) in a `const fn`.
const fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// A template as a pattern: every placeholder is one value character then any number more.
fn tokens(template: &Template<'_>, separator: char) -> Vec<Token> {
    let mut out = Vec::new();
    for segment in template.segments() {
        match segment {
            Segment::Literal(text) => out.extend(text.chars().map(Token::Char)),
            Segment::Separator => out.push(Token::Char(separator)),
            Segment::Param(_) => out.extend([Token::One, Token::Many]),
        }
    }
    out
}

/// Whether `c` may appear in a value: the rule of [`check_value`](crate::check_value).
fn in_value(c: char, separator: char) -> bool {
    c != separator && !c.is_control()
}

/// A character both tokens accept, if any.
fn common_char(x: Token, y: Token, separator: char) -> Option<char> {
    match (x, y) {
        (Token::Char(c), Token::Char(d)) => (c == d).then_some(c),
        (Token::Char(c), _) | (_, Token::Char(c)) => in_value(c, separator).then_some(c),
        // Two placeholders: any value character will do.
        _ => Some(if separator == 'x' { 'y' } else { 'x' }),
    }
}

/// The position after reading one character at `at`: a `Many` may read more.
fn after(token: Token, at: usize) -> usize {
    if token == Token::Many {
        at
    } else {
        at + 1
    }
}

/// The characters read on the way to `state`.
fn path(from: &[Option<(usize, Option<char>)>], mut state: usize) -> String {
    let mut chars = Vec::new();
    while state != 0 {
        let (previous, c) = from[state].expect("every queued state has a predecessor");
        chars.extend(c);
        state = previous;
    }
    chars.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap(a: &str, b: &str) -> bool {
        let (a, b) = (Template::parse(a).unwrap(), Template::parse(b).unwrap());
        let forward = a.may_overlap(&b, '#');
        assert_eq!(forward, b.may_overlap(&a, '#'), "overlap is symmetric");
        forward
    }

    #[test]
    fn different_shapes_never_overlap() {
        assert!(!overlap("#METADATA", "TEAM#<id>"));
        assert!(!overlap("#METADATA", "<id>#METADATA"));
        assert!(!overlap("TEAM#<id>", "TEAM#<team_id>#MEMBER#<id>"));
        assert!(!overlap("AT#<at>#<id>", "AT#<at>"));
        assert!(!overlap("A<x>", "B<y>"));
        assert!(!overlap("<x>Z", "<y>Y"));
        assert!(!overlap("TEAM#<id>", "TEAMS#<id>"));
        assert!(!overlap("A#B", "A#C"));
    }

    #[test]
    fn overlapping_templates_are_found() {
        assert!(overlap("TEAM#<id>", "TEAM#<other>"));
        assert!(overlap("ORG#<id>", "<kind>#<id>"));
        assert!(overlap("USER#<id>", "USER#ADMIN"));
        assert!(overlap("#METADATA", "#METADATA"));
        assert!(overlap("A<x>", "<y>B"));
        assert!(overlap("V<v>.json", "V1<w>"));
        assert!(overlap("é<x>", "<y>ü"));
    }

    #[test]
    fn a_placeholder_is_never_empty() {
        assert!(!overlap("A<x>B", "AB"));
        assert!(overlap("A<x>B", "AxB"));
        assert!(!overlap("AB<x>", "AB"));
        assert!(!overlap("TEAM#<id>", "TEAM#"));
    }

    #[test]
    fn common_key_is_rendered_by_both() {
        let a = Template::parse("ORG#<id>").unwrap();
        let b = Template::parse("<kind>#A<id>").unwrap();
        let key = a.common_key(&b, '#').unwrap();
        assert_eq!(key, "ORG#Ax");
        assert!(a.parse_key(&key, '#').is_ok() && b.parse_key(&key, '#').is_ok());
    }

    #[test]
    fn the_separator_is_the_tables() {
        let a = Template::parse("A#<x>").unwrap();
        let b = Template::parse("A#B").unwrap();
        assert!(a.may_overlap(&b, '|'));
        // With `|`, a value may hold `#`: `A#<x>` renders `A|#`, as does `A#` then a literal `#`.
        let segments = [
            Segment::Literal("A"),
            Segment::Separator,
            Segment::Param("x"),
        ];
        let hash = [
            Segment::Literal("A"),
            Segment::Separator,
            Segment::Literal("#"),
        ];
        let (c, d) = (
            Template::from_segments("A#<x>", &segments),
            Template::from_segments("A##", &hash),
        );
        assert!(c.may_overlap(&d, '|'));
        assert!(!c.may_overlap(&d, '#'));
        // A literal holding the separator splits the key there, as it would render.
        let split = [Segment::Literal("A|B")];
        let e = Template::from_segments("A|B", &split);
        assert!(a.may_overlap(&e, '|'));
        assert!(Template::parse("<y>#B").unwrap().may_overlap(&e, '|'));
        assert!(!Template::parse("A<x>").unwrap().may_overlap(&e, '|'));
    }

    #[test]
    fn control_characters_are_never_values() {
        let literal = [Segment::Literal("A\n")];
        let t = Template::from_segments("A\n", &literal);
        assert!(!Template::parse("A<x>").unwrap().may_overlap(&t, '#'));
    }

    #[test]
    fn keys_collide_only_when_both_parts_may() {
        let team = (
            Template::parse("TEAM#<id>").unwrap(),
            Template::parse("#METADATA").unwrap(),
        );
        let member = (
            Template::parse("TEAM#<team_id>").unwrap(),
            Template::parse("MEMBER#<id>").unwrap(),
        );
        let other_team = (
            Template::parse("TEAM#<team>").unwrap(),
            Template::parse("#METADATA").unwrap(),
        );
        assert!(!keys_may_collide(
            (&team.0, &team.1),
            (&member.0, &member.1),
            '#'
        ));
        assert!(keys_may_collide(
            (&team.0, &team.1),
            (&other_team.0, &other_team.1),
            '#'
        ));
    }
}
