//! Two tenants served by one HTTP-style service. A tower layer resolves the tenant of each
//! request (from a header, then from the sub-domain) and runs the handler inside that tenant's
//! scope, so handlers never pass tenant ids around and cannot name another tenant's items.
//!
//! `cargo run --example tenancy` starts DynamoDB Local (or uses `DYNAMODB_ENDPOINT`), gives both
//! tenants the same notes, prints what each tenant sees, and shows a request without a tenant
//! refused and a request for the other tenant's note not found.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, TenantId};
use singletable_local::DynamoDbLocal;
use tower_layer::Layer;
use tower_service::Service;

/// A note of one tenant. `tenant_id` comes from the tenant scope: no key, partition or create
/// input of `Note` has a tenant parameter.
#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(type = "NOTE", pk = "TENANT#<tenant_id>#NOTES", sk = "NOTE#<id>")]
struct Note {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    body: String,
}

/// Finds the tenant of a request, or says nothing.
type Resolver = Arc<dyn Fn(&HeaderMap, &Uri) -> Option<TenantId> + Send + Sync>;

/// Runs the inner service inside `tenant::scope` with the first tenant a resolver finds, and
/// answers `401 Unauthorized` itself when none finds one.
#[derive(Clone)]
struct TenantLayer {
    resolvers: Vec<Resolver>,
}

impl TenantLayer {
    fn new() -> Self {
        TenantLayer {
            resolvers: Vec::new(),
        }
    }

    fn resolve_with(
        mut self,
        resolver: impl Fn(&HeaderMap, &Uri) -> Option<TenantId> + Send + Sync + 'static,
    ) -> Self {
        self.resolvers.push(Arc::new(resolver));
        self
    }
}

impl<S> Layer<S> for TenantLayer {
    type Service = TenantService<S>;

    fn layer(&self, inner: S) -> TenantService<S> {
        TenantService {
            inner,
            resolvers: self.resolvers.clone(),
        }
    }
}

#[derive(Clone)]
struct TenantService<S> {
    inner: S,
    resolvers: Vec<Resolver>,
}

impl<S, B> Service<Request<B>> for TenantService<S>
where
    S: Service<Request<B>, Response = Response<String>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<String>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<String>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let tenant = self
            .resolvers
            .iter()
            .find_map(|resolve| resolve(request.headers(), request.uri()));
        let Some(tenant) = tenant else {
            return Box::pin(async { Ok(reply(StatusCode::UNAUTHORIZED, "no tenant".into())) });
        };
        // The inner `call` runs inside the scope too, so a handler that renders a key before
        // returning its future still sees the tenant. The clone takes the place of the service
        // that `poll_ready` prepared (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(tenant::scope(
            tenant,
            async move { inner.call(request).await },
        ))
    }
}

/// The application: `PUT /notes/<id>` creates a note, `GET /notes/<id>` reads one and
/// `GET /notes` lists them, always for the tenant of the current scope.
#[derive(Clone)]
struct Notes {
    table: Table,
}

impl Service<Request<String>> for Notes {
    type Response = Response<String>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<String>, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<String>) -> Self::Future {
        let table = self.table.clone();
        Box::pin(async move { Ok(handle(&table, request).await) })
    }
}

