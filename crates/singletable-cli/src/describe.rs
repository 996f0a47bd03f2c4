//! The table description file: what `create-table` creates and what `inspect` parses keys with.

use std::path::Path;

use serde::Deserialize;
use singletable_core::{Table, Template};

use crate::error::{Error, Result};

/// A table description, read from TOML (see the crate documentation for the format).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TableFile {
    /// The table name; `--table` overrides it.
    pub name: Option<String>,
    /// The partition key attribute.
    #[serde(default = "default_partition_key")]
    pub partition_key: String,
    /// The sort key attribute.
    #[serde(default = "default_sort_key")]
    pub sort_key: String,
    /// The character that joins key parts.
    #[serde(default = "default_separator")]
    pub separator: char,
    /// The index on `_type`/`_timestamp`.
    pub type_index: Option<String>,
    /// The index on `_tenant_type`/`_timestamp`.
    pub tenant_type_index: Option<String>,
    /// The time-to-live attribute.
    pub ttl_attribute: Option<String>,
    /// Further global secondary indexes.
    #[serde(default, rename = "index")]
    pub indexes: Vec<IndexFile>,
    /// The entities stored in the table, with their key templates.
    #[serde(default, rename = "entity")]
    pub entities: Vec<EntityFile>,
}

/// A global secondary index with string keys, an `[[index]]` table.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IndexFile {
    /// The index name.
    pub name: String,
    /// Its partition key attribute.
    pub partition_key: String,
    /// Its sort key attribute.
    pub sort_key: String,
}

/// An entity, an `[[entity]]` table: its `_type` and the templates of its keys.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EntityFile {
    /// The value of `_type` on its items.
    #[serde(rename = "type")]
    pub entity_type: String,
    /// Template of the partition key, such as `TENANT#<tenant_id>#ORG#<id>`.
    pub pk: String,
    /// Template of the sort key, such as `#METADATA`.
    pub sk: Option<String>,
    /// The placeholder of the templates that holds the tenant, such as `tenant_id`, for an
    /// entity scoped to a tenant: its items are listed through the tenant type index.
    pub tenant: Option<String>,
    /// The names of the `[[index]]`es whose keys the entity's items carry.
    #[serde(default)]
    pub indexes: Vec<String>,
}

fn default_partition_key() -> String {
    "pk".into()
}

fn default_sort_key() -> String {
    "sk".into()
}

fn default_separator() -> char {
    singletable_keys::DEFAULT_SEPARATOR
}

