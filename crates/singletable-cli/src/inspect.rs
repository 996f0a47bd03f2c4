//! `inspect`: read a partition or the whole table and print the items by type, keys parsed
//! back into their parameters, and say which items an index does not list because they lack
//! its key attributes (written by another writer, an import or a script).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeyType};
use base64::Engine as _;
use indicatif::{ProgressBar, ProgressStyle};
use singletable_core::item::{TENANT_TYPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE, TYPE_ATTRIBUTE};
use singletable_core::Template;

use crate::connect::Target;
use crate::describe::{IndexFile, TableArgs, TableFile};
use crate::error::{Error, Result};

/// The group of items that carry no `_type`.
const UNTYPED: &str = "(no _type)";

/// Options of `inspect`.
#[derive(clap::Args, Clone, Debug)]
pub struct InspectArgs {
    /// The table, and the description whose entity templates name the key parameters and
    /// whose indexes tell which items they do not list
    #[command(flatten)]
    pub table: TableArgs,
    /// Read only the partition with this partition key value (a Query instead of a Scan)
    #[arg(long, value_name = "PK")]
    pub partition: Option<String>,
    /// Stop after this many items
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// How `inspect` prints items.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text, one block per item, grouped by type.
    Table,
    /// One JSON document: `{ "TYPE": [ {"pk", "sk", "keys", "item"} ] }`; the counts of
    /// items an index does not list go to standard error.
    Json,
}

/// One item as `inspect` shows it.
struct Entry {
    /// The partition key value.
    pk: String,
    /// The sort key value, if the table has a sort key.
    sk: Option<String>,
    /// The key parameters and their values, partition key first.
    keys: Vec<(String, String)>,
    /// Every attribute of the item, as plain JSON.
    item: BTreeMap<String, serde_json::Value>,
}

/// An attribute, or pair of attributes, an index lists items by and that an item can lack.
enum Needed<'f> {
    /// `_timestamp`, the sort key of the type index and of the tenant type index.
    Timestamp {
        /// Whether the type index lists the entity.
        type_index: bool,
        /// Whether the tenant type index lists the entity.
        tenant_type_index: bool,
    },
    /// `_tenant_type`, the partition key of the tenant type index.
    TenantType,
    /// Both keys of an `[[index]]` the entity's items carry.
    IndexKeys(&'f IndexFile),
}

impl Needed<'_> {
    /// Whether `item` lacks it.
    fn is_missing(&self, item: &BTreeMap<String, serde_json::Value>) -> bool {
        match self {
            Needed::Timestamp { .. } => !item.contains_key(TIMESTAMP_ATTRIBUTE),
            Needed::TenantType => !item.contains_key(TENANT_TYPE_ATTRIBUTE),
            Needed::IndexKeys(index) => {
                !item.contains_key(&index.partition_key) || !item.contains_key(&index.sort_key)
            }
        }
    }
}

/// What the items of `entity_type` need to be listed by the indexes of `file`: `_timestamp`
/// for the type index (and the tenant type index), `_tenant_type` for the tenant type index
/// when the entity has a `tenant`, and the keys of each of the entity's `indexes`.
fn needed<'f>(file: &'f TableFile, entity_type: &str) -> Vec<Needed<'f>> {
    let entity = file.entity(entity_type);
    let tenant_type_index =
        file.tenant_type_index.is_some() && entity.is_some_and(|e| e.tenant.is_some());
    let type_index = file.type_index.is_some();
    let mut needed = Vec::new();
    if type_index || tenant_type_index {
        needed.push(Needed::Timestamp {
            type_index,
            tenant_type_index,
        });
    }
    if tenant_type_index {
        needed.push(Needed::TenantType);
    }
    let indexes = entity.map_or(&[][..], |e| &e.indexes);
    needed.extend(
        indexes
            .iter()
            .filter_map(|name| file.index(name))
            .map(Needed::IndexKeys),
    );
    needed
}

