//! The scenario `cargo run --example platform` runs and `tests/it/platform.rs` checks: three
//! organizations on three plans, six people (four of them in two organizations), projects,
//! two months of usage, API keys with a burst of requests over a key's rate limit, and one
//! attempt over each of the free plan's limits. Every number it reports follows from the fixed
//! data below.

use std::collections::BTreeMap;

use futures::future::try_join_all;
use singletable::prelude::*;
use singletable::tenant;
use time::{Duration, OffsetDateTime};

use super::model::*;
use super::service::{self, AuditSummary, IssuedKey, PlatformError, ProjectUsage, Result};

/// The people: user id, email, name.
pub const PEOPLE: [(&str, &str, &str); 6] = [
    ("ada", "ada@example.com", "Ada Lovelace"),
    ("grace", "grace@example.com", "Grace Hopper"),
    ("linus", "linus@example.com", "Linus Torvalds"),
    ("margaret", "margaret@example.com", "Margaret Hamilton"),
    ("alan", "alan@example.com", "Alan Turing"),
    ("barbara", "barbara@example.com", "Barbara Liskov"),
];

/// The organizations: id (the tenant), name, plan, owner.
pub const ORGANIZATIONS: [(&str, &str, Plan, &str); 3] = [
    ("acme", "Acme Corp", Plan::Pro, "ada"),
    ("globex", "Globex", Plan::Starter, "linus"),
    ("initech", "Initech", Plan::Free, "grace"),
];

/// Invitations: organization, by, who, role. Barbara's would be initech's fourth user.
pub const INVITATIONS: [(&str, &str, &str, Role); 7] = [
    ("acme", "ada", "grace", Role::Member),
    ("acme", "ada", "alan", Role::Viewer),
    ("globex", "linus", "ada", Role::Member),
    ("globex", "linus", "margaret", Role::Member),
    ("initech", "grace", "linus", Role::Member),
    ("initech", "grace", "margaret", Role::Viewer),
    ("initech", "grace", "barbara", Role::Member),
];

/// Projects: organization, by, id, name, environment. Alan is a viewer; initech's second
/// project is over the free plan.
pub const PROJECTS: [(&str, &str, &str, &str, &str); 8] = [
    ("acme", "ada", "web", "Web App", "production"),
    ("acme", "ada", "mobile", "Mobile App", "production"),
    ("acme", "grace", "data", "Data Pipeline", "staging"),
    ("acme", "alan", "ml", "ML Experiments", "development"),
    ("globex", "linus", "portal", "Customer Portal", "production"),
    ("globex", "margaret", "billing", "Billing", "production"),
    ("initech", "grace", "tps", "TPS Reports", "production"),
    ("initech", "grace", "reports", "More Reports", "production"),
];

/// The billing months of the usage.
pub const MONTHS: [&str; 2] = ["2026-01", "2026-02"];

use UsageKind::{ApiCalls, ComputeMinutes};

/// Usage reports: organization, project, month, kind, quantity. Initech's last report would
/// take it to 12,000 API calls in February, over the free plan's 10,000.
pub const USAGE: [(&str, &str, &str, UsageKind, i64); 22] = [
    ("acme", "web", "2026-01", ApiCalls, 120_000),
    ("acme", "web", "2026-01", ApiCalls, 80_000),
    ("acme", "web", "2026-01", ComputeMinutes, 340),
    ("acme", "web", "2026-02", ApiCalls, 150_000),
    ("acme", "web", "2026-02", ComputeMinutes, 410),
    ("acme", "mobile", "2026-01", ApiCalls, 30_000),
    ("acme", "mobile", "2026-02", ApiCalls, 45_000),
    ("acme", "mobile", "2026-02", ApiCalls, 5_000),
    ("acme", "data", "2026-02", ApiCalls, 200_000),
    ("acme", "data", "2026-02", ComputeMinutes, 1_250),
    ("globex", "portal", "2026-01", ApiCalls, 60_000),
    ("globex", "portal", "2026-02", ApiCalls, 40_000),
    ("globex", "portal", "2026-02", ComputeMinutes, 90),
    ("globex", "billing", "2026-01", ApiCalls, 30_000),
    ("globex", "billing", "2026-02", ApiCalls, 50_000),
    ("initech", "tps", "2026-01", ApiCalls, 4_000),
    ("initech", "tps", "2026-01", ApiCalls, 2_500),
    ("initech", "tps", "2026-01", ComputeMinutes, 15),
    ("initech", "tps", "2026-02", ApiCalls, 3_000),
    ("initech", "tps", "2026-02", ApiCalls, 3_000),
    ("initech", "tps", "2026-02", ApiCalls, 3_000),
    ("initech", "tps", "2026-02", ApiCalls, 3_000),
];

