//! Soft delete: hidden from reads until restored; listed in the trash; purged for good.

use singletable::prelude::*;

use crate::model::*;
use crate::{raw_items, table};

fn doc(id: &str) -> NewDoc {
    NewDoc {
        folder: "f".into(),
        id: id.into(),
        title: format!("doc {id}"),
    }
}

#[tokio::test]
async fn deleted_items_hide_until_restored_and_purge_removes_them() {
    let table = table("soft").await;
    Folder::create(
        &table,
        NewFolder {
            folder: "f".into(),
            name: "F".into(),
        },
    )
    .await
    .unwrap();
    let a = Doc::create(&table, doc("a")).await.unwrap();
    let b = Doc::create(&table, doc("b")).await.unwrap();
    Doc::create(&table, doc("c")).await.unwrap();
    let partition = DocPartition { folder: "f" };

    assert_eq!(Doc::delete(&table, a.key()).await.unwrap(), Some(a.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    assert_eq!(Doc::delete(&table, b.key()).await.unwrap(), Some(b.clone()));
    assert_eq!(
        Doc::delete(&table, b.key()).await.unwrap(),
        None,
        "already deleted"
    );
    assert_eq!(raw_items(&table).await.len(), 4, "nothing is removed");

    assert_eq!(Doc::get(&table, a.key()).await.unwrap(), None);
    assert_eq!(
        Doc::get_including_deleted(&table, a.key()).await.unwrap(),
        Some(a.clone())
    );
    let live: Vec<_> = Doc::query(&table, partition)
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(live, ["c"]);
    assert_eq!(
        Doc::query(&table, partition)
            .include_deleted()
            .all()
            .await
            .unwrap()
            .len(),
        3
    );
    let folder = FolderWithDocs::get(&table, FolderKey { folder: "f" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        folder
            .docs
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>(),
        ["c"]
    );
    let err = Doc::update(&table, a.key())
        .set(Doc::FIELDS.title, "x")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { .. }),
        "a deleted item is not updated: {err:?}"
    );

    let trash: Vec<_> = Doc::trash(&table, partition)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.entity.id)
        .collect();
    assert_eq!(trash, ["b", "a"], "most recently deleted first");

    assert_eq!(Doc::restore(&table, a.key()).await.unwrap(), a);
    assert_eq!(Doc::get(&table, a.key()).await.unwrap(), Some(a.clone()));
    assert!(
        matches!(
            Doc::restore(&table, a.key()).await,
            Err(Error::NotFound { .. })
        ),
        "not deleted"
    );

    assert_eq!(Doc::purge(&table, b.key()).await.unwrap(), Some(b.clone()));
    assert_eq!(
        Doc::get_including_deleted(&table, b.key()).await.unwrap(),
        None
    );
    assert_eq!(raw_items(&table).await.len(), 3);
}

#[tokio::test]
async fn emptying_the_trash_purges_only_items_deleted_before_the_cutoff() {
    let table = table("soft").await;
    let partition = DocPartition { folder: "f" };
    let old = Doc::create(&table, doc("old")).await.unwrap();
    let kept = Doc::create(&table, doc("kept")).await.unwrap();
    Doc::create(&table, doc("live")).await.unwrap();
    Doc::delete(&table, old.key()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cutoff = time::OffsetDateTime::now_utc();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    Doc::delete(&table, kept.key()).await.unwrap();

    assert_eq!(
        Doc::empty_trash(&table, partition, cutoff).await.unwrap(),
        1
    );
    let trash: Vec<_> = Doc::trash(&table, partition)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.entity.id)
        .collect();
    assert_eq!(trash, ["kept"]);
    assert_eq!(raw_items(&table).await.len(), 2);
}

#[tokio::test]
async fn a_transaction_soft_deletes_a_live_item_and_refuses_a_missing_one() {
    let table = table("softtx").await;
    let a = Doc::create(&table, doc("a")).await.unwrap();
    let mut tx = singletable::Transaction::new(&table);
    tx.delete::<Doc>(a.key()).unwrap();
    tx.send().await.unwrap();
    assert_eq!(Doc::get(&table, a.key()).await.unwrap(), None);
    assert_eq!(
        Doc::get_including_deleted(&table, a.key()).await.unwrap(),
        Some(a.clone()),
        "marked, not removed"
    );

    for id in ["a", "missing"] {
        let mut tx = singletable::Transaction::new(&table);
        tx.delete::<Doc>(DocKey { folder: "f", id }).unwrap();
        let err = tx.send().await.unwrap_err();
        assert!(
            matches!(err, singletable::Error::TransactionCanceled { .. }),
            "{id}: {err:?}"
        );
    }
    assert_eq!(raw_items(&table).await.len(), 1);
}

#[tokio::test]
async fn a_deletion_mark_means_nothing_to_an_entity_without_soft_delete() {
    let table = table("soft-delete").await;
    let folder = Folder {
        folder: "f".into(),
        name: "n".into(),
    };
    folder.put(&table).await.unwrap();
    // Another writer marks the item as if it were soft-deleted.
    table
        .client()
        .update_item()
        .table_name(table.name())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("FOLDER#f".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("#FOLDER".into()),
        )
        .update_expression("SET #d = :d")
        .expression_attribute_names("#d", "_deleted_at")
        .expression_attribute_values(
            ":d",
            aws_sdk_dynamodb::types::AttributeValue::S("2026-01-01T00:00:00.000Z".into()),
        )
        .send()
        .await
        .unwrap();
    let got = Folder::get(&table, FolderKey { folder: "f" })
        .await
        .unwrap();
    let listed = Folder::query(&table, FolderPartition { folder: "f" })
        .all()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), Some(&folder), "get reads it as queries do");
    assert_eq!(listed, [folder]);
}
