//! Secondary indexes: keys written with the item, kept in sync on update, sparse when a source
//! field is `None`, and typed queries on them.

use singletable::prelude::*;

use crate::model::*;
use crate::{raw_items, table_with};

async fn table() -> Table {
    table_with("index", |b| {
        b.index("GSI1", "gsi1pk", "gsi1sk")
            .index("GSI2", "gsi2pk", "gsi2sk")
    })
    .await
}

fn profile(email: &str, referrer: Option<&str>, joined: u32) -> NewProfile {
    NewProfile {
        tenant_id: "t1".into(),
        email: email.into(),
        name: email.split('@').next().unwrap().into(),
        referrer: referrer.map(Into::into),
        joined,
    }
}

#[tokio::test]
async fn create_writes_index_keys_and_the_index_finds_the_item() {
    let table = table().await;
    let ada = Profile::create(&table, profile("ada@example.com", Some("bob"), 3))
        .await
        .unwrap();
    Profile::create(&table, profile("eve@example.com", None, 4))
        .await
        .unwrap();

    let items = raw_items(&table).await;
    let ada_item = items
        .iter()
        .find(|i| i["email"].as_s().unwrap() == "ada@example.com")
        .unwrap();
    assert_eq!(
        ada_item["gsi1pk"].as_s().unwrap(),
        "TENANT#t1#EMAIL#ada@example.com"
    );
    assert_eq!(
        ada_item["gsi1sk"].as_s().unwrap(),
        &format!("PROFILE#{}", ada.id)
    );
    assert_eq!(ada_item["gsi2pk"].as_s().unwrap(), "REFERRER#bob");
    assert_eq!(ada_item["gsi2sk"].as_s().unwrap(), "JOINED#3");
    let eve_item = items
        .iter()
        .find(|i| i["email"].as_s().unwrap() == "eve@example.com")
        .unwrap();
    assert!(
        !eve_item.contains_key("gsi2pk") && !eve_item.contains_key("gsi2sk"),
        "sparse: no referrer, no GSI2 keys"
    );

    let found = Profile::by_email(
        &table,
        ProfileByEmail {
            tenant_id: "t1",
            email: "ada@example.com",
        },
    )
    .all()
    .await
    .unwrap();
    assert_eq!(found, std::slice::from_ref(&ada));
    let referred = Profile::referred_by(&table, ProfileReferredBy { referrer: "bob" })
        .all()
        .await
        .unwrap();
    assert_eq!(referred, [ada]);
}

#[tokio::test]
async fn updating_a_source_field_moves_the_item_in_the_index() {
    let table = table().await;
    let ada = Profile::create(&table, profile("ada@example.com", None, 3))
        .await
        .unwrap();
    let updated = Profile::update(&table, ada.key())
        .set(Profile::FIELDS.email, "ada@lovelace.org")
        .set(Profile::FIELDS.referrer, "carol".to_string())
        .set(Profile::FIELDS.joined, 9u32)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.email, "ada@lovelace.org");

    let by_email = |email: &'static str| {
        Profile::by_email(
            &table,
            ProfileByEmail {
                tenant_id: "t1",
                email,
            },
        )
        .all()
    };
    assert!(by_email("ada@example.com").await.unwrap().is_empty());
    assert_eq!(
        by_email("ada@lovelace.org").await.unwrap(),
        std::slice::from_ref(&updated)
    );
    let referred = Profile::referred_by(&table, ProfileReferredBy { referrer: "carol" })
        .all()
        .await
        .unwrap();
    assert_eq!(referred, std::slice::from_ref(&updated));

    // Removing the referrer takes the item out of the sparse index.
    Profile::update(&table, ada.key())
        .remove(Profile::FIELDS.referrer)
        .send()
        .await
        .unwrap();
    assert!(
        Profile::referred_by(&table, ProfileReferredBy { referrer: "carol" })
            .all()
            .await
            .unwrap()
            .is_empty()
    );
    let item = &raw_items(&table).await[0];
    assert!(!item.contains_key("gsi2pk") && !item.contains_key("gsi2sk"));
    assert_eq!(
        item["gsi1pk"].as_s().unwrap(),
        "TENANT#t1#EMAIL#ada@lovelace.org"
    );
}