/// Serves one request for the tenant of the current scope. A tenant id that is not a valid key
/// value (empty, or holding the separator) is the client's mistake: `400 Bad Request`.
async fn handle(table: &Table, request: Request<String>) -> Response<String> {
    let path = request.uri().path().to_owned();
    let id = path.strip_prefix("/notes/");
    let result = match (request.method(), id) {
        (&Method::GET, None) if path == "/notes" => Note::query(table, NotePartition::default())
            .all()
            .await
            .map(|notes| {
                let notes: Vec<_> = notes.iter().map(describe).collect();
                reply(StatusCode::OK, notes.join(", "))
            }),
        (&Method::GET, Some(id)) => Note::get(table, NoteKey { id })
            .await
            .map(|note| match note {
                Some(note) => reply(StatusCode::OK, describe(&note)),
                None => reply(StatusCode::NOT_FOUND, format!("no note {id}")),
            }),
        (&Method::PUT, Some(id)) => {
            let new = NewNote {
                id: id.to_owned(),
                body: request.into_body(),
            };
            Note::create(table, new)
                .await
                .map(|note| reply(StatusCode::CREATED, describe(&note)))
        }
        _ => Ok(reply(StatusCode::NOT_FOUND, format!("no route {path}"))),
    };
    result.unwrap_or_else(|error| match error {
        Error::InvalidKey { .. } => reply(StatusCode::BAD_REQUEST, error.to_string()),
        Error::AlreadyExists { .. } => reply(StatusCode::CONFLICT, error.to_string()),
        error => reply(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    })
}

fn describe(note: &Note) -> String {
    format!("{}/{} {:?}", note.tenant_id, note.id, note.body)
}

fn reply(code: StatusCode, body: String) -> Response<String> {
    let mut response = Response::new(body);
    *response.status_mut() = code;
    response
}

/// A request to `host`, with an `x-tenant-id` header when `tenant` is given.
fn request(
    method: Method,
    host: &str,
    tenant: Option<&str>,
    path: &str,
    body: &str,
) -> http::Result<Request<String>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://{host}{path}"));
    if let Some(tenant) = tenant {
        builder = builder.header("x-tenant-id", tenant);
    }
    builder.body(body.to_owned())
}

/// A request of tenant acme, which names itself in a header.
fn acme(method: Method, path: &str, body: &str) -> http::Result<Request<String>> {
    request(method, "api.example.com", Some("acme"), path, body)
}

/// A request of tenant globex, which is known by its sub-domain.
fn globex(method: Method, path: &str, body: &str) -> http::Result<Request<String>> {
    request(method, "globex.example.com", None, path, body)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let local = DynamoDbLocal::shared()?;
    let table = Table::builder(
        local.client().await,
        singletable_local::unique_table_name("tenancy"),
    )
    // Every entity of this table must be tenant-scoped.
    .require_tenant_scope()
    .build();
    table.create_table().await?;

    let layer = TenantLayer::new()
        .resolve_with(|headers, _| {
            headers
                .get("x-tenant-id")?
                .to_str()
                .ok()
                .map(TenantId::from)
        })
        .resolve_with(|_, uri| uri.host()?.strip_suffix(".example.com").map(TenantId::from));
    let mut service = layer.layer(Notes { table });
    // Sends a request through the layer and prints it with its response.
    let mut send = |request: Request<String>| {
        let tenant_header = request
            .headers()
            .get("x-tenant-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let line = format!(
            "{} {} (x-tenant-id: {tenant_header})",
            request.method(),
            request.uri()
        );
        let response = service.call(request);
        async move {
            let response = response.await?;
            println!("{line}\n  -> {} {}", response.status(), response.body());
            Ok::<_, std::convert::Infallible>(response)
        }
    };

    println!("# The same notes for both tenants");
    for (id, body) in [("welcome", "Welcome aboard"), ("roadmap", "Ship the beta")] {
        let path = format!("/notes/{id}");
        send(acme(Method::PUT, &path, body)?).await?;
        send(globex(Method::PUT, &path, body)?).await?;
    }

    println!("\n# What each tenant sees");
    let seen_by_acme = send(acme(Method::GET, "/notes", "")?).await?;
    let seen_by_globex = send(globex(Method::GET, "/notes", "")?).await?;
    assert!(seen_by_acme.body().starts_with("acme/") && !seen_by_acme.body().contains("globex/"));
    assert!(
        seen_by_globex.body().starts_with("globex/") && !seen_by_globex.body().contains("acme/")
    );

    println!("\n# One tenant cannot reach the other's note by its key");
    send(acme(Method::PUT, "/notes/plans", "Buy globex")?).await?;
    let own = send(acme(Method::GET, "/notes/plans", "")?).await?;
    assert_eq!(own.status(), StatusCode::OK);
    let probe = send(globex(Method::GET, "/notes/plans", "")?).await?;
    assert_eq!(probe.status(), StatusCode::NOT_FOUND);
    // A tenant id that smuggles in the separator would address another partition.
    let crafted = request(
        Method::GET,
        "api.example.com",
        Some("acme#NOTES"),
        "/notes/plans",
        "",
    )?;
    assert_eq!(send(crafted).await?.status(), StatusCode::BAD_REQUEST);

    println!("\n# A request without a tenant is refused");
    let anonymous = send(request(Method::GET, "localhost", None, "/notes", "")?).await?;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}
