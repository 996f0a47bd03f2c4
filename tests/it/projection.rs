//! Projections: a struct of some of an entity's fields, read with a `ProjectionExpression`
//! from get, queries, index queries, listings and batch gets, under the guards of full reads.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, BatchGet};

/// An article with a large body, in a blog's partition and in an author index.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "ARTICLE",
    pk = "BLOG#<blog>",
    sk = "ARTICLE#<id>",
    index(
        name = "GSI1",
        query = "by_author",
        pk = "AUTHOR#<author>",
        sk = "ARTICLE#<id>"
    ),
    soft_delete
)]
#[serde(rename_all = "camelCase")]
pub struct Article {
    pub blog: String,
    pub id: u32,
    pub author: String,
    pub title: String,
    pub word_count: i64,
    pub body: String,
    #[entity(ttl)]
    pub expires_at: Option<i64>,
}

/// The article without its body; names follow the entity's `rename_all`.
#[derive(Projection, Deserialize, Debug, Clone, PartialEq)]
#[projection(of = Article)]
#[serde(rename_all = "camelCase")]
pub struct ArticleTitle {
    pub id: u32,
    pub title: String,
    pub word_count: i64,
}

/// Another entity in the blogs' partitions, with an article's sort key layout.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "DRAFT", pk = "BLOG#<blog>", sk = "ARTICLE#<id>#DRAFT")]
pub struct Draft {
    pub blog: String,
    pub id: u32,
    pub title: String,
}

/// A tenant-scoped memo, and a projection of it without the tenant field.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "MEMO",
    pk = "TENANT#<tenant_id>#MEMOS",
    sk = "MEMO#<id>",
    index(
        name = "GSI1",
        query = "by_topic",
        pk = "TENANT#<tenant_id>#TOPIC#<topic>",
        sk = "MEMO#<id>"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct Memo {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: String,
    pub topic: String,
    pub text: String,
}

#[derive(Projection, Deserialize, Debug, Clone, PartialEq)]
#[projection(of = Memo)]
pub struct MemoTopic {
    pub id: String,
    pub topic: String,
}

/// What one request sent and how large its answer was.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    pub request: String,
    pub response: String,
    pub response_bytes: usize,
}

/// Keeps every request body and the size of every response body.
#[derive(Debug, Clone, Default)]
pub struct Wiretap(Arc<Mutex<Vec<Exchange>>>);

impl Intercept for Wiretap {
    fn name(&self) -> &'static str {
        "Wiretap"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context
            .request()
            .body()
            .bytes()
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .unwrap_or_default();
        self.0.lock().unwrap().push(Exchange {
            request,
            ..Exchange::default()
        });
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let body = context.response().body().bytes().unwrap_or_default();
        if let Some(last) = self.0.lock().unwrap().last_mut() {
            last.response_bytes = body.len();
            last.response = String::from_utf8_lossy(body).into_owned();
        }
        Ok(())
    }
}

