//! `studio`: a local web app over one table, drawn from its description: a description file,
//! or the entities a service registers in its own binary ([`TableFile::of`]).
//!
//! The pages, one module each:
//!
//! - `/` (`chart.rs`): the entity chart, entities × key attributes as a single-table designer
//!   sketches it, with each entity's range queries and the collections;
//! - `/counts` (`counts.rs`): item counts per entity type and per tenant;
//! - `/partition` (`partition.rs`): the items of one partition, found by the parameters of an
//!   entity's partition key template, one page at a time, grouped by type, keys parsed back;
//! - `/collection` (`collection.rs`): a collection's root and its joined items as a tree;
//! - `/audit` (`audit.rs`): an item's audit trail as a timeline of old → new values.
//!
//! Every page is HTML rendered on the server (with [`maud`], which escapes every value it
//! splices, so item values, which are user data, cannot inject markup); the stylesheet and the
//! few lines of script are compiled into the binary. Every route answers `GET` only: the studio
//! writes nothing. It listens on a loopback address only.
//!
//! It reads across tenants, as `inspect` does: it is a tool for a developer's own table, with
//! raw reads where no entity type is known at compile time, and the runtime's audit trail (in the
//! item's tenant scope) for the timeline.

mod audit;
mod chart;
mod collection;
mod counts;
mod partition;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use maud::{html, Markup, DOCTYPE};
use singletable_core::item::TYPE_ATTRIBUTE;
use singletable_core::{Table, Template};

use crate::connect::Target;
use crate::describe::{EntityFile, TableArgs, TableFile};
use crate::error::{Error, Result};
use crate::inspect::{is_internal, json, key_text, parse_key};
use crate::local::Signals;

/// Items per partition page when the address does not say.
const DEFAULT_PAGE_SIZE: usize = 25;
/// The most items a partition page holds.
const MAX_PAGE_SIZE: usize = 200;

/// Options of `studio`.
#[derive(clap::Args, Clone, Debug)]
pub struct StudioArgs {
    /// The table and its description, whose templates draw the chart and name the parameters
    /// of keys (needed unless the binary registers its entities)
    #[command(flatten)]
    pub table: TableArgs,
    /// Port on 127.0.0.1 [default: a free one]
    #[arg(long)]
    pub port: Option<u16>,
}

/// The studio web app over one table: build it with [`Studio::new`], then [`serve`](Studio::serve)
/// it on a listener bound to a loopback address.
///
/// A service can start it in its own binary, on the description of its table:
///
/// ```no_run
/// # async fn run(target: singletable_cli::Target) -> singletable_cli::Result<()> {
/// use singletable_cli::studio::Studio;
/// use singletable_cli::TableFile;
///
/// let file = TableFile::load("table.toml".as_ref())?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
/// println!("studio: http://{}/", listener.local_addr().expect("address"));
/// Studio::new(target, "MultiTenantApp", file).serve(listener).await
/// # }
/// ```
#[derive(Clone)]
pub struct Studio {
    state: Arc<State>,
}

impl std::fmt::Debug for Studio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Studio")
            .field("table", &self.state.name)
            .field("place", &self.state.target.place)
            .finish()
    }
}

/// What every page reads from.
struct State {
    target: Target,
    name: String,
    file: TableFile,
    /// The runtime's table, for the reads that go through the runtime (the audit trail).
    table: Table,
}

impl Studio {
    /// The studio of table `name` at `target`, described by `file`.
    pub fn new(target: Target, name: impl Into<String>, file: TableFile) -> Self {
        let name = name.into();
        let table = file.table(target.client.clone(), &name);
        Studio {
            state: Arc::new(State {
                target,
                name,
                file,
                table,
            }),
        }
    }

    /// The routes, for embedding the studio in another server; [`serve`](Self::serve) checks
    /// the table and the address first.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(chart::page))
            .route("/counts", get(counts::page))
            .route("/partition", get(partition::page))
            .route("/collection", get(collection::page))
            .route("/audit", get(audit::page))
            .route("/studio.css", get(stylesheet))
            .route("/studio.js", get(script))
            .fallback(not_found)
            .layer(axum::middleware::from_fn(loopback_host))
            .with_state(self.state.clone())
    }

    /// Serves the studio on `listener` until the future is dropped. Refuses a listener that is
    /// not bound to a loopback address, and a table that does not exist.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> Result<()> {
        loopback(&listener)?;
        self.check().await?;
        self.run(listener).await
    }

    /// Asks DynamoDB whether the table exists, so that a wrong name or endpoint is said at the
    /// start rather than on every page.
    async fn check(&self) -> Result<()> {
        let state = &self.state;
        state
            .target
            .client
            .describe_table()
            .table_name(&state.name)
            .send()
            .await
            .map(drop)
            .map_err(|e| Error::sdk(e, "DescribeTable", &state.name, &state.target.place))
    }

    async fn run(self, listener: tokio::net::TcpListener) -> Result<()> {
        axum::serve(listener, self.router())
            .await
            .map_err(|source| Error::Io {
                action: "the studio server failed",
                source,
            })
    }
}

