//! A tower layer that opens the tenant scope for each request, resolving the tenant with a chain
//! of resolvers (a header here, then a sub-domain), so handlers never pass tenant ids around.
//!
//! `cargo run --example tenant_layer` starts DynamoDB Local (or uses `DYNAMODB_ENDPOINT`), sends
//! a few requests through the layer and prints what each tenant sees.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response, StatusCode, Uri};
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, TenantId};
use singletable_local::DynamoDbLocal;
use tower_layer::Layer;
use tower_service::Service;

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(type = "NOTE", pk = "TENANT#<tenant_id>#NOTES", sk = "NOTE#<id>")]
struct Note {
    #[entity(tenant)]
    tenant_id: String,
    #[entity(autogen = uuid_v7)]
    id: String,
    body: String,
}

/// Finds the tenant of a request, or says nothing.
type Resolver = Arc<dyn Fn(&HeaderMap, &Uri) -> Option<TenantId> + Send + Sync>;

/// Opens `tenant::scope` around the inner service with the first tenant a resolver finds.
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
    S: Service<Request<B>, Response = Response<String>> + Send,
    S::Future: Send + 'static,
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
        match tenant {
            Some(tenant) => Box::pin(tenant::scope(tenant, self.inner.call(request))),
            None => Box::pin(async { Ok(status(StatusCode::UNAUTHORIZED, "no tenant")) }),
        }
    }
}

/// The application: creates a note for the request's tenant and lists that tenant's notes.
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
        Box::pin(async move {
            let result = async {
                Note::create(
                    &table,
                    NewNote {
                        body: request.into_body(),
                    },
                )
                .await?;
                Note::query(&table, NotePartition::default()).all().await
            }
            .await;
            Ok(match result {
                Ok(notes) => {
                    let bodies: Vec<_> = notes.iter().map(|n| n.body.as_str()).collect();
                    status(
                        StatusCode::OK,
                        &format!(
                            "{} sees {bodies:?}",
                            tenant::current().map(|t| t.to_string()).unwrap_or_default()
                        ),
                    )
                }
                Err(Error::InvalidKey { .. }) => status(StatusCode::BAD_REQUEST, "invalid tenant"),
                Err(error) => status(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string()),
            })
        })
    }
}

fn status(code: StatusCode, body: &str) -> Response<String> {
    let mut response = Response::new(body.to_owned());
    *response.status_mut() = code;
    response
}

fn request(host: &str, tenant_header: Option<&str>, body: &str) -> Request<String> {
    let mut builder = Request::builder().uri(format!("http://{host}/notes"));
    if let Some(tenant) = tenant_header {
        builder = builder.header("x-tenant-id", tenant);
    }
    builder.body(body.to_owned()).unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let local = DynamoDbLocal::shared()?;
    let table = Table::builder(
        local.client().await,
        singletable_local::unique_table_name("tenant-layer"),
    )
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

    let requests = [
        request("api.example.com", Some("acme"), "acme's first note"),
        request(
            "globex.example.com",
            None,
            "globex's note, tenant from the host",
        ),
        request("api.example.com", Some("acme"), "acme's second note"),
        request(
            "api.example.com",
            Some("acme#NOTES"),
            "an attempt to reach another partition",
        ),
        request("localhost", None, "no tenant at all"),
    ];
    for request in requests {
        let described = format!(
            "{} {:?}",
            request.uri(),
            request.headers().get("x-tenant-id")
        );
        let response = service.call(request).await?;
        println!("{described} -> {} {}", response.status(), response.body());
    }
    Ok(())
}
