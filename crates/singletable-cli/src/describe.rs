//! The table description file: what `create-table` creates and what `inspect` parses keys with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    /// The collections: a root entity and the items of its partition joined to it.
    #[serde(default, rename = "collection")]
    pub collections: Vec<CollectionFile>,
}

/// The table options a command that reads a description shares: `--table` and `--file`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TableArgs {
    /// The table [default: `name` in --file]
    #[arg(long)]
    pub table: Option<String>,
    /// Table description: key attributes, separator, indexes, and the entities' key templates
    /// that name the parameters of keys
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
}

impl TableArgs {
    /// The description `--file` names, if any, and the table name from `--table` or from it.
    pub fn load(&self) -> Result<(Option<TableFile>, String)> {
        let file = self.file.as_deref().map(TableFile::load).transpose()?;
        let name = table_name(self.table.as_deref(), file.as_ref())?;
        Ok((file, name))
    }
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
    /// The key templates of some of those indexes, by index name (`[entity.index_keys]`,
    /// `ByEmail = { pk = "EMAIL#<email>", sk = "USER#<id>" }`), which the studio's chart shows.
    #[serde(default)]
    pub index_keys: BTreeMap<String, IndexKeysFile>,
    /// The named range queries on the sort key (`[[entity.range]]`).
    #[serde(default, rename = "range")]
    pub ranges: Vec<RangeFile>,
}

/// The key templates an entity writes into one index.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IndexKeysFile {
    /// Template of the index partition key.
    pub pk: String,
    /// Template of the index sort key.
    pub sk: String,
}

/// A named range query on an entity's sort key, as `#[entity(range(...))]` declares one:
/// `name` and exactly one operator with its template, such as
/// `{ name = "by_team", begins_with = "TEAM#<team_id>#MEMBER#" }`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RangeFile {
    /// The query's name.
    pub name: String,
    /// Sort key equal to the template.
    pub eq: Option<String>,
    /// Sort key beginning with the template.
    pub begins_with: Option<String>,
    /// Sort key between the template rendered twice (`from_` and `to_` parameters).
    pub between: Option<String>,
    /// Sort key below the template.
    pub lt: Option<String>,
    /// Sort key at most the template (and every key that continues it).
    pub le: Option<String>,
    /// Sort key above the template (and every key that continues it).
    pub gt: Option<String>,
    /// Sort key at least the template.
    pub ge: Option<String>,
}

impl RangeFile {
    /// Every operator given, with its template: exactly one in a checked description.
    pub fn operators(&self) -> Vec<(&'static str, &str)> {
        [
            ("eq", &self.eq),
            ("begins_with", &self.begins_with),
            ("between", &self.between),
            ("lt", &self.lt),
            ("le", &self.le),
            ("gt", &self.gt),
            ("ge", &self.ge),
        ]
        .into_iter()
        .filter_map(|(op, template)| template.as_deref().map(|t| (op, t)))
        .collect()
    }
}

/// A collection, a `[[collection]]` table: a root entity and what is joined to it, as
/// `#[derive(Collection)]` declares one.
///
/// ```toml
/// [[collection]]
/// name = "TeamWithMembers"
/// root = "TEAM"
/// join = [{ field = "members", type = "TEAM_MEMBER", on = { team_id = "id" }, order_by = "username" }]
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CollectionFile {
    /// The collection's name.
    pub name: String,
    /// The `type` of the root entity.
    pub root: String,
    /// What is joined to the root.
    #[serde(default)]
    pub join: Vec<JoinFile>,
}

/// One joined field of a collection: an entity, or a collection declared before this one.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JoinFile {
    /// The field's name.
    pub field: String,
    /// The `type` of the joined entity.
    #[serde(rename = "type")]
    pub entity_type: Option<String>,
    /// The name of the joined collection.
    pub collection: Option<String>,
    /// A join by relation: each key parameter of the joined item that must equal a key
    /// parameter of its parent (`team_id = "id"`). Empty: every item of the type is joined.
    #[serde(default)]
    pub on: BTreeMap<String, String>,
    /// The attribute the joined items are ordered by.
    pub order_by: Option<String>,
}