/// The listener's address, refused unless it is a loopback address.
fn loopback(listener: &tokio::net::TcpListener) -> Result<SocketAddr> {
    let address = listener.local_addr().map_err(|source| Error::Io {
        action: "cannot read the listener's address",
        source,
    })?;
    if !address.ip().is_loopback() {
        return Err(Error::Invalid(format!(
            "studio serves on a loopback address only, not {address}"
        )));
    }
    Ok(address)
}

/// Runs `studio` on `table` at `target`: binds 127.0.0.1 (`--port`, else a free port), writes
/// `studio: http://127.0.0.1:PORT/` to `out`, and serves until Ctrl-C (SIGINT) or SIGTERM.
pub async fn studio(
    target: &Target,
    table: &str,
    file: Option<TableFile>,
    args: &StudioArgs,
    out: &mut dyn Write,
) -> Result<()> {
    let file = file.ok_or_else(|| {
        Error::Invalid(
            "studio needs the table's description: pass --file table.toml (see \
             `examples/table.toml` of singletable-cli), or register the entities in your own \
             binary with `singletable_cli::run_with`"
                .into(),
        )
    })?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port.unwrap_or(0)));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| Error::Io {
            action: "cannot listen on 127.0.0.1",
            source,
        })?;
    let bound = loopback(&listener)?;
    let studio = Studio::new(target.clone(), table, file);
    studio.check().await?;
    let signals = Signals::install().map_err(|source| Error::Io {
        action: "cannot listen for signals",
        source,
    })?;
    // Scripts and people read this line to learn the address, so it must not wait in a buffer.
    writeln!(out, "studio: http://{bound}/")
        .and_then(|()| out.flush())
        .map_err(Error::output)?;
    tokio::select! {
        result = studio.run(listener) => result,
        () = signals.wait() => Ok(()),
    }
}

/// Refuses a request whose `Host` is not a loopback name: a page of another site whose name
/// was made to resolve to 127.0.0.1 (DNS rebinding) must not read the table through the
/// visitor's browser.
async fn loopback_host(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("");
    if is_loopback_host(host) {
        next.run(request).await
    } else {
        PageError::Forbidden(format!(
            "host `{host}` is not a loopback address; open the studio at the address it printed"
        ))
        .into_response()
    }
}

/// Whether `host` (a `Host` header: name and optional port) names this machine.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("studio.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("studio.js"),
    )
        .into_response()
}

async fn not_found() -> PageError {
    PageError::NotFound("no such page".into())
}

/// The parameters of a page's address, by name.
type Params = BTreeMap<String, String>;

/// The parameters of the address, or the page that says why they cannot be read.
fn params(query: std::result::Result<Query<Params>, QueryRejection>) -> Result<Params, PageError> {
    query
        .map(|Query(params)| params)
        .map_err(|rejection| PageError::BadRequest(rejection.body_text()))
}

/// Why a page cannot be shown; rendered as a page that says so.
enum PageError {
    /// The address asks for something that cannot be (HTTP 400), such as a parameter missing.
    BadRequest(String),
    /// No such page or thing (HTTP 404).
    NotFound(String),
    /// The request did not come for a loopback address (HTTP 403).
    Forbidden(String),
    /// DynamoDB failed (HTTP 502).
    Upstream(String),
}

impl From<Error> for PageError {
    fn from(error: Error) -> Self {
        PageError::Upstream(error.to_string())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            PageError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            PageError::NotFound(message) => (StatusCode::NOT_FOUND, message),
            PageError::Forbidden(message) => (StatusCode::FORBIDDEN, message),
            PageError::Upstream(message) => (StatusCode::BAD_GATEWAY, message),
        };
        let body = html! {
            h1 { "Error " (status.as_u16()) }
            p.error data-error { (message) }
            p { a href="/" { "Back to the entity chart" } }
        };
        (status, layout("Error", "", body)).into_response()
    }
}

