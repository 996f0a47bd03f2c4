//! Parsing, rendering and parsing back of key templates.

use std::borrow::Cow;
use std::fmt;

use crate::part::{check_value, KeyPart, ValueError};

/// One piece of a parsed template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Segment<'a> {
    /// Text copied into the key as it is (never contains `#`, `<` or `>`).
    Literal(&'a str),
    /// The boundary between two key parts, rendered as the table's separator.
    Separator,
    /// A `<name>` placeholder, replaced by a value.
    Param(&'a str),
}

/// A validated key template.
///
/// Built by [`Template::parse`] from text, or by [`Template::from_segments`] in a `const` (which
/// is what generated code does after the macro has validated the text).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template<'a> {
    source: &'a str,
    segments: Cow<'a, [Segment<'a>]>,
}

/// Why a template's text is not a valid template. The macro shows these messages to users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateError {
    /// The template is empty.
    Empty,
    /// A `<` without its `>`.
    Unclosed {
        /// Byte offset of the `<` in the template text.
        at: usize,
    },
    /// A `>` that closes nothing.
    StrayClose {
        /// Byte offset of the `>` in the template text.
        at: usize,
    },
    /// `<>`, or a name that is not an identifier.
    BadName {
        /// The text between `<` and `>`.
        name: String,
    },
    /// Two placeholders in one part: their values could not be told apart when parsing back.
    AdjacentParams {
        /// The first placeholder's name.
        first: String,
        /// The name of the placeholder that follows it in the same part.
        second: String,
    },
    /// The same placeholder twice.
    DuplicateParam {
        /// The repeated placeholder's name.
        name: String,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Empty => f.write_str("key template is empty"),
            TemplateError::Unclosed { at } => {
                write!(f, "`<` at byte {at} has no closing `>`")
            }
            TemplateError::StrayClose { at } => {
                write!(f, "`>` at byte {at} closes no placeholder")
            }
            TemplateError::BadName { name } => write!(
                f,
                "`<{name}>` is not a placeholder: a placeholder names a field, like `<id>`"
            ),
            TemplateError::AdjacentParams { first, second } => write!(
                f,
                "placeholders `<{first}>` and `<{second}>` have no `#` between them, so a key \
                 could not be parsed back into its values; write `<{first}>#<{second}>`"
            ),
            TemplateError::DuplicateParam { name } => {
                write!(f, "placeholder `<{name}>` appears more than once")
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// Why a key could not be rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// A value was refused; `param` names the placeholder.
    Value {
        /// The name of the placeholder whose value was refused.
        param: String,
        /// Why the value was refused.
        error: ValueError,
    },
    /// A literal of the template contains the table's separator, so the key would not parse back.
    LiteralHasSeparator {
        /// The literal text.
        literal: String,
        /// The separator it contains.
        separator: char,
    },
    /// The caller passed a different number of values than the template has placeholders.
    ValueCount {
        /// The number of placeholders in the template.
        expected: usize,
        /// The number of values passed.
        got: usize,
    },
    /// The rendered key is longer than DynamoDB allows for that key attribute.
    TooLong {
        /// The rendered key's length, in bytes.
        len: usize,
        /// The longest key DynamoDB allows for the attribute, in bytes.
        max: usize,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Value { param, error } => write!(f, "value of `<{param}>` {error}"),
            KeyError::LiteralHasSeparator { literal, separator } => write!(
                f,
                "template text `{literal}` contains the table's separator `{separator}`"
            ),
            KeyError::ValueCount { expected, got } => {
                write!(f, "template takes {expected} values, got {got}")
            }
            KeyError::TooLong { len, max } => {
                write!(f, "key is {len} bytes long; DynamoDB allows at most {max}")
            }
        }
    }
}

impl std::error::Error for KeyError {}

/// Why a key string does not match a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseKeyError {
    /// The key that did not match.
    pub key: String,
    /// The template, as text.
    pub template: String,
}

impl fmt::Display for ParseKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "key `{}` does not match template `{}`",
            self.key, self.template
        )
    }
}

impl std::error::Error for ParseKeyError {}

