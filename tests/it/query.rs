//! Partition queries, named range queries, the type index, filters and pagination.

use std::collections::HashSet;

use futures::{StreamExt, TryStreamExt};
use singletable::prelude::*;
use singletable::{CursorError, SortKey};

use crate::model::*;
use crate::table;

fn event(stream: &str, n: usize) -> NewEvent {
    NewEvent {
        stream: stream.into(),
        seq: seq(n),
        kind: if n.is_multiple_of(2) { "even" } else { "odd" }.into(),
        size: n as i64,
        note: n.is_multiple_of(3).then(|| format!("note {n}")),
        labels: vec![format!("l{}", n % 4)],
    }
}

/// Creates events `0..count` (and a marker after every `marker_every`-th) concurrently.
async fn fill(table: &Table, stream: &str, count: usize, marker_every: Option<usize>) {
    futures::stream::iter(0..count)
        .map(|n| async move {
            Event::create(table, event(stream, n)).await.unwrap();
            if marker_every.is_some_and(|every| n % every == 0) {
                Marker::create(
                    table,
                    NewMarker {
                        stream: stream.into(),
                        seq: seq(n),
                    },
                )
                .await
                .unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

fn seqs(events: &[Event]) -> Vec<usize> {
    events.iter().map(|e| e.seq.parse().unwrap()).collect()
}

#[tokio::test]
async fn each_sort_key_operator_selects_its_range() {
    let table = table("query").await;
    fill(&table, "s", 30, Some(5)).await;
    let q = || Event::query(&table, EventPartition { stream: "s" });

    assert_eq!(seqs(&q().at(&seq(7)).all().await.unwrap()), [7]);
    assert_eq!(
        seqs(&q().seq_prefix("0001").all().await.unwrap()),
        (10..20).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(&q().between(&seq(3), &seq(6)).all().await.unwrap()),
        [3, 4, 5, 6]
    );
    assert_eq!(seqs(&q().before(&seq(3)).all().await.unwrap()), [0, 1, 2]);
    assert_eq!(seqs(&q().up_to(&seq(3)).all().await.unwrap()), [0, 1, 2, 3]);
    assert_eq!(
        seqs(&q().after(&seq(26)).all().await.unwrap()),
        [27, 28, 29]
    );
    assert_eq!(seqs(&q().from(&seq(27)).all().await.unwrap()), [27, 28, 29]);
    assert_eq!(
        seqs(&q().from(&seq(27)).descending().all().await.unwrap()),
        [29, 28, 27]
    );
    let raw = q()
        .sort_key(SortKey::BeginsWith("SEQ#0002".into()))
        .all()
        .await
        .unwrap();
    assert_eq!(seqs(&raw), (20..30).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_range_value_with_the_separator_is_refused() {
    let table = table("query").await;
    let err = Event::query(&table, EventPartition { stream: "s" })
        .at("1#x")
        .all()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidKey {
                entity: "EVENT",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Event::query(&table, EventPartition { stream: "s#x" })
        .all()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidKey {
                entity: "EVENT",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_shared_partition_returns_each_entity_only_its_own_items() {
    let table = table("query").await;
    let org = Organization::create(
        &table,
        NewOrganization {
            tenant_id: "t1".into(),
            name: "Acme".into(),
            plan: Plan::Pro,
            max_users: 5,
            description: None,
        },
    )
    .await
    .unwrap();
    let mut teams = Vec::new();
    for name in ["Core", "Web"] {
        let new = NewTeam {
            tenant_id: "t1".into(),
            organization_id: org.id.clone(),
            name: name.into(),
            description: None,
        };
        teams.push(Team::create(&table, new).await.unwrap());
    }
    for (team, names) in teams.iter().zip([&["ann", "bob"][..], &["cy"][..]]) {
        for username in names {
            let new = NewTeamMember {
                tenant_id: "t1".into(),
                organization_id: org.id.clone(),
                team_id: team.id.clone(),
                username: (*username).into(),
                role: "member".into(),
            };
            TeamMember::create(&table, new).await.unwrap();
        }
    }

    let mut found = Team::query(
        &table,
        TeamPartition {
            tenant_id: "t1",
            organization_id: &org.id,
        },
    )
    .all()
    .await
    .unwrap();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        found, teams,
        "members' sort keys start with TEAM# too, but are not teams"
    );

    let partition = TeamMemberPartition {
        tenant_id: "t1",
        organization_id: &org.id,
    };
    assert_eq!(
        TeamMember::query(&table, partition)
            .all()
            .await
            .unwrap()
            .len(),
        3
    );
    let of_first = TeamMember::query(&table, partition)
        .of_team(&teams[0].id)
        .all()
        .await
        .unwrap();
    let mut names: Vec<_> = of_first.iter().map(|m| m.username.as_str()).collect();
    names.sort();
    assert_eq!(names, ["ann", "bob"]);

    let orgs = Organization::query(
        &table,
        OrganizationPartition {
            tenant_id: "t1",
            organization_id: &org.id,
        },
    )
    .all()
    .await
    .unwrap();
    assert_eq!(orgs, [org]);
}

#[tokio::test]
async fn filters_limit_and_consistent_reads() {
    let table = table("query").await;
    fill(&table, "s", 20, None).await;
    let q = || Event::query(&table, EventPartition { stream: "s" });
    let f = Event::FIELDS;

    let even = q().filter(f.kind.eq("even")).all().await.unwrap();
    assert_eq!(seqs(&even), (0..20).step_by(2).collect::<Vec<_>>());
    let big_odd = q()
        .filter(f.kind.eq("odd").and(f.size.gt(14)))
        .all()
        .await
        .unwrap();
    assert_eq!(seqs(&big_odd), [15, 17, 19]);
    let noted = q().filter(f.note.exists()).all().await.unwrap();
    assert_eq!(seqs(&noted), [0, 3, 6, 9, 12, 15, 18]);
    let unnoted = q()
        .filter(f.note.not_exists().and(f.size.le(2)))
        .all()
        .await
        .unwrap();
    assert_eq!(seqs(&unnoted), [1, 2]);
    let middle = q().filter(f.size.between(5, 7)).all().await.unwrap();
    assert_eq!(seqs(&middle), [5, 6, 7]);
    let either = q()
        .filter(f.size.lt(1).or(f.size.ge(19)))
        .all()
        .await
        .unwrap();
    assert_eq!(seqs(&either), [0, 19]);
    let prefixed = q()
        .filter(f.note.begins_with("note 1"))
        .all()
        .await
        .unwrap();
    assert_eq!(seqs(&prefixed), [12, 15, 18]);
    let labelled = q().filter(f.labels.contains("l3")).all().await.unwrap();
    assert_eq!(seqs(&labelled), [3, 7, 11, 15, 19]);
    let not_even = q().filter(f.kind.ne("even").not()).all().await.unwrap();
    assert_eq!(not_even, even);

    assert_eq!(seqs(&q().limit(3).all().await.unwrap()), [0, 1, 2]);
    assert_eq!(
        seqs(&q().limit(2).descending().all().await.unwrap()),
        [19, 18]
    );
    assert_eq!(q().consistent_read().all().await.unwrap().len(), 20);
    let streamed: Vec<Event> = q().limit(4).stream().try_collect().await.unwrap();
    assert_eq!(seqs(&streamed), [0, 1, 2, 3]);
}

#[tokio::test]
async fn pages_all_and_stream_read_every_item_exactly_once() {
    let table = table("query").await;
    // Markers of another entity sit between the events in sort order.
    fill(&table, "big", 1050, Some(7)).await;
    let q = || Event::query(&table, EventPartition { stream: "big" });

    let mut pages = 0;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = q().page(100, cursor.as_deref()).await.unwrap();
        pages += 1;
        if page.cursor.is_some() {
            assert_eq!(page.items.len(), 100, "every page but the last is full");
        }
        seen.extend(seqs(&page.items));
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(pages, 11);
    assert_eq!(seen.len(), 1050);
    assert_eq!(seen.iter().copied().collect::<HashSet<_>>().len(), 1050);
    assert_eq!(seen, (0..1050).collect::<Vec<_>>(), "in sort-key order");

    let all = seqs(&q().all().await.unwrap());
    assert_eq!(all, seen);
    let streamed: Vec<Event> = q().stream().try_collect().await.unwrap();
    assert_eq!(seqs(&streamed), seen);
}

#[tokio::test]
async fn a_tampered_or_foreign_cursor_is_refused() {
    let table = table("query").await;
    fill(&table, "s", 10, None).await;
    fill(&table, "t", 10, None).await;
    let q = |stream| Event::query(&table, EventPartition { stream });
    let cursor = q("s").page(3, None).await.unwrap().cursor.unwrap();

    // The same query resumes.
    assert_eq!(
        seqs(&q("s").page(3, Some(&cursor)).await.unwrap().items),
        [3, 4, 5]
    );

    let mut bytes: Vec<char> = cursor.chars().collect();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == 'A' { 'B' } else { 'A' };
    let altered: String = bytes.into_iter().collect();
    let err = q("s").page(3, Some(&altered)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidCursor {
                source: CursorError::Tampered | CursorError::Malformed,
                ..
            }
        ),
        "{err:?}"
    );

    let err = q("t").page(3, Some(&cursor)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidCursor {
                source: CursorError::OtherQuery,
                ..
            }
        ),
        "{err:?}"
    );
    let err = q("s")
        .descending()
        .page(3, Some(&cursor))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidCursor {
                source: CursorError::OtherQuery,
                ..
            }
        ),
        "{err:?}"
    );
    let err = q("s").page(3, Some("not a cursor")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidCursor {
                source: CursorError::Malformed,
                ..
            }
        ),
        "{err:?}"
    );
    let err = q("s").page(0, None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
}

#[tokio::test]
async fn list_all_returns_an_entity_type_in_creation_order() {
    let table = table("query").await;
    let mut created = Vec::new();
    for n in 0..6 {
        created.push(
            Event::create(&table, event(&format!("s{}", n % 2), n))
                .await
                .unwrap(),
        );
        Marker::create(
            &table,
            NewMarker {
                stream: "s0".into(),
                seq: seq(n),
            },
        )
        .await
        .unwrap();
        // `_timestamp` has millisecond precision: keep creations apart.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let listed = Event::list_all(&table).all().await.unwrap();
    assert_eq!(listed, created);
    let newest = Event::list_all(&table)
        .descending()
        .limit(2)
        .all()
        .await
        .unwrap();
    assert_eq!(seqs(&newest), [5, 4]);

    let raw = crate::raw_items(&table).await;
    let created_at = |n: usize| {
        raw.iter()
            .find(|i| i["_type"].as_s().unwrap() == "EVENT" && i["seq"].as_s().unwrap() == &seq(n))
            .map(|i| i["_timestamp"].as_s().unwrap().clone())
            .unwrap()
    };
    let parse = |text: String| {
        time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339).unwrap()
    };
    let window = Event::list_by_creation(&table, parse(created_at(2)), parse(created_at(4)))
        .all()
        .await
        .unwrap();
    assert_eq!(seqs(&window), [2, 3, 4]);

    let err = Event::list_all(&table)
        .consistent_read()
        .all()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
}

#[tokio::test]
async fn a_stream_reads_pages_only_as_they_are_consumed() {
    let table = table("query").await;
    fill(&table, "s", 30, None).await;
    let partition = EventPartition { stream: "s" };
    let table = &table;
    let take = |n: usize| async move {
        let stream = Event::query(table, partition).page_size(5).stream();
        futures::pin_mut!(stream);
        let mut taken = Vec::new();
        for _ in 0..n {
            taken.push(stream.next().await.unwrap().unwrap());
        }
        taken
    };
    let (first, requests) = crate::count_requests(take(3)).await;
    assert_eq!(seqs(&first), [0, 1, 2]);
    assert_eq!(requests, 1, "only the first page was read");
    let (first, requests) = crate::count_requests(take(12)).await;
    assert_eq!(seqs(&first), (0..12).collect::<Vec<_>>());
    assert_eq!(requests, 3);

    let (all, requests) =
        crate::count_requests(Event::query(table, partition).page_size(5).all()).await;
    assert_eq!(all.unwrap().len(), 30);
    assert_eq!(
        requests, 7,
        "six full pages and the empty one that ends the query"
    );
}

/// A reading at a time, several per time: the sort key continues past the ranges' prefix.
#[derive(Entity, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "READING",
    pk = "SENSOR#<sensor>",
    sk = "AT#<at>#<id>",
    range(name = "in_period", between = "AT#<at>"),
    range(name = "until", le = "AT#<at>"),
    range(name = "later_than", gt = "AT#<at>")
)]
struct Reading {
    sensor: String,
    at: String,
    id: String,
}

#[tokio::test]
async fn prefix_ranges_include_every_key_at_their_upper_bound() {
    let table = crate::table_with("query", |b| b.entity::<Reading>()).await;
    for at in ["01", "02", "03", "04"] {
        for id in ["a", "b"] {
            let reading = Reading {
                sensor: "s".into(),
                at: at.into(),
                id: id.into(),
            };
            reading.put(&table).await.unwrap();
        }
    }
    let q = || Reading::query(&table, ReadingPartition { sensor: "s" });
    let ats = |readings: Vec<Reading>| {
        readings
            .into_iter()
            .map(|r| format!("{}{}", r.at, r.id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ats(q().in_period("02", "03").all().await.unwrap()),
        ["02a", "02b", "03a", "03b"],
        "both bounds are included, with every item at them"
    );
    assert_eq!(
        ats(q().until("02").all().await.unwrap()),
        ["01a", "01b", "02a", "02b"]
    );
    assert_eq!(
        ats(q().later_than("03").all().await.unwrap()),
        ["04a", "04b"]
    );
}
