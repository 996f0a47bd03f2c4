//! Properties of the key grammar: rendering then parsing back gives the values, and no input
//! makes parsing or rendering panic.

use proptest::prelude::*;
use singletable_keys::{KeyPart, Template};

/// A template part: optional text, optional placeholder, optional text.
fn part() -> impl Strategy<Value = (String, bool, String)> {
    ("[A-Z]{0,4}", any::<bool>(), "[a-z.]{0,3}")
}

/// Key values: any text without the separator or control characters, never empty.
fn value() -> impl Strategy<Value = String> {
    "[^#\\p{Cc}]{1,12}"
}

proptest! {
    #[test]
    fn render_then_parse_gives_the_values_back(
        parts in prop::collection::vec(part(), 1..6),
        values_as_text in prop::collection::vec(value(), 6),
    ) {
        let mut text = String::new();
        let mut params = 0;
        for (i, (before, has_param, after)) in parts.iter().enumerate() {
            if i > 0 {
                text.push('#');
            }
            text.push_str(before);
            if *has_param {
                text.push_str(&format!("<p{i}>"));
                text.push_str(after);
                params += 1;
            }
        }
        prop_assume!(!text.is_empty());
        let template = Template::parse(&text).unwrap();
        let values: Vec<&dyn KeyPart> = values_as_text[..params].iter().map(|v| v as &dyn KeyPart).collect();
        let mut key = String::new();
        template.render(&values, '#', &mut key).unwrap();
        let back = template.parse_key(&key, '#').unwrap();
        let expected: Vec<&str> = values_as_text[..params].iter().map(String::as_str).collect();
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn parsing_any_template_never_panics(text in "\\PC{0,40}") {
        let _ = Template::parse(&text);
    }

    #[test]
    fn parsing_any_key_never_panics(key in "\\PC{0,40}", sep in prop::sample::select(vec!['#', '|', ':'])) {
        for text in ["TENANT#<tenant_id>#ORG#<id>", "#METADATA", "V<v>.x#<id>", "A#<b>c#<d>"] {
            let template = Template::parse(text).unwrap();
            let _ = template.parse_key(&key, sep);
        }
    }

    #[test]
    fn rendering_any_value_never_panics_and_refuses_the_separator(v in "\\PC{0,20}") {
        let template = Template::parse("TENANT#<tenant_id>#ORG#<id>").unwrap();
        let mut key = String::new();
        let ok = template.render(&[&v as &dyn KeyPart, &"x"], '#', &mut key).is_ok();
        prop_assert_eq!(ok, !v.is_empty() && !v.contains('#') && !v.chars().any(char::is_control));
        if ok {
            prop_assert_eq!(template.parse_key(&key, '#').unwrap(), vec![v.as_str(), "x"]);
        }
    }
}