/// The page around `body`: title, navigation, stylesheet and script.
fn layout(title: &str, active: &str, body: Markup) -> Markup {
    let link = |href: &str, name: &str, key: &str| {
        html! {
            a href=(href) class=[(key == active).then_some("active")] { (name) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · singletable studio" }
                link rel="stylesheet" href="/studio.css";
                script src="/studio.js" defer {}
            }
            body {
                nav {
                    span.brand { "singletable studio" }
                    (link("/", "Entity chart", "chart"))
                    (link("/counts", "Counts", "counts"))
                    (link("/partition", "Partitions", "partition"))
                    (link("/collection", "Collections", "collection"))
                }
                main { (body) }
            }
        }
    }
}

impl State {
    fn separator(&self) -> char {
        self.file.separator
    }

    fn entity(&self, entity_type: &str) -> Result<&EntityFile, PageError> {
        self.file.entity(entity_type).ok_or_else(|| {
            let known: Vec<&str> = self
                .file
                .entities
                .iter()
                .map(|e| e.entity_type.as_str())
                .collect();
            PageError::BadRequest(format!(
                "no entity `{entity_type}` in the description; entities: {}",
                known.join(", ")
            ))
        })
    }

    /// One Query page of partition `pk` (sort keys meeting `sort` when given), from `start`:
    /// its items and where the next page starts.
    async fn query(
        &self,
        pk: &str,
        sort: Option<&SortKey>,
        limit: Option<usize>,
        start: Option<HashMap<String, AttributeValue>>,
    ) -> Result<(Vec<RawItem>, Option<HashMap<String, AttributeValue>>), PageError> {
        let file = &self.file;
        let mut request = self
            .target
            .client
            .query()
            .table_name(&self.name)
            .expression_attribute_names("#pk", &file.partition_key)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .set_exclusive_start_key(start)
            .set_limit(limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)));
        request = match sort {
            Some(sort) => {
                let (condition, values) = match sort {
                    SortKey::BeginsWith(prefix) => {
                        ("begins_with(#sk, :a)".to_owned(), vec![prefix])
                    }
                    SortKey::Compare(op, value) => (format!("#sk {op} :a"), vec![value]),
                    SortKey::Between(low, high) => {
                        ("#sk BETWEEN :a AND :b".to_owned(), vec![low, high])
                    }
                };
                let mut request = request
                    .key_condition_expression(format!("#pk = :pk AND {condition}"))
                    .expression_attribute_names("#sk", &file.sort_key);
                for (name, value) in [":a", ":b"].into_iter().zip(values) {
                    request =
                        request.expression_attribute_values(name, AttributeValue::S(value.clone()));
                }
                request
            }
            None => request.key_condition_expression("#pk = :pk"),
        };
        let output = request
            .send()
            .await
            .map_err(|e| Error::sdk(e, "Query", &self.name, &self.target.place))?;
        let last = output.last_evaluated_key.filter(|key| !key.is_empty());
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| self.decode(item))
            .collect();
        Ok((items, last))
    }

    /// An item as the pages show it: type, keys parsed back with its entity's templates,
    /// attributes as plain JSON.
    fn decode(&self, item: HashMap<String, AttributeValue>) -> RawItem {
        let file = &self.file;
        let entity_type = match item.get(TYPE_ATTRIBUTE) {
            Some(AttributeValue::S(t)) => Some(t.clone()),
            _ => None,
        };
        let entity = entity_type.as_deref().and_then(|t| file.entity(t));
        let pk = key_text(item.get(&file.partition_key));
        let sk = key_text(item.get(&file.sort_key));
        let mut keys = parse_key(&pk, entity.map(|e| e.pk.as_str()), file.separator);
        keys.extend(parse_key(
            &sk,
            entity.and_then(|e| e.sk.as_deref()),
            file.separator,
        ));
        let mut attributes: Vec<(String, serde_json::Value)> = item
            .iter()
            .filter(|(name, _)| **name != file.partition_key && **name != file.sort_key)
            .map(|(name, value)| (name.clone(), json(value)))
            .collect();
        // The entity's own fields first, the table's bookkeeping after, each by name.
        attributes.sort_by(|a, b| (is_internal(&a.0), &a.0).cmp(&(is_internal(&b.0), &b.0)));
        RawItem {
            entity_type,
            described: entity.is_some(),
            pk,
            sk,
            keys,
            attributes,
        }
    }
}

