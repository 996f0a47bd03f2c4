//! Time to live: the expiry is stored as epoch seconds, and expired items read as absent until
//! DynamoDB deletes them.

use singletable::prelude::*;
use time::{Duration, OffsetDateTime};

use crate::model::*;
use crate::{raw_items, table, table_with};

fn session(id: &str, expires_at: OffsetDateTime) -> NewSession {
    NewSession {
        user: "ada".into(),
        id: id.into(),
        expires_at,
    }
}

#[tokio::test]
async fn expired_items_read_as_absent_and_the_expiry_moves_with_updates() {
    let table = table_with("ttl", |b| b.ttl_attribute("ttl")).await;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let live = Session::create(&table, session("live", now + Duration::hours(1)))
        .await
        .unwrap();
    let gone = Session::create(&table, session("gone", now - Duration::hours(1)))
        .await
        .unwrap();

    let items = raw_items(&table).await;
    let stored = items
        .iter()
        .find(|i| i["id"].as_s().unwrap() == "live")
        .unwrap();
    assert_eq!(
        stored["ttl"].as_n().unwrap(),
        &(now + Duration::hours(1)).unix_timestamp().to_string()
    );

    assert_eq!(
        Session::get(&table, live.key()).await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(
        Session::get(&table, gone.key()).await.unwrap(),
        None,
        "expired, not yet deleted"
    );
    let listed = Session::query(&table, SessionPartition { user: "ada" })
        .all()
        .await
        .unwrap();
    assert_eq!(listed, std::slice::from_ref(&live));

    let revived = Session::update(&table, gone.key())
        .set(Session::FIELDS.expires_at, now + Duration::hours(2))
        .send()
        .await
        .unwrap();
    assert_eq!(
        Session::get(&table, gone.key()).await.unwrap(),
        Some(revived)
    );
    assert_eq!(
        Session::query(&table, SessionPartition { user: "ada" })
            .all()
            .await
            .unwrap()
            .len(),
        2
    );
    let items = raw_items(&table).await;
    let stored = items
        .iter()
        .find(|i| i["id"].as_s().unwrap() == "gone")
        .unwrap();
    assert_eq!(
        stored["ttl"].as_n().unwrap(),
        &(now + Duration::hours(2)).unix_timestamp().to_string()
    );
}

#[tokio::test]
async fn an_expiring_entity_needs_a_ttl_attribute() {
    let table = table("ttl").await;
    let err = Session::create(&table, session("s", OffsetDateTime::now_utc()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest { reason, .. } if reason.contains("time-to-live")),
        "{err:?}"
    );
}
