//! The platform's operations. Each one works on the organization of the current tenant scope
//! (the HTTP layer opens it from the request, as `examples/tenancy.rs` shows) and checks the
//! acting user's role there; the two that run before any scope — signing in by email and
//! authenticating an API key — find the organization with a lookup first.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};
use singletable::prelude::*;
use singletable::{tenant, AuditAction, AuditLog, TenantId, Transaction};
use time::{Duration, OffsetDateTime, UtcOffset};

use super::model::*;

/// Why an operation did not happen. Everything but [`PlatformError::Store`] is a refusal that
/// wrote nothing.
#[derive(Debug)]
pub enum PlatformError {
    /// The acting user's role in the organization does not allow the action.
    Forbidden {
        user: String,
        role: Option<Role>,
        action: &'static str,
    },
    /// The organization's plan allows no more of `resource`.
    PlanLimit {
        plan: Plan,
        resource: &'static str,
        limit: i64,
    },
    /// The scope names no organization.
    UnknownOrganization,
    /// No live API key matches the one presented.
    Unauthorized,
    /// The key has made its `limit` requests this minute.
    RateLimited { limit: i64 },
    /// The table answered with an error.
    Store(Error),
}

impl PlatformError {
    /// Whether the platform refused the operation (as opposed to failing at it).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, PlatformError::Store(_))
    }

    /// The HTTP status an API answers with.
    pub fn status(&self) -> u16 {
        match self {
            PlatformError::Forbidden { .. } => 403,
            PlatformError::PlanLimit { .. } => 402,
            PlatformError::UnknownOrganization => 404,
            PlatformError::Unauthorized => 401,
            PlatformError::RateLimited { .. } => 429,
            PlatformError::Store(_) => 500,
        }
    }
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformError::Forbidden { user, role, action } => {
                let role = role.map_or("not a member", Role::as_str);
                write!(f, "{user} ({role}) may not {action}")
            }
            PlatformError::PlanLimit {
                plan,
                resource,
                limit,
            } => {
                write!(
                    f,
                    "the {} plan's limit of {resource} is {limit}",
                    plan.as_str()
                )?;
                match plan.upgrade() {
                    Some(next) => write!(f, "; upgrade to {} for more", next.as_str()),
                    None => Ok(()),
                }
            }
            PlatformError::UnknownOrganization => f.write_str("no such organization"),
            PlatformError::Unauthorized => f.write_str("no such API key"),
            PlatformError::RateLimited { limit } => {
                write!(f, "the key allows {limit} requests a minute")
            }
            PlatformError::Store(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for PlatformError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlatformError::Store(error) => Some(error),
            _ => None,
        }
    }
}

impl From<Error> for PlatformError {
    fn from(error: Error) -> Self {
        PlatformError::Store(error)
    }
}

pub type Result<T, E = PlatformError> = std::result::Result<T, E>;

/// A person as the identity provider knows them; the platform stores them only as memberships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub email: String,
    pub name: String,
}

/// The organization of the current scope (every scope this module runs in has one).
pub async fn organization(table: &Table) -> Result<Organization> {
    let key = OrganizationKey::default();
    Organization::get(table, key)
        .await?
        .ok_or(PlatformError::UnknownOrganization)
}

/// The role `user_id` holds in the organization of the scope, if they are a member.
pub async fn role_of(table: &Table, user_id: &str) -> Result<Option<Role>> {
    let member = Member::get(table, MemberKey { user_id }).await?;
    Ok(member.map(|m| m.role))
}

/// Refuses `action` unless `user_id` holds one of `allowed` in the scope's organization.
async fn require(
    table: &Table,
    user_id: &str,
    allowed: &[Role],
    action: &'static str,
) -> Result<()> {
    let role = role_of(table, user_id).await?;
    match role {
        Some(role) if allowed.contains(&role) => Ok(()),
        role => Err(PlatformError::Forbidden {
            user: user_id.to_owned(),
            role,
            action,
        }),
    }
}