impl<'a> Template<'a> {
    /// Parses and validates template text, borrowing names and literals from it.
    pub fn parse(text: &'a str) -> Result<Self, TemplateError> {
        if text.is_empty() {
            return Err(TemplateError::Empty);
        }
        // The grammar's special characters are ASCII, so scanning bytes never splits a char.
        let bytes = text.as_bytes();
        let mut segments = Vec::new();
        let mut param_in_part: Option<&str> = None;
        let mut literal_start = 0;
        let mut at = 0;
        while at < bytes.len() {
            let special = matches!(bytes[at], b'#' | b'<' | b'>');
            if special && literal_start < at {
                segments.push(Segment::Literal(&text[literal_start..at]));
            }
            match bytes[at] {
                b'#' => {
                    segments.push(Segment::Separator);
                    param_in_part = None;
                    at += 1;
                }
                b'>' => return Err(TemplateError::StrayClose { at }),
                b'<' => {
                    let name_start = at + 1;
                    let close = text[name_start..]
                        .find(['>', '<', '#'])
                        .map(|i| name_start + i)
                        .filter(|&i| bytes[i] == b'>')
                        .ok_or(TemplateError::Unclosed { at })?;
                    let name = &text[name_start..close];
                    if !is_identifier(name) {
                        return Err(TemplateError::BadName { name: name.into() });
                    }
                    if let Some(first) = param_in_part {
                        return Err(TemplateError::AdjacentParams {
                            first: first.into(),
                            second: name.into(),
                        });
                    }
                    if segments.contains(&Segment::Param(name)) {
                        return Err(TemplateError::DuplicateParam { name: name.into() });
                    }
                    segments.push(Segment::Param(name));
                    param_in_part = Some(name);
                    at = close + 1;
                }
                _ => {
                    at += 1;
                    continue;
                }
            }
            literal_start = at;
        }
        if literal_start < text.len() {
            segments.push(Segment::Literal(&text[literal_start..]));
        }
        Ok(Template {
            source: text,
            segments: Cow::Owned(segments),
        })
    }

    /// A template from its text and the segments [`Template::parse`] made of it (in the macro).
    pub const fn from_segments(source: &'a str, segments: &'a [Segment<'a>]) -> Self {
        Template {
            source,
            segments: Cow::Borrowed(segments),
        }
    }

    /// The text the template was written as.
    pub const fn source(&self) -> &'a str {
        self.source
    }

    /// Whether both templates render the same keys from the same values in the same order:
    /// equal text and separators, placeholders in the same places (their names may differ).
    /// `const`, so that generated code can check it at compile time.
    pub const fn same_shape(&self, other: &Template<'_>) -> bool {
        let (a, b) = (const_segments(self), const_segments(other));
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            let same = match (&a[i], &b[i]) {
                (Segment::Literal(x), Segment::Literal(y)) => const_eq(x, y),
                (Segment::Separator, Segment::Separator)
                | (Segment::Param(_), Segment::Param(_)) => true,
                _ => false,
            };
            if !same {
                return false;
            }
            i += 1;
        }
        true
    }

    /// The segments, in order.
    pub fn segments(&self) -> &[Segment<'a>] {
        &self.segments
    }

    /// The placeholder names, in order.
    pub fn params(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(name) => Some(*name),
            _ => None,
        })
    }

    /// Whether every key of `self` starts with a key of `prefix` made from the same leading
    /// values: `prefix`'s segments begin `self`'s, placeholder names aside.
    pub fn extends(&self, prefix: &Template<'_>) -> bool {
        let (ours, theirs) = (self.segments(), prefix.segments());
        ours.len() >= theirs.len()
            && ours.iter().zip(theirs).all(|pair| match pair {
                (Segment::Param(_), Segment::Param(_)) => true,
                (a, b) => a == b,
            })
    }

    /// The literal text before the first placeholder, rendered with `separator`. Useful as a
    /// `begins_with` prefix for every key of this template.
    pub fn static_prefix(&self, separator: char) -> String {
        let mut out = String::new();
        for segment in self.segments.iter() {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Separator => out.push(separator),
                Segment::Param(_) => break,
            }
        }
        out
    }

    /// Appends the key for `values` (one per placeholder, in order) to `out`.
    ///
    /// Every value is checked with [`check_value`]: an empty value, one containing `separator`
    /// or a control character is refused. On error `out` is left as it was.
    pub fn render(
        &self,
        values: &[&dyn KeyPart],
        separator: char,
        out: &mut String,
    ) -> Result<(), KeyError> {
        let start = out.len();
        let result = self.render_unchecked_len(values, separator, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn render_unchecked_len(
        &self,
        values: &[&dyn KeyPart],
        separator: char,
        out: &mut String,
    ) -> Result<(), KeyError> {
        let mut values_left = values.iter();
        for segment in self.segments.iter() {
            match *segment {
                Segment::Literal(text) => {
                    if separator != '#' && text.contains(separator) {
                        return Err(KeyError::LiteralHasSeparator {
                            literal: text.into(),
                            separator,
                        });
                    }
                    out.push_str(text);
                }
                Segment::Separator => out.push(separator),
                Segment::Param(name) => {
                    let value = values_left.next().ok_or_else(|| KeyError::ValueCount {
                        expected: self.params().count(),
                        got: values.len(),
                    })?;
                    let value_start = out.len();
                    value.write_key_part(out);
                    check_value(&out[value_start..], separator).map_err(|error| {
                        KeyError::Value {
                            param: name.into(),
                            error,
                        }
                    })?;
                }
            }
        }
        if values_left.next().is_some() {
            return Err(KeyError::ValueCount {
                expected: self.params().count(),
                got: values.len(),
            });
        }
        Ok(())
    }

    /// Splits a rendered key back into its values, one per placeholder, in order.
    pub fn parse_key<'k>(
        &self,
        key: &'k str,
        separator: char,
    ) -> Result<Vec<&'k str>, ParseKeyError> {
        let mismatch = || ParseKeyError {
            key: key.into(),
            template: self.to_string(),
        };
        let mut values = Vec::new();
        let mut parts = key.split(separator);
        for template_part in self.segments.split(|s| *s == Segment::Separator) {
            let mut part = parts.next().ok_or_else(mismatch)?;
            let mut has_param = false;
            for segment in template_part {
                match segment {
                    Segment::Literal(text) if has_param => {
                        part = part.strip_suffix(text).ok_or_else(mismatch)?;
                    }
                    Segment::Literal(text) => {
                        part = part.strip_prefix(text).ok_or_else(mismatch)?;
                    }
                    Segment::Param(_) => has_param = true,
                    // `split` consumed the separators.
                    Segment::Separator => {}
                }
            }
            match (has_param, part.is_empty()) {
                (true, false) => values.push(part),
                (false, true) => {}
                _ => return Err(mismatch()),
            }
        }
        if parts.next().is_some() {
            return Err(mismatch());
        }
        Ok(values)
    }
}