impl EntityFile {
    /// The placeholders of its partition and sort key templates, in order (once each).
    pub fn params(&self) -> impl Iterator<Item = String> + '_ {
        let mut seen: Vec<String> = Vec::new();
        [Some(&self.pk), self.sk.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|text| Template::parse(text).ok())
            .flat_map(|t| t.params().map(str::to_owned).collect::<Vec<_>>())
            .filter(move |p| {
                let new = !seen.contains(p);
                if new {
                    seen.push(p.clone());
                }
                new
            })
    }
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
            for (index, keys) in &entity.index_keys {
                if !entity.indexes.contains(index) {
                    return Err(format!(
                        "entity `{name}`: index_keys `{index}` is not one of its `indexes`"
                    ));
                }
                for (key, template) in [("pk", &keys.pk), ("sk", &keys.sk)] {
                    Template::parse(template).map_err(|error| {
                        format!(
                            "entity `{name}`: index `{index}` {key} template `{template}`: {error}"
                        )
                    })?;
                }
            }
            for range in &entity.ranges {
                let range_name = &range.name;
                let operators = range.operators();
                let [(_, template)] = operators[..] else {
                    return Err(format!(
                        "entity `{name}`: range `{range_name}` needs exactly one operator of \
                         eq, begins_with, between, lt, le, gt, ge"
                    ));
                };
                Template::parse(template).map_err(|error| {
                    format!("entity `{name}`: range `{range_name}` template `{template}`: {error}")
                })?;
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
        self.check_collections()
    }

    fn check_collections(&self) -> std::result::Result<(), String> {
        for (i, collection) in self.collections.iter().enumerate() {
            let name = &collection.name;
            if self.collections[..i].iter().any(|c| &c.name == name) {
                return Err(format!("collection `{name}` is described twice"));
            }
            let root = self.entity(&collection.root).ok_or_else(|| {
                format!(
                    "collection `{name}`: root `{}` is not a described entity",
                    collection.root
                )
            })?;
            for join in &collection.join {
                let field = &join.field;
                let joined = match (&join.entity_type, &join.collection) {
                    (Some(entity_type), None) => self.entity(entity_type).ok_or_else(|| {
                        format!("collection `{name}`: `{field}` joins `{entity_type}`, which is not a described entity")
                    })?,
                    (None, Some(joined)) => {
                        let joined = self.collections[..i]
                            .iter()
                            .find(|c| &c.name == joined)
                            .ok_or_else(|| {
                                format!(
                                    "collection `{name}`: `{field}` joins collection `{joined}`, \
                                     which is not described before it"
                                )
                            })?;
                        self.entity(&joined.root)
                            .ok_or_else(|| format!("collection `{}` has no root", joined.name))?
                    }
                    _ => {
                        return Err(format!(
                            "collection `{name}`: `{field}` needs exactly one of `type` and `collection`"
                        ))
                    }
                };
                if joined.pk != root.pk {
                    return Err(format!(
                        "collection `{name}`: `{field}` has partition key `{}`, but the root has \
                         `{}`: one query reads one partition",
                        joined.pk, root.pk
                    ));
                }
                for (child, parent) in &join.on {
                    if !joined.params().any(|p| &p == child) {
                        return Err(format!(
                            "collection `{name}`: `{field}`: `{child}` is not a key parameter of `{}`",
                            joined.entity_type
                        ));
                    }
                    if !root.params().any(|p| &p == parent) {
                        return Err(format!(
                            "collection `{name}`: `{field}`: `{parent}` is not a key parameter of `{}`",
                            root.entity_type
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The description of `table` and of the entities a service registers in its own binary,
    /// for the studio without a description file: the table's key attributes, separator,
    /// indexes and time to live, and each entity's type, key templates, tenant placeholder and
    /// index keys, as its derive declares them. The derive's range queries and collections are
    /// not known at run time: push them onto `collections` and each entity's `ranges` to show
    /// them.
    ///
    /// ```no_run
    /// # use singletable_cli::{Entities, TableFile};
    /// # fn run(table: &singletable_core::Table, entities: Entities) {
    /// let description = TableFile::of(table, &entities);
    /// # }
    /// ```
    pub fn of(table: &Table, entities: &crate::Entities) -> TableFile {
        let entities = entities.describe();
        TableFile {
            name: Some(table.name().to_owned()),
            partition_key: table.partition_key().to_owned(),
            sort_key: table.sort_key().to_owned(),
            separator: table.separator(),
            type_index: table.type_index().map(str::to_owned),
            tenant_type_index: table.tenant_type_index().map(str::to_owned),
            ttl_attribute: table.ttl_attribute().map(str::to_owned),
            indexes: table
                .indexes()
                .iter()
                .map(|index| IndexFile {
                    name: index.name.clone(),
                    partition_key: index.partition_key.clone(),
                    sort_key: index.sort_key.clone(),
                })
                .collect(),
            entities,
            collections: Vec::new(),
        }
    }

    /// The `[[collection]]` called `name`.
    pub fn collection(&self, name: &str) -> Option<&CollectionFile> {
        self.collections.iter().find(|c| c.name == name)
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

    const TEAMS: &str = "[[entity]]\ntype = \"TEAM\"\npk = \"ORG#<org>\"\nsk = \"TEAM#<id>\"\n\
                         [[entity]]\ntype = \"MEMBER\"\npk = \"ORG#<org>\"\n\
                         sk = \"TEAM#<team_id>#MEMBER#<id>\"\n";

    #[test]
    fn collections_are_checked_against_the_entities() {
        let ok = format!(
            "{TEAMS}[[collection]]\nname = \"Team\"\nroot = \"TEAM\"\n\
             join = [{{ field = \"members\", type = \"MEMBER\", on = {{ team_id = \"id\" }} }}]\n\
             [[collection]]\nname = \"Org\"\nroot = \"TEAM\"\n\
             join = [{{ field = \"teams\", collection = \"Team\" }}]\n"
        );
        let file = TableFile::parse(&ok).unwrap();
        assert_eq!(
            file.collection("Org").unwrap().join[0]
                .collection
                .as_deref(),
            Some("Team")
        );
        let refused =
            |from: &str, to: &str| TableFile::parse(&ok.replacen(from, to, 1)).unwrap_err();
        assert_eq!(
            refused("on = { team_id", "on = { team"),
            ": collection `Team`: `members`: `team` is not a key parameter of `MEMBER`"
        );
        assert_eq!(
            refused("type = \"MEMBER\", on", "type = \"MEMBERS\", on"),
            ": collection `Team`: `members` joins `MEMBERS`, which is not a described entity"
        );
        assert_eq!(
            refused("collection = \"Team\"", "collection = \"Org\""),
            ": collection `Org`: `teams` joins collection `Org`, which is not described before it"
        );
        assert!(refused(
            "pk = \"ORG#<org>\"\nsk = \"TEAM#<team_id>",
            "pk = \"X#<org>\"\nsk = \"TEAM#<team_id>"
        )
        .contains("one query reads one partition"));
    }

    #[test]
    fn a_range_has_one_operator_and_index_keys_a_carried_index() {
        let range = format!(
            "{TEAMS}[[entity.range]]\nname = \"by_team\"\nbegins_with = \"TEAM#<team_id>#\"\n"
        );
        let file = TableFile::parse(&range).unwrap();
        assert_eq!(
            file.entity("MEMBER").unwrap().ranges[0].operators(),
            [("begins_with", "TEAM#<team_id>#")]
        );
        let two = range.replace("begins_with = ", "eq = \"TEAM\"\nbegins_with = ");
        assert!(TableFile::parse(&two)
            .unwrap_err()
            .contains("exactly one operator"));
        let keys = "[[index]]\nname = \"ByEmail\"\npartition_key = \"a\"\nsort_key = \"b\"\n\
                    [[entity]]\ntype = \"USER\"\npk = \"U#<id>\"\nindexes = [\"ByEmail\"]\n\
                    [entity.index_keys]\nByEmail = { pk = \"E#<email>\", sk = \"U#<id>\" }\n";
        assert_eq!(
            TableFile::parse(keys).unwrap().entities[0].index_keys["ByEmail"].pk,
            "E#<email>"
        );
        assert_eq!(
            TableFile::parse(&keys.replace("indexes = [\"ByEmail\"]", "")).unwrap_err(),
            ": entity `USER`: index_keys `ByEmail` is not one of its `indexes`"
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