/// Whether a transaction was canceled by the condition of its action `index`.
fn canceled_at(error: &Error, index: usize) -> bool {
    match error {
        Error::TransactionCanceled { reasons } => reasons
            .iter()
            .any(|r| r.index == index && r.code == "ConditionalCheckFailed"),
        _ => false,
    }
}

/// Creates the organization of the current scope, on `plan`, with `owner` as its first admin:
/// both in one transaction.
pub async fn create_organization(
    table: &Table,
    name: &str,
    plan: Plan,
    owner: &Identity,
) -> Result<Organization> {
    as_user(&owner.user_id, async {
        let mut tx = Transaction::new(table);
        let organization = tx.create::<Organization>(NewOrganization {
            name: name.into(),
            plan,
            user_count: 1,
        })?;
        tx.create::<Member>(NewMember {
            user_id: owner.user_id.clone(),
            email: owner.email.clone(),
            name: owner.name.clone(),
            role: Role::Admin,
        })?;
        tx.send().await?;
        Ok(organization)
    })
    .await
}

/// `by` (an admin) adds `who` to the organization with `role`. The membership and the user
/// count move together, and only while the plan has room (checked again in the transaction,
/// so two concurrent invitations cannot both take the last seat).
pub async fn invite(table: &Table, by: &str, who: &Identity, role: Role) -> Result<Member> {
    require(table, by, &[Role::Admin], "invite users").await?;
    let organization = organization(table).await?;
    let plan = organization.plan;
    let limit = plan.limits().users;
    if let Some(limit) = limit.filter(|limit| organization.user_count >= *limit) {
        return Err(PlatformError::PlanLimit {
            plan,
            resource: "users",
            limit,
        });
    }
    as_user(by, async {
        let mut tx = Transaction::new(table);
        let member = tx.create::<Member>(NewMember {
            user_id: who.user_id.clone(),
            email: who.email.clone(),
            name: who.name.clone(),
            role,
        })?;
        let mut count = Organization::update(table, OrganizationKey::default())
            .add(Organization::FIELDS.user_count, 1);
        if let Some(limit) = limit {
            count = count.condition(Organization::FIELDS.user_count.lt(limit));
        }
        tx.update(count)?;
        match tx.send().await {
            Ok(()) => Ok(member),
            Err(error) if canceled_at(&error, 1) => Err(PlatformError::PlanLimit {
                plan,
                resource: "users",
                limit: plan.limits().users.unwrap_or(i64::MAX),
            }),
            Err(error) => Err(error.into()),
        }
    })
    .await
}

/// `by` (an admin) gives `user_id` another role.
pub async fn change_role(table: &Table, by: &str, user_id: &str, role: Role) -> Result<Member> {
    require(table, by, &[Role::Admin], "change roles").await?;
    let update = Member::update(table, MemberKey { user_id }).set(Member::FIELDS.role, role);
    Ok(as_user(by, update.send()).await?)
}

/// A user's memberships, found by email before any organization is chosen: the lookup names
/// each organization and membership key, and each membership is then read in its own
/// organization's scope. Sorted by organization.
pub async fn memberships_of(table: &Table, email: &str) -> Result<Vec<(TenantId, Member)>> {
    let found = Member::by_email(table, MemberByEmail { email })
        .all()
        .await?;
    let mut memberships = Vec::with_capacity(found.len());
    for found in found {
        let Some(organization) = found.tenant.clone() else {
            continue;
        };
        let member = tenant::scope(organization.clone(), found.get(table)).await?;
        // Removed since the lookup answered: not a membership any more.
        if let Some(member) = member {
            memberships.push((organization, member));
        }
    }
    memberships.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    Ok(memberships)
}