impl TableFile {
    /// Reads and checks the description at `path`: every template must parse, every entity
    /// type appear once, an entity's `tenant` be a placeholder of its templates and its
    /// `indexes` be declared `[[index]]`es.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| Error::Invalid(format!("{}{message}", path.display())))
    }

    /// Parses and checks description text. The error starts with `:line:column: ` when the
    /// text is not valid TOML for a description, or `: ` otherwise, ready to follow the path.
    fn parse(text: &str) -> std::result::Result<Self, String> {
        let file: Self = toml::from_str(text).map_err(|error| {
            let at = error
                .span()
                .map(|span| line_column(text, span.start))
                .map_or(String::new(), |(line, column)| format!(":{line}:{column}"));
            format!("{at}: {}", error.message().trim_end())
        })?;
        file.check().map_err(|message| format!(": {message}"))?;
        Ok(file)
    }

    fn check(&self) -> std::result::Result<(), String> {
        for (i, entity) in self.entities.iter().enumerate() {
            let name = &entity.entity_type;
            if self.entities[..i].iter().any(|e| &e.entity_type == name) {
                return Err(format!("entity type `{name}` is described twice"));
            }
            let templates = [("pk", Some(&entity.pk)), ("sk", entity.sk.as_ref())];
            let mut params = Vec::new();
            for (key, template) in templates {
                if let Some(template) = template {
                    let parsed = Template::parse(template).map_err(|error| {
                        format!("entity `{name}`: {key} template `{template}`: {error}")
                    })?;
                    params.extend(parsed.params());
                }
            }
            if let Some(tenant) = &entity.tenant {
                if !params.contains(&tenant.as_str()) {
                    return Err(format!(
                        "entity `{name}`: tenant `{tenant}` is not a placeholder of its templates; {}",
                        one_of("placeholders", &params)
                    ));
                }
            }
            for index in &entity.indexes {
                if self.index(index).is_none() {
                    let declared: Vec<&str> =
                        self.indexes.iter().map(|i| i.name.as_str()).collect();
                    return Err(format!(
                        "entity `{name}`: index `{index}` is not a declared `[[index]]`; {}",
                        one_of("declared", &declared)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The `[[index]]` called `name`.
    pub fn index(&self, name: &str) -> Option<&IndexFile> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The entity whose items carry `_type = entity_type`.
    pub fn entity(&self, entity_type: &str) -> Option<&EntityFile> {
        self.entities.iter().find(|e| e.entity_type == entity_type)
    }

    /// The runtime's description of the table called `name`, for `client`.
    pub fn table(&self, client: aws_sdk_dynamodb::Client, name: &str) -> Table {
        let mut builder = Table::builder(client, name)
            .partition_key(&self.partition_key)
            .sort_key(&self.sort_key)
            .separator(self.separator);
        if let Some(index) = &self.type_index {
            builder = builder.type_index(index);
        }
        if let Some(index) = &self.tenant_type_index {
            builder = builder.tenant_type_index(index);
        }
        if let Some(attribute) = &self.ttl_attribute {
            builder = builder.ttl_attribute(attribute);
        }
        for index in &self.indexes {
            builder = builder.index(&index.name, &index.partition_key, &index.sort_key);
        }
        builder.build()
    }
}

/// The table name from `--table`, else from the description file.
pub fn table_name(flag: Option<&str>, file: Option<&TableFile>) -> Result<String> {
    flag.map(str::to_owned)
        .or_else(|| file.and_then(|file| file.name.clone()))
        .ok_or_else(|| {
            Error::Invalid(
                "no table name: pass --table NAME, or --file with a description that sets `name`"
                    .into(),
            )
        })
}

/// What a name could have been, for an error: `placeholders: a, b` or `placeholders: none`.
fn one_of(what: &str, names: &[&str]) -> String {
    if names.is_empty() {
        format!("{what}: none")
    } else {
        format!("{what}: {}", names.join(", "))
    }
}

/// The 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before, |i| &before[i + 1..]);
    (line, column.chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses() {
        let file = TableFile::parse(include_str!("../examples/table.toml")).unwrap();
        assert_eq!(file.name.as_deref(), Some("MultiTenantApp"));
        assert_eq!(file.separator, '#');
        assert!(file.entity("TEAM").is_some());
    }

    #[test]
    fn defaults_fill_the_keys_and_separator() {
        let file = TableFile::parse("name = \"T\"").unwrap();
        assert_eq!(
            (
                file.partition_key.as_str(),
                file.sort_key.as_str(),
                file.separator
            ),
            ("pk", "sk", '#')
        );
    }

    #[test]
    fn a_misspelt_field_names_its_line() {
        let error = TableFile::parse("name = \"T\"\nsort_kye = \"sk\"\n").unwrap_err();
        assert!(
            error.starts_with(":2:1: unknown field `sort_kye`"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_template_names_the_entity() {
        let text = "[[entity]]\ntype = \"TEAM\"\npk = \"ORG#<a><b>\"\n";
        let error = TableFile::parse(text).unwrap_err();
        assert!(
            error.starts_with(": entity `TEAM`: pk template `ORG#<a><b>`"),
            "{error}"
        );
    }

    #[test]
    fn a_tenant_that_is_no_placeholder_is_refused() {
        let text = "[[entity]]\ntype = \"TEAM\"\npk = \"T#<tenant_id>\"\nsk = \"TEAM#<id>\"\n\
                    tenant = \"tenant\"\n";
        assert_eq!(
            TableFile::parse(text).unwrap_err(),
            ": entity `TEAM`: tenant `tenant` is not a placeholder of its templates; \
             placeholders: tenant_id, id"
        );
        let text = text.replace("\"tenant\"", "\"id\"");
        assert_eq!(
            TableFile::parse(&text).unwrap().entities[0]
                .tenant
                .as_deref(),
            Some("id")
        );
    }

    #[test]
    fn an_undeclared_index_is_refused() {
        let text = "[[index]]\nname = \"ByEmail\"\npartition_key = \"a\"\nsort_key = \"b\"\n\
                    [[entity]]\ntype = \"USER\"\npk = \"U#<id>\"\nindexes = [\"ByMail\"]\n";
        assert_eq!(
            TableFile::parse(text).unwrap_err(),
            ": entity `USER`: index `ByMail` is not a declared `[[index]]`; declared: ByEmail"
        );
        let text = text.replace("ByMail", "ByEmail");
        let file = TableFile::parse(&text).unwrap();
        assert_eq!(file.entities[0].indexes, ["ByEmail"]);
        assert_eq!(
            file.index("ByEmail").map(|i| i.partition_key.as_str()),
            Some("a")
        );
    }

    #[test]
    fn an_entity_type_twice_is_refused() {
        let text = "[[entity]]\ntype = \"A\"\npk = \"A\"\n[[entity]]\ntype = \"A\"\npk = \"B\"\n";
        assert!(TableFile::parse(text)
            .unwrap_err()
            .contains("described twice"));
    }
}