/// One line per attribute some items of `entity_type` lack, such as `3 of 10 items have no
/// _tenant_type: …`, over the `entries` read; `limited` when `--limit` may have cut them short.
fn gaps(file: &TableFile, entity_type: &str, entries: &[Entry], limited: bool) -> Vec<String> {
    let read = entries.len();
    let of = match (limited, read) {
        (false, _) => format!("{read} item{}", plural(read)),
        (true, 1) => "the 1 item read".to_owned(),
        (true, _) => format!("the {read} items read"),
    };
    let all_tenants = file.entity(entity_type).is_some_and(|e| e.tenant.is_some());
    let reindex = format!(
        "`singletable reindex --type {entity_type}{}`",
        if all_tenants { " --all-tenants" } else { "" }
    );
    needed(file, entity_type)
        .iter()
        .filter_map(|needed| {
            let count = entries
                .iter()
                .filter(|e| needed.is_missing(&e.item))
                .count();
            if count == 0 {
                return None;
            }
            let (have, them) = if count == 1 {
                ("has", "it")
            } else {
                ("have", "them")
            };
            let gap = match needed {
                Needed::Timestamp {
                    type_index,
                    tenant_type_index,
                } => {
                    let indexes = match (type_index, tenant_type_index) {
                        (true, true) => "the type index and the tenant type index do",
                        (true, false) => "the type index does",
                        (false, _) => "the tenant type index does",
                    };
                    format!("no {TIMESTAMP_ATTRIBUTE}: {indexes} not list {them}; run {reindex}")
                }
                Needed::TenantType => format!(
                    "no {TENANT_TYPE_ATTRIBUTE}: the tenant type index does not list {them}; \
                     run {reindex}"
                ),
                Needed::IndexKeys(index) => format!(
                    "no keys of index {} ({}, {}): the index does not list {them}, as intended \
                     if it is sparse; otherwise run {reindex}",
                    index.name, index.partition_key, index.sort_key
                ),
            };
            Some(format!("{count} of {of} {have} {gap}"))
        })
        .collect()
}

/// The names of a table's key attributes.
struct KeyNames {
    pk: String,
    sk: Option<String>,
}

/// Runs `inspect` on `table`, parsing keys with the entities of `file`, writing to `out`.
/// The table and file options of `args` are not read here.
pub async fn inspect(
    target: &Target,
    table: &str,
    file: Option<&TableFile>,
    args: &InspectArgs,
    out: &mut dyn Write,
) -> Result<()> {
    let names = key_names(target, table).await?;
    let items = read(target, table, &names, args).await?;
    let limited = args
        .limit
        .is_some_and(|limit| items.len() >= limit as usize);
    let separator = file.map_or(singletable_keys::DEFAULT_SEPARATOR, |f| f.separator);
    let mut groups: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for item in items {
        let entity_type = match item.get(TYPE_ATTRIBUTE) {
            Some(AttributeValue::S(t)) => t.clone(),
            _ => UNTYPED.to_owned(),
        };
        let templates = file.and_then(|f| f.entity(&entity_type));
        let pk = key_text(item.get(&names.pk));
        let sk = names.sk.as_ref().map(|name| key_text(item.get(name)));
        let mut keys = parse_key(&pk, templates.map(|e| e.pk.as_str()), separator);
        if let Some(sk) = &sk {
            let template = templates.and_then(|e| e.sk.as_deref());
            keys.extend(parse_key(sk, template, separator));
        }
        groups.entry(entity_type).or_default().push(Entry {
            pk,
            sk,
            keys,
            item: to_json(item),
        });
    }
    for entries in groups.values_mut() {
        entries.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
    }
    let gaps: BTreeMap<&str, Vec<String>> = match file {
        Some(file) => groups
            .iter()
            .filter(|(entity_type, _)| *entity_type != UNTYPED)
            .map(|(entity_type, entries)| {
                let lines = gaps(file, entity_type, entries, limited);
                (entity_type.as_str(), lines)
            })
            .filter(|(_, lines)| !lines.is_empty())
            .collect(),
        None => BTreeMap::new(),
    };
    match args.format {
        Format::Table => write_table(&groups, &gaps, &names, out),
        Format::Json => {
            // The document has one array per type and no place for counts; it stays as it is
            // and the counts go where a reader of the terminal sees them.
            write_json(&groups, out).and_then(|()| write_warnings(&gaps))
        }
    }
    .map_err(Error::output)
}

