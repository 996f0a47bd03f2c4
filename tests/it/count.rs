//! `count()`: DynamoDB counts the items a query's `all()` would return (`Select = COUNT`),
//! with the same key condition and filters, over every page.

use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::tenant;

use crate::count_requests;
use crate::projection::tapped_table;

/// A ticket on a board, soft-deleted rather than removed, possibly expiring.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "TICKET",
    pk = "BOARD#<board>",
    sk = "TICKET#<status>#<id>",
    range(name = "with_status", begins_with = "TICKET#<status>#"),
    index(
        name = "GSI1",
        query = "by_owner",
        pk = "OWNER#<owner>",
        sk = "TICKET#<id>"
    ),
    soft_delete
)]
pub struct Ticket {
    pub board: String,
    pub status: String,
    pub id: u32,
    pub owner: String,
    pub points: i64,
    #[entity(ttl)]
    pub expires_at: Option<i64>,
}

/// Another entity in the boards' partitions and the owners' index partitions, with sort keys
/// that share the tickets' prefixes.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "TICKET_NOTE",
    pk = "BOARD#<board>",
    sk = "TICKET#<status>#<ticket>#NOTE",
    index(
        name = "GSI1",
        query = "by_owner",
        pk = "OWNER#<owner>",
        sk = "TICKET#<ticket>#NOTE"
    )
)]
pub struct TicketNote {
    pub board: String,
    pub status: String,
    pub ticket: u32,
    pub owner: String,
}

/// A tenant-scoped reminder.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "REMINDER",
    pk = "TENANT#<tenant_id>#REMINDERS",
    sk = "REMINDER#<id>"
)]
pub struct Reminder {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: u32,
}

/// Ten tickets on board `b1`, all of `ada`'s: 1–4 open, 5–10 done; 2 and 6 soft-deleted,
/// 3 and 7 expired; with a note next to every ticket.
async fn board(table: &Table) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for id in 1..=10 {
        let status = if id <= 4 { "open" } else { "done" };
        let expires_at = match id {
            3 | 7 => Some(now - 60),
            _ => Some(now + 3600),
        };
        let new = NewTicket {
            board: "b1".into(),
            status: status.into(),
            id,
            owner: "ada".into(),
            points: i64::from(id),
            expires_at,
        };
        Ticket::create(table, new).await.unwrap();
        let note = NewTicketNote {
            board: "b1".into(),
            status: status.into(),
            ticket: id,
            owner: "ada".into(),
        };
        TicketNote::create(table, note).await.unwrap();
    }
    for id in [2, 6] {
        let status = if id <= 4 { "open" } else { "done" };
        let key = TicketKey {
            board: "b1",
            status,
            id: &id,
        };
        Ticket::delete(table, key).await.unwrap();
    }
}

const BOARD: TicketPartition<'static> = TicketPartition { board: "b1" };

#[tokio::test]
async fn count_is_the_length_of_all_with_deleted_expired_and_other_types_items() {
    let (table, _) = tapped_table("count").await;
    board(&table).await;

    let all = Ticket::query(&table, BOARD).all().await.unwrap();
    let mut ids: Vec<u32> = all.iter().map(|t| t.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 4, 5, 8, 9, 10]);
    assert_eq!(Ticket::query(&table, BOARD).count().await.unwrap(), 6);

    let open = Ticket::query(&table, BOARD).with_status("open");
    assert_eq!(open.count().await.unwrap(), 2);
    let open = Ticket::query(&table, BOARD).with_status("open");
    assert_eq!(open.all().await.unwrap().len(), 2);

    let large = || Ticket::query(&table, BOARD).filter(Ticket::FIELDS.points.gt(4));
    assert_eq!(large().all().await.unwrap().len(), 4);
    assert_eq!(large().count().await.unwrap(), 4);

    let deleted_too = || Ticket::query(&table, BOARD).include_deleted();
    assert_eq!(deleted_too().all().await.unwrap().len(), 8);
    assert_eq!(deleted_too().count().await.unwrap(), 8);

    let owned = || Ticket::by_owner(&table, TicketByOwner { owner: "ada" });
    assert_eq!(owned().all().await.unwrap().len(), 6);
    assert_eq!(owned().count().await.unwrap(), 6);
    assert_eq!(
        TicketNote::by_owner(&table, TicketNoteByOwner { owner: "ada" })
            .count()
            .await
            .unwrap(),
        10
    );

    assert_eq!(Ticket::list_all(&table).all().await.unwrap().len(), 6);
    assert_eq!(Ticket::list_all(&table).count().await.unwrap(), 6);
}

#[tokio::test]
async fn count_follows_every_page_and_stops_at_the_limit() {
    let (table, wiretap) = tapped_table("count-pages").await;
    board(&table).await;
    wiretap.take();

    // One item read per request: the twenty items of the partition take many pages.
    let (count, requests) = count_requests(Ticket::query(&table, BOARD).page_size(1).count()).await;
    assert_eq!(count.unwrap(), 6);
    assert!(requests >= 20, "{requests} requests");
    let exchanges = wiretap.take();
    assert_eq!(exchanges.len(), requests);
    for exchange in &exchanges {
        assert!(
            exchange.request.contains(r#""Select":"COUNT""#),
            "{}",
            exchange.request
        );
        assert!(!exchange.request.contains("ProjectionExpression"));
    }

    let limited = || Ticket::query(&table, BOARD).limit(4);
    assert_eq!(limited().all().await.unwrap().len(), 4);
    assert_eq!(limited().count().await.unwrap(), 4);
    let beyond = || Ticket::query(&table, BOARD).limit(100);
    assert_eq!(beyond().count().await.unwrap(), 6);
    let none = || Ticket::query(&table, BOARD).limit(0);
    assert_eq!(none().count().await.unwrap(), 0);
}

#[tokio::test]
async fn count_counts_the_current_tenants_items_only() {
    let (table, _) = tapped_table("count-tenancy").await;
    for (tenant, n) in [("A", 3), ("B", 5)] {
        tenant::scope(tenant, async {
            for id in 0..n {
                Reminder::create(&table, NewReminder { id }).await.unwrap();
            }
        })
        .await;
    }
    for (tenant, n) in [("A", 3), ("B", 5), ("C", 0)] {
        let counted = tenant::scope(tenant, async {
            let partition = Reminder::query(&table, ReminderPartition::default())
                .count()
                .await
                .unwrap();
            let listed = Reminder::list_all(&table).count().await.unwrap();
            (partition, listed)
        })
        .await;
        assert_eq!(counted, (n, n), "tenant {tenant}");
    }
    let err = Reminder::query(&table, ReminderPartition::default())
        .count()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MissingTenant { .. }), "{err:?}");
    let err = tenant::scope("A#x", Reminder::list_all(&table).count())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidKey { .. }), "{err:?}");
}