/// `by` (an admin or member) creates a project, within the plan's project limit.
pub async fn create_project(
    table: &Table,
    by: &str,
    id: &str,
    name: &str,
    environment: &str,
) -> Result<Project> {
    require(table, by, &[Role::Admin, Role::Member], "create projects").await?;
    let organization = organization(table).await?;
    let plan = organization.plan;
    let limit = plan.limits().projects;
    if let Some(limit) = limit.filter(|limit| organization.project_count >= *limit) {
        return Err(PlatformError::PlanLimit {
            plan,
            resource: "projects",
            limit,
        });
    }
    as_user(by, async {
        let mut tx = Transaction::new(table);
        let project = tx.create::<Project>(NewProject {
            id: id.into(),
            name: name.into(),
            environment: environment.into(),
            created_by: by.into(),
        })?;
        let mut count = Organization::update(table, OrganizationKey::default())
            .add(Organization::FIELDS.project_count, 1);
        if let Some(limit) = limit {
            count = count.condition(Organization::FIELDS.project_count.lt(limit));
        }
        tx.update(count)?;
        match tx.send().await {
            Ok(()) => Ok(project),
            Err(error) if canceled_at(&error, 1) => Err(PlatformError::PlanLimit {
                plan,
                resource: "projects",
                limit: plan.limits().projects.unwrap_or(i64::MAX),
            }),
            Err(error) => Err(error.into()),
        }
    })
    .await
}

/// The metric of the meter that API calls are counted on.
pub const API_CALLS: &str = "api_calls";