/// The lines of `gaps` on standard error, as `warning: TEAM: 3 of 10 items have no …`.
fn write_warnings(gaps: &BTreeMap<&str, Vec<String>>) -> std::io::Result<()> {
    let stderr = std::io::stderr();
    let mut stderr = stderr.lock();
    for (entity_type, lines) in gaps {
        for line in lines {
            writeln!(stderr, "warning: {entity_type}: {line}")?;
        }
    }
    Ok(())
}

/// Asks DynamoDB for the key attribute names, which also tells a missing table apart.
async fn key_names(target: &Target, table: &str) -> Result<KeyNames> {
    let output = target
        .client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| Error::sdk(e, "DescribeTable", table, &target.place))?;
    let schema = output.table().map(|t| t.key_schema()).unwrap_or_default();
    let find = |key_type: KeyType| {
        schema
            .iter()
            .find(|k| k.key_type() == &key_type)
            .map(|k| k.attribute_name().to_owned())
    };
    let pk = find(KeyType::Hash)
        .ok_or_else(|| Error::Invalid(format!("table `{table}` reports no partition key")))?;
    Ok(KeyNames {
        pk,
        sk: find(KeyType::Range),
    })
}

/// Every item of the partition or the table, following pages to the end or the limit.
async fn read(
    target: &Target,
    table: &str,
    names: &KeyNames,
    args: &InspectArgs,
) -> Result<Vec<HashMap<String, AttributeValue>>> {
    let limit = args.limit.map(|n| n as usize);
    let progress = ProgressBar::new_spinner();
    progress.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(Duration::from_millis(120));
    let operation = if args.partition.is_some() {
        "Query"
    } else {
        "Scan"
    };
    let mut items = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let page_limit = limit.map(|l| i32::try_from(l - items.len()).unwrap_or(i32::MAX));
        let (page, next) = if let Some(pk) = &args.partition {
            let output = target
                .client
                .query()
                .table_name(table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", &names.pk)
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .set_exclusive_start_key(start)
                .set_limit(page_limit)
                .send()
                .await;
            let output = output.map_err(|e| Error::sdk(e, operation, table, &target.place))?;
            (output.items, output.last_evaluated_key)
        } else {
            let output = target
                .client
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .set_limit(page_limit)
                .send()
                .await;
            let output = output.map_err(|e| Error::sdk(e, operation, table, &target.place))?;
            (output.items, output.last_evaluated_key)
        };
        items.extend(page.unwrap_or_default());
        pages += 1;
        progress.set_message(format!("{operation}: {} items, {pages} pages", items.len()));
        let done = limit.is_some_and(|l| items.len() >= l);
        match next {
            Some(key) if !key.is_empty() && !done => start = Some(key),
            _ => break,
        }
    }
    progress.finish_and_clear();
    Ok(items)
}

/// A key attribute's value as text (key attributes can be numbers or binary too).
pub(crate) fn key_text(value: Option<&AttributeValue>) -> String {
    match value {
        Some(AttributeValue::S(s)) | Some(AttributeValue::N(s)) => s.clone(),
        Some(other) => json(other).to_string(),
        None => String::new(),
    }
}

