//! serde's `rename_all` rules, so the derive knows the attribute name serde stores a field under.

/// The name serde gives a field called `field` (snake_case) under `rule`, or `None` for an
/// unknown rule (serde reports that one itself).
pub fn apply(rule: &str, field: &str) -> Option<String> {
    let words = field.split('_').filter(|w| !w.is_empty());
    let capitalized = |w: &str| {
        let mut chars = w.chars();
        chars
            .next()
            .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
    };
    Some(match rule {
        "lowercase" => field.to_lowercase(),
        "UPPERCASE" => field.to_uppercase(),
        "snake_case" => field.to_owned(),
        "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.replace('_', "-").to_uppercase(),
        "PascalCase" => words.map(capitalized).collect(),
        "camelCase" => {
            let pascal: String = words.map(capitalized).collect();
            let mut chars = pascal.chars();
            chars
                .next()
                .map_or(String::new(), |c| c.to_lowercase().chain(chars).collect())
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::apply;

    #[test]
    fn matches_serde() {
        assert_eq!(apply("camelCase", "member_count").unwrap(), "memberCount");
        assert_eq!(apply("PascalCase", "member_count").unwrap(), "MemberCount");
        assert_eq!(apply("kebab-case", "member_count").unwrap(), "member-count");
        assert_eq!(apply("SCREAMING_SNAKE_CASE", "id").unwrap(), "ID");
        assert_eq!(apply("camelCase", "id").unwrap(), "id");
        assert!(apply("Nope", "id").is_none());
    }
}