impl Wiretap {
    /// The exchanges since the last call.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A fresh table on a client with the wiretap: type, tenant type and GSI1 indexes, `ttl`.
pub async fn tapped_table(prefix: &str) -> (Table, Wiretap) {
    let local = singletable_local::DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let wiretap = Wiretap::default();
    let client = local.client().await;
    let config = client
        .config()
        .to_builder()
        .interceptor(wiretap.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = Table::builder(client, singletable_local::unique_table_name(prefix))
        .type_index("TypeIndex")
        .tenant_type_index("TenantTypeIndex")
        .index("GSI1", "gsi1pk", "gsi1sk")
        .ttl_attribute("ttl")
        .build();
    table.create_table().await.expect("table is created");
    wiretap.take();
    (table, wiretap)
}

fn article(id: u32, author: &str, body_len: usize) -> NewArticle {
    NewArticle {
        blog: "b1".into(),
        id,
        author: author.into(),
        title: format!("Title {id}"),
        word_count: i64::from(id) * 100,
        body: "x".repeat(body_len),
        expires_at: None,
    }
}

fn title(id: u32) -> ArticleTitle {
    ArticleTitle {
        id,
        title: format!("Title {id}"),
        word_count: i64::from(id) * 100,
    }
}

#[tokio::test]
async fn a_projected_get_answers_with_fewer_bytes_than_a_full_get() {
    let (table, wiretap) = tapped_table("projection-bytes").await;
    Article::create(&table, article(1, "ada", 20_000))
        .await
        .unwrap();
    let key = ArticleKey { blog: "b1", id: &1 };
    wiretap.take();

    let full = Article::get(&table, key).await.unwrap().unwrap();
    assert_eq!(full.body.len(), 20_000);
    let full_exchange = wiretap.take().pop().unwrap();
    let projected = Article::get_as::<ArticleTitle>(&table, key).await.unwrap();
    assert_eq!(projected, Some(title(1)));
    let projected_exchange = wiretap.take().pop().unwrap();

    assert!(
        projected_exchange.request.contains("ProjectionExpression"),
        "{}",
        projected_exchange.request
    );
    assert!(!full_exchange.request.contains("ProjectionExpression"));
    eprintln!(
        "GetItem response: {} bytes whole, {} bytes projected",
        full_exchange.response_bytes, projected_exchange.response_bytes
    );
    assert!(full_exchange.response_bytes > 20_000);
    assert!(
        projected_exchange.response_bytes < full_exchange.response_bytes,
        "projected {} bytes, whole {} bytes",
        projected_exchange.response_bytes,
        full_exchange.response_bytes
    );
    assert!(projected_exchange.response_bytes < 1_000);
}

#[tokio::test]
async fn every_read_reads_the_projection_with_the_entitys_values() {
    let (table, wiretap) = tapped_table("projection-reads").await;
    for (id, author) in [(1, "ada"), (2, "grace"), (3, "ada")] {
        Article::create(&table, article(id, author, 5_000))
            .await
            .unwrap();
    }
    wiretap.take();

    let queried = Article::query(&table, ArticlePartition { blog: "b1" })
        .project::<ArticleTitle>()
        .all()
        .await
        .unwrap();
    assert_eq!(queried, [title(1), title(2), title(3)]);

    let by_author = Article::by_author(&table, ArticleByAuthor { author: "ada" })
        .project::<ArticleTitle>()
        .all()
        .await
        .unwrap();
    assert_eq!(by_author, [title(1), title(3)]);

    let listed = Article::list_all(&table)
        .descending()
        .project::<ArticleTitle>()
        .all()
        .await
        .unwrap();
    assert_eq!(listed, [title(3), title(2), title(1)]);

    let page = Article::query(&table, ArticlePartition { blog: "b1" })
        .project::<ArticleTitle>()
        .page(2, None)
        .await
        .unwrap();
    assert_eq!(page.items, [title(1), title(2)]);
    let rest = Article::query(&table, ArticlePartition { blog: "b1" })
        .project::<ArticleTitle>()
        .page(2, page.cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(rest.items, [title(3)]);

    let streamed: Vec<ArticleTitle> = futures::TryStreamExt::try_collect(
        Article::query(&table, ArticlePartition { blog: "b1" })
            .page_size(1)
            .project::<ArticleTitle>()
            .stream(),
    )
    .await
    .unwrap();
    assert_eq!(streamed, [title(1), title(2), title(3)]);

    let mut batch = BatchGet::new(&table);
    let one = batch
        .get_as::<ArticleTitle>(ArticleKey { blog: "b1", id: &1 })
        .unwrap();
    let two = batch
        .get_as::<ArticleTitle>(ArticleKey { blog: "b1", id: &2 })
        .unwrap();
    let none = batch
        .get_as::<ArticleTitle>(ArticleKey { blog: "b1", id: &9 })
        .unwrap();
    let mut got = batch.send().await.unwrap();
    assert_eq!(got.take(one).unwrap(), Some(title(1)));
    assert_eq!(got.take(two).unwrap(), Some(title(2)));
    assert_eq!(got.take(none).unwrap(), None);

    // Every read above asked for the projection, and none of them answered with a body.
    let exchanges = wiretap.take();
    assert!(exchanges.len() >= 9, "{exchanges:?}");
    for exchange in &exchanges {
        assert!(
            exchange.request.contains("ProjectionExpression"),
            "{}",
            exchange.request
        );
        assert!(exchange.response_bytes < 2_000, "{exchange:?}");
    }
}

#[tokio::test]
async fn a_batch_with_a_whole_item_reads_whole_items_and_takes_both() {
    let (table, wiretap) = tapped_table("projection-batch").await;
    let first = Article::create(&table, article(1, "ada", 100))
        .await
        .unwrap();
    Article::create(&table, article(2, "ada", 100))
        .await
        .unwrap();
    wiretap.take();

    let mut batch = BatchGet::new(&table);
    let projected = batch.get_as::<ArticleTitle>(first.key()).unwrap();
    let whole = batch.get::<Article>(first.key()).unwrap();
    let other = batch
        .get_as::<ArticleTitle>(ArticleKey { blog: "b1", id: &2 })
        .unwrap();
    let mut got = batch.send().await.unwrap();
    assert_eq!(got.take(projected).unwrap(), Some(title(1)));
    assert_eq!(got.take(whole).unwrap(), Some(first));
    assert_eq!(got.take(other).unwrap(), Some(title(2)));
    let request = &wiretap.take()[0].request;
    assert!(!request.contains("ProjectionExpression"), "{request}");
}

#[tokio::test]
async fn projected_reads_skip_deleted_expired_and_other_types_items() {
    let (table, _) = tapped_table("projection-guards").await;
    let now = now_seconds();
    for id in 1..=4 {
        let mut new = article(id, "ada", 10);
        if id == 3 {
            new.expires_at = Some(now - 60);
        }
        Article::create(&table, new).await.unwrap();
    }
    Article::delete(&table, ArticleKey { blog: "b1", id: &2 })
        .await
        .unwrap();
    Draft::create(
        &table,
        NewDraft {
            blog: "b1".into(),
            id: 1,
            title: "a draft".into(),
        },
    )
    .await
    .unwrap();

    let key = |id: &'static u32| ArticleKey { blog: "b1", id };
    assert_eq!(
        Article::get_as::<ArticleTitle>(&table, key(&1))
            .await
            .unwrap(),
        Some(title(1))
    );
    for gone in [&2, &3] {
        assert_eq!(Article::get(&table, key(gone)).await.unwrap(), None);
        assert_eq!(
            Article::get_as::<ArticleTitle>(&table, key(gone))
                .await
                .unwrap(),
            None,
            "article {gone} is deleted or expired"
        );
    }
    let visible = [title(1), title(4)];
    let partition = ArticlePartition { blog: "b1" };
    let queried = Article::query(&table, partition)
        .project::<ArticleTitle>()
        .all()
        .await
        .unwrap();
    assert_eq!(queried, visible);
    let by_author = Article::by_author(&table, ArticleByAuthor { author: "ada" })
        .project::<ArticleTitle>()
        .all()
        .await
        .unwrap();
    assert_eq!(by_author, visible);
    let listed = Article::list_all(&table)
        .project::<ArticleTitle>()
        .all()
        .await
        .unwrap();
    assert_eq!(listed, visible);
    let deleted_too = Article::query(&table, partition)
        .include_deleted()
        .project::<ArticleTitle>()
        .all()
        .await
        .unwrap();
    assert_eq!(deleted_too, [title(1), title(2), title(4)]);

    let mut batch = BatchGet::new(&table);
    let slots: Vec<_> = [&1, &2, &3, &4]
        .into_iter()
        .map(|id| batch.get_as::<ArticleTitle>(key(id)).unwrap())
        .collect();
    let mut got = batch.send().await.unwrap();
    let taken: Vec<_> = slots
        .into_iter()
        .map(|slot| got.take(slot).unwrap())
        .collect();
    assert_eq!(taken, [Some(title(1)), None, None, Some(title(4))]);
}

/// Epoch seconds now.
fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn a_projection_of_an_item_of_another_type_is_refused_as_a_full_read_is() {
    let (table, _) = tapped_table("projection-type").await;
    // An article's key holding a draft, as another writer might have stored it.
    let mut item = singletable::item::Item::new();
    for (name, value) in [
        ("pk", "BLOG#b1"),
        ("sk", "ARTICLE#1"),
        ("_type", "DRAFT"),
        ("title", "Title 1"),
    ] {
        item.insert(name.into(), AttributeValue::S(value.into()));
    }
    item.insert("id".into(), AttributeValue::N("1".into()));
    item.insert("wordCount".into(), AttributeValue::N("100".into()));
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let key = ArticleKey { blog: "b1", id: &1 };
    let full = Article::get(&table, key).await.unwrap_err();
    let projected = Article::get_as::<ArticleTitle>(&table, key)
        .await
        .unwrap_err();
    for err in [full, projected] {
        assert!(
            matches!(&err, Error::Decode { entity: "ARTICLE", field, .. } if field == "_type"),
            "{err:?}"
        );
    }
    let queried = Article::query(&table, ArticlePartition { blog: "b1" })
        .project::<ArticleTitle>()
        .all()
        .await
        .unwrap();
    assert_eq!(queried, []);
}

fn memo(id: &str, topic: &str) -> NewMemo {
    NewMemo {
        id: id.into(),
        topic: topic.into(),
        text: format!("text of {id}"),
    }
}

fn topic(id: &str, topic: &str) -> MemoTopic {
    MemoTopic {
        id: id.into(),
        topic: topic.into(),
    }
}

#[tokio::test]
async fn a_projection_in_one_tenants_scope_never_reads_anothers_item() {
    let (table, _) = tapped_table("projection-tenancy").await;
    tenant::scope("A", async {
        Memo::create(&table, memo("m1", "plans")).await.unwrap();
    })
    .await;
    tenant::scope("B", async {
        Memo::create(&table, memo("m2", "plans")).await.unwrap();
    })
    .await;

    let read_all = |tenant: &'static str| {
        let table = table.clone();
        tenant::scope(tenant, async move {
            let got = Memo::get_as::<MemoTopic>(&table, MemoKey { id: "m1" })
                .await
                .unwrap();
            let queried = Memo::query(&table, MemoPartition::default())
                .project::<MemoTopic>()
                .all()
                .await
                .unwrap();
            let indexed = Memo::by_topic(&table, MemoByTopic { topic: "plans" })
                .project::<MemoTopic>()
                .all()
                .await
                .unwrap();
            let listed = Memo::list_all(&table)
                .project::<MemoTopic>()
                .all()
                .await
                .unwrap();
            let mut batch = BatchGet::new(&table);
            let slot = batch.get_as::<MemoTopic>(MemoKey { id: "m1" }).unwrap();
            let batched = batch.send().await.unwrap().take(slot).unwrap();
            (got, queried, indexed, listed, batched)
        })
    };
    let (got, queried, indexed, listed, batched) = read_all("A").await;
    assert_eq!(got, Some(topic("m1", "plans")));
    assert_eq!(batched, Some(topic("m1", "plans")));
    for found in [queried, indexed, listed] {
        assert_eq!(found, [topic("m1", "plans")]);
    }
    let (got, queried, indexed, listed, batched) = read_all("B").await;
    assert_eq!((got, batched), (None, None), "m1 is A's");
    for found in [queried, indexed, listed] {
        assert_eq!(found, [topic("m2", "plans")]);
    }

    let err = Memo::get_as::<MemoTopic>(&table, MemoKey { id: "m1" })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MissingTenant { .. }), "{err:?}");
    let err = Memo::list_all(&table)
        .project::<MemoTopic>()
        .all()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MissingTenant { .. }), "{err:?}");
}