impl fmt::Display for Template<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in self.segments.iter() {
            match segment {
                Segment::Literal(text) => f.write_str(text)?,
                Segment::Separator => f.write_str("#")?,
                Segment::Param(name) => write!(f, "<{name}>")?,
            }
        }
        Ok(())
    }
}

/// The segments, in a `const fn` (which cannot go through `Deref`).
pub(crate) const fn const_segments<'t>(template: &'t Template<'_>) -> &'t [Segment<'t>] {
    match &template.segments {
        Cow::Borrowed(segments) => segments,
        Cow::Owned(segments) => segments.as_slice(),
    }
}

/// `a == b`, in a `const fn` (where `==` on `str` is not available).
#[doc(hidden)]
pub const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, values: &[&str]) -> Result<String, KeyError> {
        let values: Vec<&dyn KeyPart> = values.iter().map(|v| v as &dyn KeyPart).collect();
        let mut out = String::new();
        Template::parse(template)
            .unwrap()
            .render(&values, '#', &mut out)?;
        Ok(out)
    }

    #[test]
    fn parses_literals_separators_and_params() {
        let t = Template::parse("TENANT#<tenant_id>#ORG#<id>").unwrap();
        assert_eq!(
            t.segments(),
            [
                Segment::Literal("TENANT"),
                Segment::Separator,
                Segment::Param("tenant_id"),
                Segment::Separator,
                Segment::Literal("ORG"),
                Segment::Separator,
                Segment::Param("id"),
            ]
        );
        assert_eq!(t.params().collect::<Vec<_>>(), ["tenant_id", "id"]);
        assert_eq!(t.to_string(), "TENANT#<tenant_id>#ORG#<id>");
    }

    #[test]
    fn leading_separator_is_an_empty_first_part() {
        let t = Template::parse("#METADATA").unwrap();
        assert_eq!(
            t.segments(),
            [Segment::Separator, Segment::Literal("METADATA")]
        );
        assert_eq!(render("#METADATA", &[]).unwrap(), "#METADATA");
        assert_eq!(t.parse_key("#METADATA", '#').unwrap(), Vec::<&str>::new());
        assert!(t.parse_key("METADATA", '#').is_err());
    }

    #[test]
    fn a_part_may_mix_text_and_one_param() {
        let t = Template::parse("V<version>.json#X").unwrap();
        assert_eq!(render("V<version>.json#X", &["7"]).unwrap(), "V7.json#X");
        assert_eq!(t.parse_key("V7.json#X", '#').unwrap(), ["7"]);
        assert!(t.parse_key("V.json#X", '#').is_err());
    }

    #[test]
    fn rejects_bad_templates() {
        assert_eq!(Template::parse(""), Err(TemplateError::Empty));
        assert_eq!(
            Template::parse("A#<id"),
            Err(TemplateError::Unclosed { at: 2 })
        );
        assert_eq!(
            Template::parse("A#<id#x>"),
            Err(TemplateError::Unclosed { at: 2 })
        );
        assert_eq!(
            Template::parse("A>"),
            Err(TemplateError::StrayClose { at: 1 })
        );
        assert!(matches!(
            Template::parse("A#<>"),
            Err(TemplateError::BadName { .. })
        ));
        assert!(matches!(
            Template::parse("A#<1x>"),
            Err(TemplateError::BadName { .. })
        ));
        assert_eq!(
            Template::parse("<a><b>"),
            Err(TemplateError::AdjacentParams {
                first: "a".into(),
                second: "b".into()
            })
        );
        assert!(matches!(
            Template::parse("<a>-<b>"),
            Err(TemplateError::AdjacentParams { .. })
        ));
        assert!(matches!(
            Template::parse("<a>#<a>"),
            Err(TemplateError::DuplicateParam { .. })
        ));
    }

    #[test]
    fn refuses_values_that_would_escape_their_part() {
        let err = render("TENANT#<tenant_id>#ORG#<id>", &["a#ORG#b", "1"]).unwrap_err();
        assert_eq!(
            err,
            KeyError::Value {
                param: "tenant_id".into(),
                error: ValueError::ContainsSeparator('#')
            }
        );
        let err = render("TENANT#<tenant_id>", &[""]).unwrap_err();
        assert_eq!(
            err,
            KeyError::Value {
                param: "tenant_id".into(),
                error: ValueError::Empty
            }
        );
        let err = render("TENANT#<tenant_id>", &["a\u{0}"]).unwrap_err();
        assert!(matches!(
            err,
            KeyError::Value {
                error: ValueError::ControlCharacter,
                ..
            }
        ));
    }

    #[test]
    fn render_error_leaves_the_buffer_as_it_was() {
        let t = Template::parse("A#<x>").unwrap();
        let mut out = String::from("keep");
        assert!(t.render(&[&"a#b" as &dyn KeyPart], '#', &mut out).is_err());
        assert_eq!(out, "keep");
    }

    #[test]
    fn other_separators_render_and_parse_back() {
        let t = Template::parse("TEAM#<team_id>#MEMBER#<id>").unwrap();
        let mut out = String::new();
        t.render(&[&"t#1" as &dyn KeyPart, &"m"], '|', &mut out)
            .unwrap();
        assert_eq!(out, "TEAM|t#1|MEMBER|m");
        assert_eq!(t.parse_key(&out, '|').unwrap(), ["t#1", "m"]);
        let mut out = String::new();
        let err =
            Template::parse("A|B#<x>")
                .unwrap()
                .render(&[&"1" as &dyn KeyPart], '|', &mut out);
        assert!(matches!(err, Err(KeyError::LiteralHasSeparator { .. })));
    }

    #[test]
    fn wrong_value_count_is_an_error() {
        assert!(matches!(
            render("A#<x>", &[]),
            Err(KeyError::ValueCount {
                expected: 1,
                got: 0
            })
        ));
        assert!(matches!(
            render("A#<x>", &["1", "2"]),
            Err(KeyError::ValueCount { .. })
        ));
    }

    #[test]
    fn parse_key_rejects_keys_of_other_shapes() {
        let t = Template::parse("TEAM#<team_id>").unwrap();
        assert!(t.parse_key("TEAM#1#MEMBER#2", '#').is_err());
        assert!(t.parse_key("TEAM#", '#').is_err());
        assert!(t.parse_key("TEAMS#1", '#').is_err());
        assert!(t.parse_key("", '#').is_err());
    }

    #[test]
    fn same_shape_ignores_placeholder_names() {
        let a = Template::parse("TENANT#<tenant_id>#ORG#<organization_id>").unwrap();
        let b = Template::parse("TENANT#<tenant>#ORG#<id>").unwrap();
        let c = Template::parse("TENANT#<tenant_id>#TEAM#<id>").unwrap();
        assert!(a.same_shape(&b));
        assert!(!a.same_shape(&c));
        assert!(!a.same_shape(&Template::parse("TENANT#<tenant_id>").unwrap()));
        assert_eq!(b.source(), "TENANT#<tenant>#ORG#<id>");
    }

    #[test]
    fn static_prefix_stops_at_the_first_param() {
        let t = Template::parse("TEAM#<team_id>#MEMBER#<id>").unwrap();
        assert_eq!(t.static_prefix('#'), "TEAM#");
        assert_eq!(
            Template::parse("#METADATA").unwrap().static_prefix('|'),
            "|METADATA"
        );
    }
}