/// Records usage of a project. API calls also move the organization's meter for the month,
/// in the same transaction and only while the plan's monthly allowance holds them all: usage
/// over the plan is refused, not recorded.
pub async fn record_usage(
    table: &Table,
    project_id: &str,
    month: &str,
    kind: UsageKind,
    quantity: i64,
) -> Result<UsageRecord> {
    let new = || NewUsageRecord {
        project_id: project_id.into(),
        month: month.into(),
        kind,
        quantity,
    };
    if kind != UsageKind::ApiCalls {
        return Ok(UsageRecord::create(table, new()).await?);
    }
    let plan = organization(table).await?.plan;
    let meter = || NewMeter {
        month: month.into(),
        metric: API_CALLS.into(),
        count: 0,
    };
    let allowed = plan.limits().api_calls_per_month;
    let over_plan = || PlatformError::PlanLimit {
        plan,
        resource: "API calls a month",
        limit: allowed.unwrap_or(i64::MAX),
    };
    // Twice at most: a condition on a missing meter fails (every comparison with a missing
    // attribute is false), so the month's first report creates the meter and tries again.
    for _ in 0..2 {
        let mut tx = Transaction::new(table);
        let record = tx.create::<UsageRecord>(new())?;
        let mut add = Meter::upsert(table, meter()).add(Meter::FIELDS.count, quantity);
        if let Some(allowed) = allowed {
            add = add.condition(Meter::FIELDS.count.le(allowed - quantity));
        }
        tx.update(add)?;
        match tx.send().await {
            Ok(()) => return Ok(record),
            Err(error) if canceled_at(&error, 1) => {}
            Err(error) => return Err(error.into()),
        }
        let key = MeterKey {
            month,
            metric: API_CALLS,
        };
        if Meter::get(table, key).await?.is_some() {
            return Err(over_plan());
        }
        match Meter::create(table, meter()).await {
            // Created here, or by a concurrent report of the same month.
            Ok(_) | Err(Error::AlreadyExists { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Err(over_plan())
}

/// The usage of one project in one billing month, summed from its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectUsage {
    pub project_id: String,
    pub records: usize,
    pub totals: BTreeMap<&'static str, i64>,
}

impl ProjectUsage {
    pub fn total(&self, kind: UsageKind) -> i64 {
        self.totals.get(kind_name(kind)).copied().unwrap_or(0)
    }
}

pub fn kind_name(kind: UsageKind) -> &'static str {
    match kind {
        UsageKind::ApiCalls => "api_calls",
        UsageKind::ComputeMinutes => "compute_minutes",
    }
}

/// The seed's `GET /usage?billing_cycle=2026-01`: every project of the organization with its
/// usage in `month`, read with one range query per project (`USAGE#<month>#`) and summed.
pub async fn monthly_usage(table: &Table, month: &str) -> Result<Vec<ProjectUsage>> {
    let mut projects = Project::list_all(table).all().await?;
    projects.sort_by(|a, b| a.id.cmp(&b.id));
    let mut usage = Vec::with_capacity(projects.len());
    for project in projects {
        let partition = UsageRecordPartition {
            project_id: &project.id,
        };
        let records = UsageRecord::query(table, partition)
            .in_month(month)
            .all()
            .await?;
        let mut totals = BTreeMap::new();
        for record in &records {
            *totals.entry(kind_name(record.kind)).or_insert(0) += record.quantity;
        }
        usage.push(ProjectUsage {
            project_id: project.id,
            records: records.len(),
            totals,
        });
    }
    Ok(usage)
}

/// The API calls metered for the organization in `month`.
pub async fn metered_api_calls(table: &Table, month: &str) -> Result<i64> {
    let key = MeterKey {
        month,
        metric: API_CALLS,
    };
    Ok(Meter::get(table, key).await?.map_or(0, |m| m.count))
}

/// The prefix every key starts with, as the seed's `key_prefix`.
pub const KEY_PREFIX: &str = "sk_live_";

/// A key as it is issued: the secret, shown this once, and what is stored.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub secret: String,
    pub key: ApiKey,
}

/// The stored form of an API key: lowercase hex SHA-256. The keys carry 122 random bits, so a
/// plain hash (no salt, no stretching) is enough, and it can be looked up.
pub fn hash_key(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `by` (an admin) issues an API key for a project.
pub async fn issue_key(
    table: &Table,
    by: &str,
    name: &str,
    project_id: &str,
    rate_limit: i64,
    scopes: &[&str],
) -> Result<IssuedKey> {
    require(table, by, &[Role::Admin], "issue API keys").await?;
    let secret = format!("{KEY_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let new = NewApiKey {
        name: name.into(),
        project_id: project_id.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        rate_limit,
        key_prefix: KEY_PREFIX.into(),
        hash: hash_key(&secret),
        created_by: by.into(),
    };
    let key = as_user(by, ApiKey::create(table, new)).await?;
    Ok(IssuedKey { secret, key })
}

/// `by` (an admin) revokes a key: it stays in the trash (and the audit log), and lookups no
/// longer find it.
pub async fn revoke_key(table: &Table, by: &str, key_id: &str) -> Result<()> {
    require(table, by, &[Role::Admin], "revoke API keys").await?;
    as_user(by, ApiKey::delete(table, ApiKeyKey { key_id })).await?;
    Ok(())
}

/// The minute of `at`, as a rate window names it, and when that window's counter expires.
fn window_of(at: OffsetDateTime) -> (String, OffsetDateTime) {
    let at = at.to_offset(UtcOffset::UTC);
    let start =
        at - Duration::seconds(at.second().into()) - Duration::nanoseconds(at.nanosecond().into());
    let name = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        start.year(),
        u8::from(start.month()),
        start.day(),
        start.hour(),
        start.minute()
    );
    (name, start + Duration::minutes(2))
}

/// Counts a request of `key` made at `at` in its minute's window, and refuses it when it is
/// over the key's `rate_limit` for that minute: one atomic add (an upsert that creates the
/// window at its first request), so concurrent requests each get their own count.
pub async fn take_rate_slot(table: &Table, key: &ApiKey, at: OffsetDateTime) -> Result<i64> {
    let (window, expires_at) = window_of(at);
    let new = NewRateWindow {
        key_id: key.id.clone(),
        window,
        count: 0,
        expires_at,
    };
    let window = RateWindow::upsert(table, new)
        .add(RateWindow::FIELDS.count, 1)
        .send()
        .await?;
    if window.count > key.rate_limit {
        return Err(PlatformError::RateLimited {
            limit: key.rate_limit,
        });
    }
    Ok(window.count)
}

/// A request authenticated by its API key.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub organization: TenantId,
    pub key: ApiKey,
}