#[tokio::test]
async fn a_projection_checks_the_items_tenant_as_a_full_read_does() {
    let (table, wiretap) = tapped_table("projection-owner").await;
    // In B's key space, an item that says it is A's (written past the library).
    let mut item = singletable::item::Item::new();
    for (name, value) in [
        ("pk", "TENANT#B#MEMOS"),
        ("sk", "MEMO#m1"),
        ("_type", "MEMO"),
        ("tenantId", "A"),
        ("id", "m1"),
        ("topic", "plans"),
        ("text", "A's secret"),
    ] {
        item.insert(name.into(), AttributeValue::S(value.into()));
    }
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    wiretap.take();

    tenant::scope("B", async {
        let full = Memo::get(&table, MemoKey { id: "m1" }).await.unwrap_err();
        let projected = Memo::get_as::<MemoTopic>(&table, MemoKey { id: "m1" })
            .await
            .unwrap_err();
        let queried = Memo::query(&table, MemoPartition::default())
            .project::<MemoTopic>()
            .all()
            .await
            .unwrap_err();
        let mut batch = BatchGet::new(&table);
        let slot = batch.get_as::<MemoTopic>(MemoKey { id: "m1" }).unwrap();
        let batched = batch.send().await.unwrap().take(slot).unwrap_err();
        for err in [full, projected, queried, batched] {
            assert!(
                matches!(&err, Error::TenantMismatch { entity: "MEMO", expected, found } if expected == "B" && found == "A"),
                "{err:?}"
            );
        }
    })
    .await;
    // The projection does not hold the tenant field; the read asked for it to check it.
    let projected = &wiretap.take()[1].request;
    assert!(projected.contains("\"tenantId\""), "{projected}");
}