/// API keys: organization, by, name, project, requests a minute. Globex's old key is revoked.
pub const KEYS: [(&str, &str, &str, &str, i64); 4] = [
    ("acme", "ada", "Production API Key", "web", 5),
    ("globex", "linus", "Billing sync", "billing", 3),
    ("globex", "linus", "Old integration", "portal", 3),
    ("initech", "grace", "TPS uploader", "tps", 2),
];

/// The key that is revoked as soon as it is issued.
pub const REVOKED: &str = "Old integration";

/// How many requests acme's key sends in one minute: three more than its limit.
pub const BURST: usize = 8;

/// What the scenario found.
#[derive(Debug)]
pub struct Report {
    pub organizations: Vec<OrganizationLine>,
    /// Memberships over every organization.
    pub memberships: usize,
    /// People who belong to two organizations.
    pub people_in_two_organizations: usize,
    /// Each person's memberships, found by email before any scope.
    pub sign_ins: Vec<SignIn>,
    /// The operations refused, in the order they were tried.
    pub refusals: Vec<Refusal>,
    /// Usage per organization and billing month.
    pub usage: Vec<MonthlyUsage>,
    pub requests: Requests,
    /// The audit log queries of each organization.
    pub audit: Vec<(String, AuditSummary)>,
    /// The keys as issued, secrets included: shown once, kept here for the checks only.
    pub issued: Vec<(String, IssuedKey)>,
    /// The key revoked right after it was issued, secret included.
    pub revoked: (String, IssuedKey),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationLine {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    pub users: i64,
    pub projects: i64,
    pub live_keys: usize,
    pub revoked_keys: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub email: String,
    /// Organization and role, by organization.
    pub memberships: Vec<(String, Role)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub organization: String,
    pub attempt: String,
    pub status: u16,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyUsage {
    pub organization: String,
    pub month: String,
    pub projects: Vec<ProjectUsage>,
    /// The meter the plan's allowance is checked against.
    pub metered_api_calls: i64,
    pub allowance: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requests {
    pub accepted: usize,
    pub rate_limited: usize,
    pub unauthorized: usize,
    /// Projects each organization's key saw on `GET /projects`.
    pub projects_seen: BTreeMap<String, usize>,
}

impl Requests {
    fn count(&mut self, organization: &str, outcome: Result<usize>) -> Result<()> {
        match outcome {
            Ok(projects) => {
                self.accepted += 1;
                self.projects_seen.insert(organization.to_owned(), projects);
            }
            Err(PlatformError::RateLimited { .. }) => self.rate_limited += 1,
            Err(PlatformError::Unauthorized) => self.unauthorized += 1,
            Err(other) => return Err(other),
        }
        Ok(())
    }
}

fn person(user_id: &str) -> service::Identity {
    let (id, email, name) = PEOPLE
        .into_iter()
        .find(|(id, _, _)| *id == user_id)
        .unwrap_or((user_id, "unknown@example.com", user_id));
    service::Identity {
        user_id: id.into(),
        email: email.into(),
        name: name.into(),
    }
}

/// Keeps a refusal, lets anything else through.
fn refused<T>(
    refusals: &mut Vec<Refusal>,
    organization: &str,
    attempt: String,
    outcome: Result<T>,
) -> Result<Option<T>> {
    match outcome {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.is_refusal() => {
            refusals.push(Refusal {
                organization: organization.into(),
                attempt,
                status: error.status(),
                reason: error.to_string(),
            });
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// A moment between two writes, so that the audit log's time filters split them cleanly
/// (records are stamped to the millisecond).
async fn instant() -> OffsetDateTime {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let now = singletable::autogen::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    now
}

/// Runs the scenario on `table` (fresh: the numbers assume nothing else is in it). API
/// requests are made at `now`, which must be the real time: rate windows expire a minute or
/// two after it.
///
/// The organizations are independent tenants, so each phase works on all three at once; each
/// organization's own steps run in order, in its scope.
pub async fn run(table: &Table, now: OffsetDateTime) -> Result<Report> {
    let started = instant().await;
    let setups = ORGANIZATIONS.map(|(id, ..)| Box::pin(set_up(table, id)));
    let refusals = try_join_all(setups).await?.into_iter().flatten().collect();

    let checkpoint = instant().await;
    let (issued, revoked) = Box::pin(administer(table)).await?;
    let requests = Box::pin(send_requests(table, &issued, &revoked, now)).await?;
    let finished = instant().await;

    let window = (started, checkpoint, finished);
    let summaries = ORGANIZATIONS.map(|(id, ..)| Box::pin(summarize(table, id, window)));
    let mut organizations = Vec::new();
    let mut usage = Vec::new();
    let mut audit = Vec::new();
    for (line, months, log) in try_join_all(summaries).await? {
        audit.push((line.id.clone(), log));
        organizations.push(line);
        usage.extend(months);
    }

    let sign_ins =
        try_join_all(PEOPLE.map(|(_, email, _)| Box::pin(sign_in(table, email)))).await?;
    let memberships = sign_ins.iter().map(|s| s.memberships.len()).sum();
    let people_in_two_organizations = sign_ins.iter().filter(|s| s.memberships.len() == 2).count();

    Ok(Report {
        organizations,
        memberships,
        people_in_two_organizations,
        sign_ins,
        refusals,
        usage,
        requests,
        audit,
        issued,
        revoked,
    })
}

/// Creates an organization with its members, projects and usage, in its scope; returns what
/// was refused.
async fn set_up(table: &Table, organization: &str) -> Result<Vec<Refusal>> {
    let mut refusals = Vec::new();
    let mine = |o: &str| o == organization;
    let run = async {
        for (_, name, plan, owner) in ORGANIZATIONS.into_iter().filter(|o| mine(o.0)) {
            let owner = person(owner);
            Box::pin(service::create_organization(table, name, plan, &owner)).await?;
        }
        for (_, by, who, role) in INVITATIONS.into_iter().filter(|i| mine(i.0)) {
            let person = person(who);
            let outcome = Box::pin(service::invite(table, by, &person, role)).await;
            refused(
                &mut refusals,
                organization,
                format!("{by} invites {who}"),
                outcome,
            )?;
        }
        for (_, by, id, name, environment) in PROJECTS.into_iter().filter(|p| mine(p.0)) {
            let create = service::create_project(table, by, id, name, environment);
            let outcome = Box::pin(create).await;
            let attempt = format!("{by} creates project {id}");
            refused(&mut refusals, organization, attempt, outcome)?;
        }
        for (_, project, month, kind, quantity) in USAGE.into_iter().filter(|u| mine(u.0)) {
            let outcome =
                Box::pin(service::record_usage(table, project, month, kind, quantity)).await;
            let kind = service::kind_name(kind);
            let attempt = format!("{project} reports {quantity} {kind} in {month}");
            refused(&mut refusals, organization, attempt, outcome)?;
        }
        Ok::<_, PlatformError>(())
    };
    tenant::scope(organization, run).await?;
    Ok(refusals)
}

/// After the checkpoint: a promotion, the API keys, and one revoked. Returns the keys issued
/// (organization and key) and the revoked one.
async fn administer(table: &Table) -> Result<(Vec<(String, IssuedKey)>, (String, IssuedKey))> {
    let promote = service::change_role(table, "ada", "grace", Role::Admin);
    Box::pin(tenant::scope("acme", promote)).await?;
    let mut issued = Vec::new();
    let mut revoked = None;
    for entry in KEYS {
        let key = Box::pin(issue(table, entry)).await?;
        match entry.2 == REVOKED {
            true => revoked = Some((entry.0.to_owned(), key)),
            false => issued.push((entry.0.to_owned(), key)),
        }
    }
    let revoked = revoked.ok_or(PlatformError::Unauthorized)?;
    Ok((issued, revoked))
}

/// Issues one of [`KEYS`], and revokes it at once if it is [`REVOKED`].
async fn issue(
    table: &Table,
    (organization, by, name, project, rate_limit): (&str, &str, &str, &str, i64),
) -> Result<IssuedKey> {
    let run = async {
        let scopes = ["read:resources", "write:resources"];
        let key = service::issue_key(table, by, name, project, rate_limit, &scopes).await?;
        if name == REVOKED {
            Box::pin(service::revoke_key(table, by, &key.key.id)).await?;
        }
        Ok(key)
    };
    tenant::scope(organization, run).await
}

/// Requests with API keys, made before any scope (the key names its organization): a burst
/// over acme's rate limit, one in the next minute, one of globex's, the revoked key and a
/// wrong one.
async fn send_requests(
    table: &Table,
    issued: &[(String, IssuedKey)],
    revoked: &(String, IssuedKey),
    now: OffsetDateTime,
) -> Result<Requests> {
    let secret = |organization: &str| {
        issued
            .iter()
            .find(|(o, _)| o == organization)
            .map(|(_, k)| k.secret.clone())
            .unwrap_or_default()
    };
    let wrong = format!("{}{}", service::KEY_PREFIX, "0".repeat(32));
    let mut sent = vec![("acme", secret("acme"), now); BURST];
    sent.push(("acme", secret("acme"), now + Duration::minutes(1)));
    sent.push(("globex", secret("globex"), now));
    sent.push((revoked.0.as_str(), revoked.1.secret.clone(), now));
    sent.push(("-", wrong, now));
    let mut requests = Requests::default();
    for (organization, key, at) in sent {
        let outcome = Box::pin(service::list_projects_with_key(table, &key, at)).await;
        requests.count(organization, outcome)?;
    }
    Ok(requests)
}

/// What one organization holds at the end: its line, its usage by month, its audit log.
async fn summarize(
    table: &Table,
    id: &str,
    window: (OffsetDateTime, OffsetDateTime, OffsetDateTime),
) -> Result<(OrganizationLine, Vec<MonthlyUsage>, AuditSummary)> {
    let owner = ORGANIZATIONS
        .into_iter()
        .find(|o| o.0 == id)
        .map_or("", |o| o.3);
    let summary = async {
        let organization = service::organization(table).await?;
        let live_keys = ApiKey::list_all(table).count().await?;
        let all_keys = ApiKey::list_all(table).include_deleted().count().await?;
        let line = OrganizationLine {
            id: id.into(),
            name: organization.name,
            plan: organization.plan,
            users: organization.user_count,
            projects: organization.project_count,
            live_keys,
            revoked_keys: all_keys - live_keys,
        };
        let mut months = Vec::new();
        for month in MONTHS {
            months.push(MonthlyUsage {
                organization: id.into(),
                month: month.into(),
                projects: Box::pin(service::monthly_usage(table, month)).await?,
                metered_api_calls: service::metered_api_calls(table, month).await?,
                allowance: organization.plan.limits().api_calls_per_month,
            });
        }
        let mut members: Vec<&str> = INVITATIONS
            .iter()
            .filter(|(o, ..)| *o == id)
            .map(|(_, _, who, _)| *who)
            .collect();
        members.push(owner);
        let log = Box::pin(service::audit_summary(table, &members, owner, window)).await?;
        Ok::<_, PlatformError>((line, months, log))
    };
    tenant::scope(id, summary).await
}

/// Signing in: a person's memberships, found by email with no scope.
async fn sign_in(table: &Table, email: &str) -> Result<SignIn> {
    let memberships = service::memberships_of(table, email)
        .await?
        .into_iter()
        .map(|(organization, member)| (organization.to_string(), member.role))
        .collect();
    Ok(SignIn {
        email: email.into(),
        memberships,
    })
}
