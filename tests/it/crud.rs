//! Create, get, update, delete and put of single entities, and the stored item format.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use singletable::prelude::*;
use singletable::{keys::KeyError, keys::ValueError, ItemKey};

use crate::model::*;
use crate::{raw_items, table, table_with};

fn new_org(tenant: &str, name: &str) -> NewOrganization {
    NewOrganization {
        tenant_id: tenant.into(),
        name: name.into(),
        plan: Plan::Pro,
        max_users: 50,
        description: None,
    }
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        tenant_id: "t1".into(),
        email: email.into(),
        display_name: "Ada".into(),
        login_count: 0,
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.into())
}

#[tokio::test]
async fn create_writes_exactly_the_documented_item() {
    let table = table("crud").await;
    let org = Organization::create(&table, new_org("t1", "Acme"))
        .await
        .unwrap();

    let items = raw_items(&table).await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    let timestamp = item["_timestamp"].as_s().unwrap();
    // As `singletable::timestamp` writes it: always three digits of milliseconds (`.370Z`,
    // where RFC 3339 formatting would drop the zero).
    let mut created_at = String::new();
    singletable::keys::write_timestamp(org.created_at, &mut created_at);
    let expected: HashMap<String, AttributeValue> = [
        ("pk", s(&format!("TENANT#t1#ORG#{}", org.id))),
        ("sk", s("#METADATA")),
        ("_type", s("ORGANIZATION")),
        ("_timestamp", s(timestamp)),
        ("id", s(&org.id)),
        ("tenantId", s("t1")),
        ("name", s("Acme")),
        ("plan", s("pro")),
        ("maxUsers", AttributeValue::N("50".into())),
        ("memberCount", AttributeValue::N("0".into())),
        ("createdAt", s(&created_at)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(
        item, &expected,
        "no stray key parameter, no None, nothing internal beyond _type/_timestamp"
    );

    // `_timestamp` is the creation time, ISO-8601 UTC with milliseconds.
    assert_eq!(timestamp.len(), "2026-11-24T04:56:06.559Z".len());
    assert!(timestamp.ends_with('Z'));
    let parsed =
        time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert_eq!(parsed, org.created_at);
}

#[tokio::test]
async fn create_fills_generated_fields_and_get_reads_the_same_entity() {
    let table = table("crud").await;
    let org = Organization::create(&table, new_org("t1", "Acme"))
        .await
        .unwrap();
    assert_eq!(uuid::Uuid::parse_str(&org.id).unwrap().get_version_num(), 4);
    assert_eq!(org.member_count, 0);
    assert_eq!(org.updated_at, None);
    let now = time::OffsetDateTime::now_utc();
    assert!((now - org.created_at).whole_seconds().abs() < 60);

    let key = OrganizationKey {
        tenant_id: "t1",
        organization_id: &org.id,
    };
    let read = Organization::get(&table, key).await.unwrap();
    assert_eq!(read, Some(org));

    let user = User::create(&table, new_user("ada@example.com"))
        .await
        .unwrap();
    assert_eq!(user.id.get_version_num(), 7);
    assert_eq!(user.ticket, "T-0001");
    assert_eq!(user.created_at.len(), "2026-11-24T04:56:06.559Z".len());
    assert_eq!(User::get(&table, user.key()).await.unwrap(), Some(user));
}

#[tokio::test]
async fn get_of_a_missing_key_is_none() {
    let table = table("crud").await;
    let key = OrganizationKey {
        tenant_id: "t1",
        organization_id: "nope",
    };
    assert_eq!(Organization::get(&table, key).await.unwrap(), None);
}

#[tokio::test]
async fn create_twice_is_already_exists_and_keeps_the_first_item() {
    let table = table("crud").await;
    User::create(&table, new_user("ada@example.com"))
        .await
        .unwrap();
    let before = raw_items(&table).await;

    let mut second = new_user("ada@example.com");
    second.display_name = "Mallory".into();
    let err = User::create(&table, second).await.unwrap_err();
    match &err {
        Error::AlreadyExists { entity, key } => {
            assert_eq!(*entity, "USER");
            assert_eq!(key.pk, "TENANT#t1#USER#ada@example.com");
            assert_eq!(key.sk, "#PROFILE");
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("USER (pk `TENANT#t1#USER#ada@example.com`"),
        "{err}"
    );
    assert_eq!(raw_items(&table).await, before);
}

#[tokio::test]
async fn key_values_with_the_separator_or_empty_are_refused_before_any_write() {
    let table = table("crud").await;
    for email in ["a#b", "", "x#USER#y", "nul\u{0}"] {
        let err = User::create(&table, new_user(email)).await.unwrap_err();
        let Error::InvalidKey {
            entity: "USER",
            source: KeyError::Value { param, error },
        } = &err
        else {
            panic!("expected InvalidKey for {email:?}, got {err:?}");
        };
        assert_eq!(param, "email");
        let expected = match email {
            "" => ValueError::Empty,
            "nul\u{0}" => ValueError::ControlCharacter,
            _ => ValueError::ContainsSeparator('#'),
        };
        assert_eq!(error, &expected);
    }
    let mut tenant = new_user("ok@example.com");
    tenant.tenant_id = "t1#USER#ok@example.com".into();
    assert!(matches!(
        User::create(&table, tenant).await,
        Err(Error::InvalidKey { .. })
    ));
    assert!(raw_items(&table).await.is_empty(), "nothing was written");

    let key = UserKey {
        tenant_id: "t1#x",
        email: "a",
    };
    assert!(matches!(
        User::get(&table, key).await,
        Err(Error::InvalidKey { .. })
    ));
    let key = UserKey {
        tenant_id: "t1",
        email: "",
    };
    assert!(matches!(
        User::update(&table, key)
            .set(User::FIELDS.display_name, "x")
            .send()
            .await,
        Err(Error::InvalidKey { .. })
    ));
    assert!(matches!(
        User::delete(&table, key).await,
        Err(Error::InvalidKey { .. })
    ));
}

#[tokio::test]
async fn a_key_longer_than_dynamodb_allows_is_refused() {
    let table = table("crud").await;
    let long = "x".repeat(1100);
    assert!(
        User::create(&table, new_user(&long)).await.is_ok(),
        "a 1.1 KB partition key is allowed"
    );
    let long = "x".repeat(2100);
    let err = User::create(&table, new_user(&long)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidKey {
                source: KeyError::TooLong { max: 2048, .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn update_sets_removes_adds_and_stamps() {
    let table = table("crud").await;
    let org = Organization::create(&table, new_org("t1", "Acme"))
        .await
        .unwrap();
    let key = OrganizationKey {
        tenant_id: "t1",
        organization_id: &org.id,
    };

    let updated = Organization::update(&table, key)
        .set(Organization::FIELDS.name, "Acme Corp")
        .set(Organization::FIELDS.description, "Rockets".to_string())
        .add(Organization::FIELDS.member_count, 3)
        .subtract(Organization::FIELDS.max_users, 10)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.name, "Acme Corp");
    assert_eq!(updated.description.as_deref(), Some("Rockets"));
    assert_eq!(updated.member_count, 3);
    assert_eq!(updated.max_users, 40);
    assert_eq!(updated.created_at, org.created_at);
    let stamped = updated.updated_at.expect("on-update timestamp is set");
    assert!(stamped >= org.created_at);
    assert_eq!(
        Organization::get(&table, key).await.unwrap().as_ref(),
        Some(&updated)
    );

    let removed = Organization::update(&table, key)
        .remove(Organization::FIELDS.description)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.description, None);
    let item = &raw_items(&table).await[0];
    assert!(!item.contains_key("description"));
    assert_eq!(item["memberCount"], AttributeValue::N("3".into()));
    // The on-update timestamp is stored as the field's serde format writes it.
    let updated_at = item["updatedAt"].as_s().unwrap();
    time::OffsetDateTime::parse(updated_at, &time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(item["_timestamp"], raw_timestamp_of_create(&org));
}

fn raw_timestamp_of_create(org: &Organization) -> AttributeValue {
    let mut text = String::new();
    singletable::keys::write_timestamp(org.created_at, &mut text);
    AttributeValue::S(text)
}

#[tokio::test]
async fn setting_an_option_field_to_none_removes_it() {
    let table = table("crud").await;
    let mut new = new_org("t1", "Acme");
    new.description = Some("x".into());
    let org = Organization::create(&table, new).await.unwrap();
    let updated = Organization::update(&table, org.key())
        .set(Organization::FIELDS.description, None)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.description, None);
    assert!(!raw_items(&table).await[0].contains_key("description"));
}

#[tokio::test]
async fn update_of_a_missing_item_is_not_found_and_creates_nothing() {
    let table = table("crud").await;
    let key = OrganizationKey {
        tenant_id: "t1",
        organization_id: "missing",
    };
    let err = Organization::update(&table, key)
        .set(Organization::FIELDS.name, "x")
        .send()
        .await
        .unwrap_err();
    match err {
        Error::NotFound {
            entity: "ORGANIZATION",
            key,
        } => assert_eq!(
            key,
            ItemKey {
                pk: "TENANT#t1#ORG#missing".into(),
                sk: "#METADATA".into()
            }
        ),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(raw_items(&table).await.is_empty());
}

#[tokio::test]
async fn an_update_that_changes_nothing_is_refused() {
    let table = table("crud").await;
    let user = User::create(&table, new_user("a@example.com"))
        .await
        .unwrap();
    let err = User::update(&table, user.key()).send().await.unwrap_err();
    assert!(
        matches!(err, Error::EmptyUpdate { entity: "USER", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn numeric_updates_on_absent_fields_start_from_zero() {
    let table = table("crud").await;
    let team_id = uuid::Uuid::new_v4();
    let new = NewProject {
        team_id,
        seq: 7,
        title: "Site".into(),
        budget: None,
        tags: vec![],
    };
    let project = Project::create(&table, new).await.unwrap();
    let updated = Project::update(&table, project.key())
        .add(Project::FIELDS.budget, 12.5)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.budget, Some(12.5));
    let updated = Project::update(&table, project.key())
        .subtract(Project::FIELDS.budget, 2.5)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.budget, Some(10.0));
    let item = &raw_items(&table).await[0];
    assert_eq!(item["pk"], s(&format!("TEAM#{team_id}")));
    assert_eq!(item["sk"], s("PROJECT#7"));
}

#[tokio::test]
async fn delete_returns_the_deleted_entity_once() {
    let table = table("crud").await;
    let user = User::create(&table, new_user("a@example.com"))
        .await
        .unwrap();
    let key = UserKey {
        tenant_id: "t1",
        email: "a@example.com",
    };
    assert_eq!(User::delete(&table, key).await.unwrap(), Some(user));
    assert_eq!(User::delete(&table, key).await.unwrap(), None);
    assert!(raw_items(&table).await.is_empty());
}

#[tokio::test]
async fn put_creates_then_replaces() {
    let table = table("crud").await;
    let mut user = User::create(&table, new_user("a@example.com"))
        .await
        .unwrap();
    let created = raw_items(&table).await[0]["_timestamp"].clone();
    user.display_name = "Grace".into();
    user.login_count = 9;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    user.put(&table).await.unwrap();
    assert_eq!(
        User::get(&table, user.key()).await.unwrap().as_ref(),
        Some(&user)
    );
    let items = raw_items(&table).await;
    assert_eq!(items.len(), 1);
    // As documented: a put replaces the whole item, `_timestamp` included (an update keeps it).
    let replaced = items[0]["_timestamp"].as_s().unwrap();
    assert!(
        replaced.as_str() > created.as_s().unwrap().as_str(),
        "{replaced} is the time of the put, after {created:?}"
    );

    let other = User {
        email: "b@example.com".into(),
        ..user.clone()
    };
    other.put(&table).await.unwrap();
    assert_eq!(raw_items(&table).await.len(), 2);
}

#[tokio::test]
async fn an_item_of_another_type_at_the_key_is_neither_read_nor_deleted() {
    let table = table("crud").await;
    let user = User::create(&table, new_user("a@example.com"))
        .await
        .unwrap();
    // A raw item of another type at the user's key, as a foreign writer could leave it.
    let mut item = raw_items(&table).await.remove(0);
    item.insert("_type".into(), s("INVOICE"));
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();

    let err = User::get(&table, user.key()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { entity: "USER", field, .. } if field == "_type"),
        "{err:?}"
    );
    assert!(matches!(
        User::delete(&table, user.key()).await,
        Err(Error::ConditionFailed { .. })
    ));
    let err = User::update(&table, user.key())
        .set(User::FIELDS.display_name, "x")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed { .. }), "{err:?}");
    assert_eq!(raw_items(&table).await[0]["_type"], s("INVOICE"));
}

#[tokio::test]
async fn a_field_that_does_not_decode_is_named_in_the_error() {
    let table = table("crud").await;
    let user = User::create(&table, new_user("a@example.com"))
        .await
        .unwrap();
    table
        .client()
        .update_item()
        .table_name(table.name())
        .key("pk", s("TENANT#t1#USER#a@example.com"))
        .key("sk", s("#PROFILE"))
        .update_expression("SET login_count = :bad")
        .expression_attribute_values(":bad", s("many"))
        .send()
        .await
        .unwrap();
    let err = User::get(&table, user.key()).await.unwrap_err();
    match &err {
        Error::Decode {
            entity: "USER",
            key,
            field,
            ..
        } => {
            assert_eq!(field, "login_count");
            assert_eq!(key.pk, "TENANT#t1#USER#a@example.com");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn the_table_separator_joins_key_parts() {
    let table = table_with("crud", |b| b.separator('|')).await;
    let user = User::create(&table, new_user("a#b@example.com"))
        .await
        .unwrap();
    let item = &raw_items(&table).await[0];
    assert_eq!(item["pk"], s("TENANT|t1|USER|a#b@example.com"));
    assert_eq!(item["sk"], s("|PROFILE"));
    assert_eq!(User::get(&table, user.key()).await.unwrap(), Some(user));
    let err = User::create(&table, new_user("a|b")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidKey { .. }));
}

#[tokio::test]
async fn a_field_stored_under_a_key_attribute_name_is_refused() {
    #[derive(Entity, serde::Serialize, serde::Deserialize, Debug)]
    #[entity(type = "CLASH", pk = "CLASH#<id>", sk = "#X")]
    struct Clash {
        id: String,
        #[serde(rename = "pk")]
        partition: String,
    }
    let table = table("crud").await;
    let err = Clash::create(
        &table,
        NewClash {
            id: "1".into(),
            partition: "evil".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::ReservedAttribute { entity: "CLASH", attribute } if attribute == "pk"),
        "{err:?}"
    );
    assert!(raw_items(&table).await.is_empty());
}

#[tokio::test]
async fn put_never_replaces_an_item_of_another_type() {
    let table = table("putother").await;
    let org = Organization::create(&table, new_org("t1", "Acme"))
        .await
        .unwrap();
    let mut other = raw_items(&table).await.remove(0);
    other.insert("_type".into(), s("SOMETHING_ELSE"));
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(other.clone()))
        .send()
        .await
        .unwrap();
    let err = org.put(&table).await.unwrap_err();
    assert!(
        matches!(err, singletable::Error::ConditionFailed { .. }),
        "{err:?}"
    );
    assert_eq!(
        raw_items(&table).await,
        [other],
        "the other item is untouched"
    );
}