/// The parameters of `key`: named by `template` when it matches, otherwise the key split on
/// `separator` into `literal = value` pairs (`TENANT#t1#ORG#o1` gives `TENANT = t1, ORG = o1`).
pub fn parse_key(key: &str, template: Option<&str>, separator: char) -> Vec<(String, String)> {
    let parsed = template
        .and_then(|text| Template::parse(text).ok())
        .and_then(|template| {
            let values = template.parse_key(key, separator).ok()?;
            Some(
                template
                    .params()
                    .zip(values)
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect(),
            )
        });
    parsed.unwrap_or_else(|| split_key(key, separator))
}

/// Pairs of literal and value; a trailing literal without a value (`#METADATA`) names none.
fn split_key(key: &str, separator: char) -> Vec<(String, String)> {
    let parts: Vec<&str> = key.split(separator).filter(|p| !p.is_empty()).collect();
    parts
        .chunks_exact(2)
        .map(|pair| (pair[0].to_owned(), pair[1].to_owned()))
        .collect()
}

fn to_json(item: HashMap<String, AttributeValue>) -> BTreeMap<String, serde_json::Value> {
    item.iter()
        .map(|(name, value)| (name.clone(), json(value)))
        .collect()
}

/// An attribute value as plain JSON: numbers as numbers (as strings when a JSON reader would
/// lose digits), sets and lists as arrays, maps as objects, binary as base64 text.
pub(crate) fn json(value: &AttributeValue) -> serde_json::Value {
    use serde_json::Value;
    let binary = |blob: &aws_sdk_dynamodb::primitives::Blob| {
        Value::String(base64::engine::general_purpose::STANDARD.encode(blob.as_ref()))
    };
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::B(blob) => binary(blob),
        AttributeValue::Ss(set) => set.iter().map(|s| Value::String(s.clone())).collect(),
        AttributeValue::Ns(set) => set.iter().map(|n| number(n)).collect(),
        AttributeValue::Bs(set) => set.iter().map(binary).collect(),
        AttributeValue::L(list) => list.iter().map(json).collect(),
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(name, value)| (name.clone(), json(value)))
                .collect(),
        ),
        // A type newer than this SDK: its name at least.
        other => Value::String(format!("{other:?}")),
    }
}

/// A DynamoDB number (up to 38 digits) as a JSON number when a double holds it exactly enough,
/// otherwise as a string with every digit.
fn number(text: &str) -> serde_json::Value {
    if let Ok(n) = text.parse::<i64>() {
        return n.into();
    }
    if let Ok(n) = text.parse::<u64>() {
        return n.into();
    }
    let mantissa = text
        .trim_start_matches(['-', '+'])
        .split(['e', 'E'])
        .next()
        .unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    // Any decimal of at most 15 significant digits survives a round trip through a double.
    match text.parse::<f64>() {
        Ok(n) if significant <= 15 => {
            serde_json::Number::from_f64(n).map_or_else(|| text.into(), serde_json::Value::Number)
        }
        _ => text.into(),
    }
}

/// Whether `name` is one of the attributes the runtime keeps for itself (`_type`,
/// `_timestamp`, `_tenant_type`, `_deleted_at`, and any later one: they all start with `_`).
pub(crate) fn is_internal(name: &str) -> bool {
    name.starts_with('_')
}

