//! The layers of this crate, checked: every module may use only modules of its own layer or
//! below (see the crate docs). The test reads each source file's `crate::` paths.

/// The layer of each top-level module, from the leaves (1) up to the facade (7).
pub(crate) const LAYERS: &[(&str, u8)] = &[
    ("error", 1),
    ("codec", 1),
    ("expr", 1),
    ("cursor", 1),
    ("retry", 1),
    ("sent_body", 1),
    ("autogen", 1),
    ("timestamp", 1),
    ("table", 2),
    ("schema", 2),
    ("item", 3),
    ("key", 3),
    ("later", 3),
    ("projection", 3),
    ("tenant", 3),
    ("request", 4),
    ("write", 5),
    ("admin", 6),
    ("audit", 6),
    ("backfill", 6),
    ("batch", 6),
    ("change_feed", 6),
    ("collection", 6),
    ("lifecycle", 6),
    ("loader", 6),
    ("ops", 6),
    ("table_schema", 6),
    ("transaction", 6),
    ("transaction_get", 6),
    ("entity", 7),
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::LAYERS;

    fn layer(module: &str) -> Option<u8> {
        LAYERS
            .iter()
            .find_map(|(name, layer)| (*name == module).then_some(*layer))
    }

    /// The top-level modules a line names through `crate::`.
    fn used(line: &str) -> Vec<&str> {
        line.match_indices("crate::")
            .map(|(at, _)| {
                let rest = &line[at + "crate::".len()..];
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect()
    }

    #[test]
    fn no_module_uses_a_higher_layer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                for inner in std::fs::read_dir(&path).unwrap() {
                    files.push(inner.unwrap().path());
                }
            } else {
                files.push(path);
            }
        }
        let mut wrong = Vec::new();
        let mut checked = 0;
        for path in files {
            let relative = path.strip_prefix(&src).unwrap();
            let module = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_str()
                .unwrap()
                .trim_end_matches(".rs");
            if matches!(module, "lib" | "layers") {
                continue;
            }
            let own = layer(module).unwrap_or_else(|| panic!("`{module}` has no layer"));
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for target in used(code) {
                    let Some(theirs) = layer(target) else {
                        continue; // a re-export of the crate root, such as `crate::Table`
                    };
                    checked += 1;
                    if theirs > own {
                        wrong.push(format!(
                            "{}:{}: `{module}` (layer {own}) uses `{target}` (layer {theirs})",
                            relative.display(),
                            n + 1
                        ));
                    }
                }
            }
        }
        assert!(
            checked > 100,
            "only {checked} uses read: the test reads nothing"
        );
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
