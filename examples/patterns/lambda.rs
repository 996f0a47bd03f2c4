//! The seed's AWS Lambda handler: an API Gateway proxy event in, a response out, the whole
//! request served inside the tenant scope the event names. It is a plain `async fn` over the
//! event's JSON shape, so it needs no Lambda runtime to run or test; under `lambda_runtime`,
//! `service_fn(|event| handler(&table, event.payload))` serves it.
//!
//! The tenant comes from the authorizer (which verified the caller's token), as in the seed.
//! The seed's fallback to an `x-tenant-id` header is kept with its best practice 5 ("never
//! trust client-provided tenant IDs without validation"): the header only chooses among the
//! tenants the authorizer lists for the caller.
//!
//! A long-running service does the same per request in a middleware: `examples/tenancy.rs`
//! is the tower layer that resolves the tenant and opens the scope around the handler.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, TenantId};

use super::model::*;

/// The parts of an API Gateway (REST, proxy integration) event the handler reads.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct ApiGatewayEvent {
    pub http_method: String,
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query_string_parameters: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub request_context: RequestContext,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    #[serde(default)]
    pub authorizer: Option<Authorizer>,
}

/// What a Lambda authorizer put in the context after verifying the caller's token.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Authorizer {
    /// The caller's tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Every tenant the caller may act for, comma-separated (authorizer context values are
    /// strings), for callers who pick one with `x-tenant-id`.
    #[serde(default)]
    pub tenants: Option<String>,
}

/// The proxy integration's response.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApiGatewayResponse {
    pub status_code: u16,
    pub body: String,
}

fn respond(status_code: u16, body: serde_json::Value) -> ApiGatewayResponse {
    ApiGatewayResponse {
        status_code,
        body: body.to_string(),
    }
}

fn error(status_code: u16, message: &str) -> ApiGatewayResponse {
    respond(status_code, serde_json::json!({ "error": message }))
}

/// The tenant of a request, or the response refusing it.
pub fn tenant_of(event: &ApiGatewayEvent) -> Result<TenantId, ApiGatewayResponse> {
    let authorizer = event.request_context.authorizer.as_ref();
    let header = event
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-tenant-id"))
        .map(|(_, value)| value.as_str());
    match (authorizer.and_then(|a| a.tenant_id.as_deref()), header) {
        (Some(own), None) => Ok(TenantId::from(own)),
        (own, Some(requested)) => {
            let allowed = authorizer
                .and_then(|a| a.tenants.as_deref())
                .into_iter()
                .flat_map(|list| list.split(','))
                .map(str::trim)
                .chain(own)
                .any(|tenant| tenant == requested);
            match allowed {
                true => Ok(TenantId::from(requested)),
                false => Err(error(403, "Access denied")),
            }
        }
        (None, None) => Err(error(400, "Tenant context required")),
    }
}

/// A user as `POST /users` takes it.
#[derive(Deserialize)]
struct NewUserBody {
    id: String,
    name: String,
    email: String,
    #[serde(default)]
    invited: bool,
}

/// The handler: `GET /users?status=active` (the seed's `User.queryByIndex('byStatus',
/// 'active')`) and `POST /users`, for the tenant of the event.
pub async fn handler(table: &Table, event: ApiGatewayEvent) -> ApiGatewayResponse {
    let tenant = match tenant_of(&event) {
        Ok(tenant) => tenant,
        Err(refused) => return refused,
    };
    // Everything from here on runs for that tenant, and only for it.
    tenant::scope(tenant, route(table, event)).await
}

async fn route(table: &Table, event: ApiGatewayEvent) -> ApiGatewayResponse {
    let served = match (event.http_method.as_str(), event.path.as_str()) {
        ("GET", "/users") => list_users(table, &event).await,
        ("POST", "/users") => create_user(table, &event).await,
        _ => return error(404, "Not found"),
    };
    served.unwrap_or_else(|e| match e {
        Error::InvalidKey { .. } => error(400, &e.to_string()),
        Error::AlreadyExists { .. } => error(409, &e.to_string()),
        e => error(500, &e.to_string()),
    })
}

async fn list_users(table: &Table, event: &ApiGatewayEvent) -> Result<ApiGatewayResponse, Error> {
    let status = event
        .query_string_parameters
        .as_ref()
        .and_then(|q| q.get("status"))
        .map(String::as_str);
    let status = match status {
        None | Some("active") => UserStatus::Active,
        Some("invited") => UserStatus::Invited,
        Some(_) => return Ok(error(400, "status is active or invited")),
    };
    let users = User::by_status(table, UserByStatus { status: &status })
        .all()
        .await?;
    let users: Vec<_> = users
        .iter()
        .map(|u| serde_json::json!({ "id": u.id, "name": u.name }))
        .collect();
    Ok(respond(200, serde_json::Value::Array(users)))
}

async fn create_user(table: &Table, event: &ApiGatewayEvent) -> Result<ApiGatewayResponse, Error> {
    let body = event.body.as_deref().unwrap_or("");
    let Ok(body) = serde_json::from_str::<NewUserBody>(body) else {
        return Ok(error(400, "a user is {\"id\", \"name\", \"email\"}"));
    };
    let new = NewUser {
        id: body.id,
        name: body.name,
        email: body.email,
        status: match body.invited {
            true => UserStatus::Invited,
            false => UserStatus::Active,
        },
    };
    let user = User::create(table, new).await?;
    Ok(respond(
        201,
        serde_json::json!({ "id": user.id, "tenant": user.tenant_id }),
    ))
}