fn write_table(
    groups: &BTreeMap<String, Vec<Entry>>,
    gaps: &BTreeMap<&str, Vec<String>>,
    names: &KeyNames,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if groups.is_empty() {
        writeln!(out, "no items")?;
        return Ok(());
    }
    let total: usize = groups.values().map(Vec::len).sum();
    for (entity_type, entries) in groups {
        let count = entries.len();
        writeln!(out, "{entity_type} ({count} item{})", plural(count))?;
        for entry in entries {
            write!(out, "  pk {}", entry.pk)?;
            if let Some(sk) = &entry.sk {
                write!(out, "  sk {sk}")?;
            }
            writeln!(out)?;
            let mut attributes: Vec<(&String, &serde_json::Value)> = entry
                .item
                .iter()
                .filter(|(name, _)| **name != names.pk && Some(*name) != names.sk.as_ref())
                .collect();
            // The entity's own fields first, the table's bookkeeping after.
            attributes.sort_by_key(|(name, _)| is_internal(name));
            let width = attributes
                .iter()
                .map(|(name, _)| name.chars().count())
                .chain(Some("keys".len()))
                .max()
                .unwrap_or(0);
            if !entry.keys.is_empty() {
                let keys: Vec<String> = entry
                    .keys
                    .iter()
                    .map(|(name, value)| format!("{name} = {value}"))
                    .collect();
                writeln!(out, "    {:width$}  {}", "keys", keys.join(", "))?;
            }
            for (name, value) in attributes {
                let mark = if is_internal(name) {
                    "  (internal)"
                } else {
                    ""
                };
                writeln!(out, "    {name:width$}  {value}{mark}")?;
            }
        }
        for line in gaps.get(entity_type.as_str()).into_iter().flatten() {
            writeln!(out, "  {line}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "{total} item{}", plural(total))
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn write_json(groups: &BTreeMap<String, Vec<Entry>>, out: &mut dyn Write) -> std::io::Result<()> {
    let document: serde_json::Map<String, serde_json::Value> = groups
        .iter()
        .map(|(entity_type, entries)| {
            let entries = entries
                .iter()
                .map(|entry| {
                    let keys: serde_json::Map<String, serde_json::Value> = entry
                        .keys
                        .iter()
                        .map(|(name, value)| (name.clone(), value.clone().into()))
                        .collect();
                    serde_json::json!({
                        "pk": entry.pk,
                        "sk": entry.sk,
                        "keys": keys,
                        "item": entry.item,
                    })
                })
                .collect();
            (entity_type.clone(), serde_json::Value::Array(entries))
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_names_the_parameters() {
        let keys = parse_key("TENANT#t1#ORG#o1", Some("TENANT#<tenant_id>#ORG#<id>"), '#');
        assert_eq!(
            keys,
            [
                ("tenant_id".into(), "t1".into()),
                ("id".into(), "o1".into())
            ]
        );
    }

    #[test]
    fn without_a_matching_template_the_literals_name_the_values() {
        let expected: Vec<(String, String)> =
            vec![("TEAM".into(), "a".into()), ("MEMBER".into(), "u1".into())];
        assert_eq!(parse_key("TEAM#a#MEMBER#u1", None, '#'), expected);
        assert_eq!(
            parse_key("TEAM#a#MEMBER#u1", Some("TEAM#<id>"), '#'),
            expected
        );
        assert!(parse_key("#METADATA", None, '#').is_empty());
        assert_eq!(
            parse_key("ORG|o1", None, '|'),
            [("ORG".into(), "o1".into())]
        );
    }

    #[test]
    fn numbers_keep_their_digits() {
        assert_eq!(number("3"), serde_json::json!(3));
        assert_eq!(number("-2.5"), serde_json::json!(-2.5));
        assert_eq!(number("18446744073709551615"), serde_json::json!(u64::MAX));
        assert_eq!(
            number("123456789012345678901234567890"),
            serde_json::json!("123456789012345678901234567890")
        );
        assert_eq!(number("1.5E+3"), serde_json::json!(1500.0));
    }

    #[test]
    fn values_become_plain_json() {
        let map = AttributeValue::M(HashMap::from([
            ("flag".to_owned(), AttributeValue::Bool(true)),
            ("none".to_owned(), AttributeValue::Null(true)),
            ("tags".to_owned(), AttributeValue::Ss(vec!["x".into()])),
            (
                "bytes".to_owned(),
                AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(*b"hi")),
            ),
            (
                "list".to_owned(),
                AttributeValue::L(vec![AttributeValue::N("1".into())]),
            ),
        ]));
        assert_eq!(
            json(&map),
            serde_json::json!({
                "flag": true, "none": null, "tags": ["x"], "bytes": "aGk=", "list": [1]
            })
        );
    }
}