/// A condition on the sort key of a Query.
enum SortKey {
    /// Sort keys that begin with the text.
    BeginsWith(String),
    /// Sort keys that compare with the text by the operator (`=`, `<`, `<=`, `>`, `>=`).
    Compare(&'static str, String),
    /// Sort keys from the first text to the second, both included.
    Between(String, String),
}

/// An item read from the table, decoded for showing.
struct RawItem {
    /// Its `_type`.
    entity_type: Option<String>,
    /// Whether the description has an entity of that type.
    described: bool,
    pk: String,
    sk: String,
    /// The key parameters and their values, parsed from the keys.
    keys: Vec<(String, String)>,
    /// The attributes other than the key attributes, the entity's fields first.
    attributes: Vec<(String, serde_json::Value)>,
}

impl RawItem {
    fn type_name(&self) -> &str {
        self.entity_type.as_deref().unwrap_or("(no _type)")
    }

    fn key(&self, param: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(name, _)| name == param)
            .map(|(_, value)| value.as_str())
    }

    fn attribute(&self, name: &str) -> Option<&serde_json::Value> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value)
    }
}

/// Renders the key `template` (the `which` key of `entity`, `pk` or `sk`) with the values of
/// its placeholders from `params`; a missing or refused value is a 400 that names the template
/// and the parameter.
fn render_key(
    entity: &str,
    which: &str,
    template: &str,
    params: &Params,
    separator: char,
) -> Result<String, PageError> {
    let invalid = |reason: String| {
        PageError::BadRequest(format!("{entity}: {which} template `{template}`: {reason}"))
    };
    let parsed = Template::parse(template).map_err(|e| invalid(e.to_string()))?;
    let mut values: Vec<&dyn singletable_core::KeyPart> = Vec::new();
    for param in parsed.params() {
        match params.get(param) {
            Some(value) if !value.is_empty() => values.push(value),
            Some(_) => return Err(invalid(format!("parameter `{param}` is empty"))),
            None => return Err(invalid(format!("parameter `{param}` is missing"))),
        }
    }
    let mut key = String::new();
    parsed
        .render(&values, separator, &mut key)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(key)
}