/// Authenticates a presented key, before any tenant scope: its hash is looked up (which gives
/// the organization and the key's item key, never its data), and the key is read in that
/// organization's scope. A revoked key is not found.
pub async fn authenticate(table: &Table, presented: &str) -> Result<Authenticated> {
    let hash = hash_key(presented);
    let found = ApiKey::by_hash(table, ApiKeyByHash { hash: &hash })
        .one()
        .await?;
    let Some(found) = found else {
        return Err(PlatformError::Unauthorized);
    };
    let organization = found.tenant.clone().ok_or(PlatformError::Unauthorized)?;
    let key = tenant::scope(organization.clone(), found.get(table)).await?;
    // Revoked between the lookup and the read.
    let key = key.ok_or(PlatformError::Unauthorized)?;
    Ok(Authenticated { organization, key })
}

/// Serves `GET /projects` for a request carrying `presented` as its `X-API-Key`, made at `at`:
/// authenticated, rate-limited, then answered in the key's organization's scope with the
/// number of projects it sees.
pub async fn list_projects_with_key(
    table: &Table,
    presented: &str,
    at: OffsetDateTime,
) -> Result<usize> {
    let auth = authenticate(table, presented).await?;
    tenant::scope(auth.organization.clone(), async {
        take_rate_slot(table, &auth.key, at).await?;
        Ok(Project::list_all(table).count().await?)
    })
    .await
}

/// The seed's audit log queries for one organization, in its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSummary {
    /// Every record the log holds (kept 90 days).
    pub total: usize,
    /// Records from `from` to `to` (the seed's `start_date`/`end_date`).
    pub between: usize,
    /// Records made from a checkpoint on.
    pub since_checkpoint: usize,
    /// By actor (the seed's `user_id`).
    pub by_actor: BTreeMap<String, usize>,
    /// By action.
    pub by_action: BTreeMap<&'static str, usize>,
    /// By resource type.
    pub by_type: BTreeMap<&'static str, usize>,
    /// The projects the admin created (actor, action and type together).
    pub projects_created_by_owner: usize,
    /// The sizes of the pages of 5 (the seed's `limit`), newest first.
    pub pages: Vec<usize>,
}

/// The audited resource types.
pub const AUDITED: [&str; 3] = ["MEMBER", "PROJECT", "API_KEY"];

/// Queries the organization's audit log with the seed's filters: date range, user, action and
/// resource type, and in pages.
pub async fn audit_summary(
    table: &Table,
    actors: &[&str],
    owner: &str,
    (from, checkpoint, to): (OffsetDateTime, OffsetDateTime, OffsetDateTime),
) -> Result<AuditSummary> {
    let log = || AuditLog::of_tenant(table);
    let total = log().all().await?.len();
    let between = log().between(from, to).all().await?.len();
    let since_checkpoint = log().since(checkpoint).all().await?.len();
    let mut by_actor = BTreeMap::new();
    for actor in actors {
        let records = log().actor(*actor).all().await?;
        by_actor.insert(actor.to_string(), records.len());
    }
    let mut by_action = BTreeMap::new();
    for action in [
        AuditAction::Create,
        AuditAction::Update,
        AuditAction::Delete,
    ] {
        let records = log().action(action).all().await?;
        by_action.insert(action.as_str(), records.len());
    }
    let mut by_type = BTreeMap::new();
    for entity_type in AUDITED {
        let records = log().entity_type(entity_type).all().await?;
        by_type.insert(entity_type, records.len());
    }
    let projects_created_by_owner = log()
        .actor(owner)
        .action(AuditAction::Create)
        .entity_type("PROJECT")
        .all()
        .await?
        .len();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = log().page(5, cursor.as_deref()).await?;
        pages.push(page.items.len());
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(AuditSummary {
        total,
        between,
        since_checkpoint,
        by_actor,
        by_action,
        by_type,
        projects_created_by_owner,
        pages,
    })
}