#[tokio::test]
async fn an_update_that_cannot_know_an_index_key_is_refused() {
    let table = table().await;
    let ada = Profile::create(&table, profile("ada@example.com", Some("bob"), 3))
        .await
        .unwrap();
    // GSI2's keys need `joined` too, which this update does not set and the key does not hold.
    let err = Profile::update(&table, ada.key())
        .set(Profile::FIELDS.referrer, "carol".to_string())
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest { entity: "PROFILE", reason } if reason.contains("`joined`")),
        "{err:?}"
    );
    assert_eq!(Profile::get(&table, ada.key()).await.unwrap(), Some(ada));
}

#[tokio::test]
async fn index_values_are_checked_like_key_values() {
    let table = table().await;
    let err = Profile::create(&table, profile("a#b@example.com", None, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidKey {
                entity: "PROFILE",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Profile::by_email(
        &table,
        ProfileByEmail {
            tenant_id: "t1#x",
            email: "a",
        },
    )
    .all()
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidKey { .. }), "{err:?}");
    assert!(raw_items(&table).await.is_empty());
}

#[tokio::test]
async fn a_table_without_the_declared_index_is_an_error() {
    let table = crate::table("index").await;
    let err = Profile::create(&table, profile("ada@example.com", None, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest { reason, .. } if reason.contains("GSI1")),
        "{err:?}"
    );
}

/// A referral in the referrer's GSI2 partition, sorted by join date, with typed ranges on the
/// index sort key.
#[derive(Entity, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "REFERRAL",
    pk = "REFERRAL#<id>",
    sk = "#REFERRAL",
    index(
        name = "GSI2",
        query = "by_referrer",
        pk = "REFERRER#<referrer>",
        sk = "JOINED#<joined>#<id>",
        range(name = "joined_on", begins_with = "JOINED#<joined>#"),
        range(name = "joined_between", between = "JOINED#<joined>"),
        range(name = "joined_up_to", le = "JOINED#<joined>"),
        range(name = "joined_after", gt = "JOINED#<joined>"),
        range(name = "joined_before", lt = "JOINED#<joined>")
    )
)]
pub struct Referral {
    pub id: String,
    pub referrer: Option<String>,
    pub joined: Option<String>,
}

/// Two referrals of `bob` on each of the days 1 to 5 of January 2026, and one of `eve`.
async fn referrals(table: &Table) {
    for day in 1..=5 {
        for n in ["a", "b"] {
            let new = NewReferral {
                id: format!("{day}{n}"),
                referrer: Some("bob".into()),
                joined: Some(format!("2026-01-0{day}")),
            };
            Referral::create(table, new).await.unwrap();
        }
    }
    let eve = NewReferral {
        id: "e".into(),
        referrer: Some("eve".into()),
        joined: Some("2026-01-03".into()),
    };
    Referral::create(table, eve).await.unwrap();
}

fn ids(referrals: Vec<Referral>) -> Vec<String> {
    referrals.into_iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn index_ranges_select_by_the_rendered_prefix_of_the_index_sort_key() {
    let table = table().await;
    referrals(&table).await;
    let bob = || Referral::by_referrer(&table, ReferralByReferrer { referrer: "bob" });

    let on = bob().joined_on("2026-01-03").all().await.unwrap();
    assert_eq!(ids(on), ["3a", "3b"]);
    // Both bounds take in every item of their day: the upper one is the day's whole prefix.
    let between = bob()
        .joined_between("2026-01-02", "2026-01-04")
        .all()
        .await
        .unwrap();
    assert_eq!(ids(between), ["2a", "2b", "3a", "3b", "4a", "4b"]);
    let up_to = bob().joined_up_to("2026-01-02").all().await.unwrap();
    assert_eq!(ids(up_to), ["1a", "1b", "2a", "2b"]);
    let after = bob().joined_after("2026-01-04").all().await.unwrap();
    assert_eq!(ids(after), ["5a", "5b"]);
    let before = bob().joined_before("2026-01-02").all().await.unwrap();
    assert_eq!(ids(before), ["1a", "1b"]);

    // The builder keeps the query's other methods.
    let newest = bob()
        .joined_between("2026-01-01", "2026-01-05")
        .descending()
        .limit(3)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(newest), ["5b", "5a", "4b"]);
    let counted = bob()
        .joined_between("2026-01-02", "2026-01-04")
        .count()
        .await
        .unwrap();
    assert_eq!(counted, 6);
}

#[tokio::test]
async fn an_index_range_value_is_checked_like_a_key_value() {
    let table = table().await;
    referrals(&table).await;
    let err = Referral::by_referrer(&table, ReferralByReferrer { referrer: "bob" })
        .joined_on("2026#01")
        .all()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidKey {
                entity: "REFERRAL",
                ..
            }
        ),
        "{err:?}"
    );
}