/// The placeholders of `template`, or none when it does not parse (a checked description's
/// templates all do).
fn template_params(template: &str) -> Vec<String> {
    Template::parse(template)
        .map(|t| t.params().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The cursor of the page after `last`: its key, as URL-safe base64 of JSON.
fn make_cursor(last: &HashMap<String, AttributeValue>) -> String {
    let key: BTreeMap<&str, &str> = last
        .iter()
        .filter_map(|(name, value)| value.as_s().ok().map(|v| (name.as_str(), v.as_str())))
        .collect();
    let text = serde_json::to_string(&key).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// The start key a cursor holds, refused unless it is a key of partition `pk`.
fn open_cursor(
    cursor: &str,
    file: &TableFile,
    pk: &str,
) -> Result<HashMap<String, AttributeValue>, PageError> {
    let invalid = || {
        PageError::BadRequest(format!(
            "cursor `{cursor}` is not a cursor of partition `{pk}`"
        ))
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let key: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let names = [&file.partition_key, &file.sort_key];
    if key.get(&file.partition_key).map(String::as_str) != Some(pk)
        || !key.contains_key(&file.sort_key)
        || key.keys().any(|name| !names.contains(&name))
    {
        return Err(invalid());
    }
    Ok(key
        .into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
        .collect())
}

/// The address of `path` with `params`, URL-encoded.
fn address(path: &str, params: &[(&str, &str)]) -> String {
    let mut query = String::new();
    for (name, value) in params {
        query.push(if query.is_empty() { '?' } else { '&' });
        query.push_str(&encode(name));
        query.push('=');
        query.push_str(&encode(value));
    }
    format!("{path}{query}")
}

/// Percent-encodes `text` for a query string.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A JSON value as a page shows it: strings without quotes, the rest as JSON.
fn show(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The links to the pages about `item`: its audit trail, and the collections rooted at its
/// entity.
fn item_links(state: &State, item: &RawItem) -> Markup {
    let Some(entity) = item.entity_type.as_deref().filter(|_| item.described) else {
        return html! {};
    };
    let mut params: Vec<(&str, &str)> = vec![("entity", entity)];
    params.extend(item.keys.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let collections: Vec<(&str, String)> = state
        .file
        .collections
        .iter()
        .filter(|c| c.root == entity)
        .map(|c| {
            let mut with_name = vec![("name", c.name.as_str())];
            with_name.extend(params[1..].iter().copied());
            (c.name.as_str(), address("/collection", &with_name))
        })
        .collect();
    html! {
        span.links {
            a data-link="audit" href=(address("/audit", &params)) { "audit trail" }
            @for (name, href) in &collections {
                " · "
                a data-link="collection" href=(href) { (name) }
            }
        }
    }
}

/// An item as a card: type, keys, parsed parameters and attributes.
fn item_card(state: &State, item: &RawItem) -> Markup {
    html! {
        article.item data-item-type=(item.type_name()) {
            header {
                span.type { (item.type_name()) }
                code.key data-pk { (item.pk) }
                code.key data-sk { (item.sk) }
                (item_links(state, item))
            }
            @if !item.keys.is_empty() {
                dl.params {
                    @for (name, value) in &item.keys {
                        dt { (name) }
                        dd data-param=(name) { (value) }
                    }
                }
            }
            (fields(&item.attributes, true))
        }
    }
}

/// An item's attributes as a grid of names and values; the table's own attributes (muted)
/// only with `internal`.
fn fields(attributes: &[(String, serde_json::Value)], internal: bool) -> Markup {
    html! {
        div.fields {
            @for (name, value) in attributes {
                @let own = is_internal(name);
                @if internal || !own {
                    div.field class=[own.then_some("internal")] {
                        span.name { (name) }
                        span.value data-field=(name) { (show(value)) }
                    }
                }
            }
        }
    }
}

/// A form that asks for `fields` (name and current value), sent with GET to `action` with the
/// `hidden` parameters.
fn params_form(
    action: &str,
    hidden: &[(&str, &str)],
    fields: &[String],
    values: &Params,
    submit: &str,
) -> Markup {
    html! {
        form.params method="get" action=(action) data-form=(action) {
            @for (name, value) in hidden {
                input type="hidden" name=(name) value=(value);
            }
            @for name in fields {
                label {
                    span { (name) }
                    input type="text" name=(name) value=[values.get(name)] required;
                }
            }
            button type="submit" { (submit) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> TableFile {
        toml::from_str(include_str!("../../examples/table.toml")).unwrap()
    }

    #[test]
    fn a_key_renders_from_its_parameters() {
        let params: Params = [("tenant_id", "t1"), ("organization_id", "o1")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .into();
        let key = render_key(
            "TEAM",
            "pk",
            &file().entity("TEAM").unwrap().pk,
            &params,
            '#',
        );
        assert_eq!(key.ok().as_deref(), Some("TENANT#t1#ORG#o1"));
    }

    #[test]
    fn a_missing_or_bad_parameter_names_template_and_parameter() {
        let template = "TENANT#<tenant_id>#ORG#<organization_id>";
        let mut params: Params = [("tenant_id".to_owned(), "t1".to_owned())].into();
        let Err(PageError::BadRequest(message)) = render_key("TEAM", "pk", template, &params, '#')
        else {
            panic!("a missing parameter is refused");
        };
        assert_eq!(
            message,
            "TEAM: pk template `TENANT#<tenant_id>#ORG#<organization_id>`: \
             parameter `organization_id` is missing"
        );
        params.insert("organization_id".into(), "a#b".into());
        let Err(PageError::BadRequest(message)) = render_key("TEAM", "pk", template, &params, '#')
        else {
            panic!("a value with the separator is refused");
        };
        assert!(
            message.contains("`<organization_id>`") && message.contains(template),
            "{message}"
        );
    }

    #[test]
    fn a_cursor_opens_only_in_its_partition() {
        let file = file();
        let last = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("P".into())),
            ("sk".to_owned(), AttributeValue::S("S".into())),
        ]);
        let cursor = make_cursor(&last);
        assert_eq!(open_cursor(&cursor, &file, "P").ok(), Some(last));
        assert!(open_cursor(&cursor, &file, "Q").is_err());
        assert!(open_cursor("not base64!", &file, "P").is_err());
    }

    #[test]
    fn only_loopback_hosts_are_served() {
        for host in [
            "127.0.0.1:8080",
            "localhost:1",
            "LOCALHOST",
            "[::1]:9",
            "127.0.0.2",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "example.com",
            "127.0.0.1.example.com:80",
            "[::2]:1",
            "10.0.0.1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn addresses_are_encoded() {
        assert_eq!(
            address("/p", &[("a b", "x&y=z"), ("é", "#")]),
            "/p?a%20b=x%26y%3Dz&%C3%A9=%23"
        );
    }
}
