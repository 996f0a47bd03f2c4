//! `singletable::timestamp` stores a time as UTC milliseconds, always 24 characters, so that the
//! stored text sorts in time order; `time::serde::rfc3339` does not.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use time::macros::datetime;
use time::{OffsetDateTime, UtcOffset};

fn ours(at: OffsetDateTime) -> String {
    text(singletable::timestamp::serialize(
        &at,
        serde_json::value::Serializer,
    ))
}

fn rfc3339(at: OffsetDateTime) -> String {
    text(time::serde::rfc3339::serialize(
        &at,
        serde_json::value::Serializer,
    ))
}

fn text(serialized: Result<serde_json::Value, serde_json::Error>) -> String {
    match serialized {
        Ok(serde_json::Value::String(text)) => text,
        other => panic!("not serialized as text: {other:?}"),
    }
}

fn read(text: &str) -> OffsetDateTime {
    singletable::timestamp::deserialize(serde_json::Value::from(text)).unwrap()
}

/// `at` cut to milliseconds, as it is stored.
fn millis(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(u32::from(at.millisecond()) * 1_000_000)
        .unwrap()
}

/// Instants in years 0001 to 9998, often within the same few seconds, at whole seconds, at
/// milliseconds such as .760 and .076, and between them, in UTC and at other offsets.
fn instant() -> impl Strategy<Value = OffsetDateTime> {
    let near = datetime!(2026-11-24 04:56:06 UTC).unix_timestamp();
    let first = datetime!(0001-01-02 00:00 UTC).unix_timestamp();
    let last = datetime!(9998-12-31 00:00 UTC).unix_timestamp();
    let seconds = prop_oneof![near - 2..near + 2, first..last];
    let nanos = prop_oneof![
        Just(0),
        Just(760_000_000),
        Just(76_000_000),
        Just(700_000_000),
        (0..1000u32).prop_map(|ms| ms * 1_000_000),
        0..1_000_000_000u32,
    ];
    let offset = prop_oneof![Just(0), -1439..=1439i32];
    (seconds, nanos, offset).prop_map(|(seconds, nanos, minutes)| {
        let offset = UtcOffset::from_whole_seconds(minutes * 60).unwrap();
        OffsetDateTime::from_unix_timestamp(seconds)
            .unwrap()
            .replace_nanosecond(nanos)
            .unwrap()
            .to_offset(offset)
    })
}

proptest! {
    #[test]
    fn stored_text_sorts_in_time_order(a in instant(), b in instant()) {
        let (text_a, text_b) = (ours(a), ours(b));
        prop_assert_eq!(text_a.len(), 24, "{}", text_a);
        prop_assert_eq!(text_a.cmp(&text_b), millis(a).cmp(&millis(b)), "{} {}", text_a, text_b);
        prop_assert_eq!(read(&text_a), millis(a));
    }
}

#[test]
fn rfc3339_text_does_not_sort_in_time_order() {
    let earlier_later = [
        // `.` sorts before `Z`: a fraction sorts before the whole second.
        (
            datetime!(2026-11-24 04:56:06 UTC),
            datetime!(2026-11-24 04:56:06.76 UTC),
        ),
        // A fraction sorts after a longer one that continues it: `Z` is above `6`.
        (
            datetime!(2026-11-24 04:56:06.7 UTC),
            datetime!(2026-11-24 04:56:06.76 UTC),
        ),
        // Text with an offset sorts by its local time.
        (
            datetime!(2026-11-24 06:56:06 +02:00),
            datetime!(2026-11-24 04:56:07 UTC),
        ),
    ];
    for (earlier, later) in earlier_later {
        assert!(
            rfc3339(earlier) > rfc3339(later),
            "{} {}",
            rfc3339(earlier),
            rfc3339(later)
        );
        assert!(
            ours(earlier) < ours(later),
            "{} {}",
            ours(earlier),
            ours(later)
        );
    }
    assert_eq!(
        ours(datetime!(2026-11-24 04:56:06.76 UTC)),
        "2026-11-24T04:56:06.760Z"
    );
    assert_eq!(
        ours(datetime!(2026-11-24 04:56:06 UTC)),
        "2026-11-24T04:56:06.000Z"
    );

    // The property above, with `rfc3339`: a counter-example is found.
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let found = TestRunner::new(config).run(&(instant(), instant()), |(a, b)| {
        prop_assert_eq!(rfc3339(a).cmp(&rfc3339(b)), a.cmp(&b));
        Ok(())
    });
    assert!(found.is_err(), "rfc3339 text sorted in time order");
}

#[test]
fn any_rfc3339_text_reads() {
    let at = datetime!(2026-11-24 04:56:06 UTC);
    assert_eq!(read("2026-11-24T04:56:06Z"), at);
    assert_eq!(read("2026-11-24T06:56:06+02:00"), at);
    assert_eq!(read("2026-11-24T04:56:06.000Z"), at);
    assert_eq!(
        read("2026-11-24T04:56:06.76Z"),
        datetime!(2026-11-24 04:56:06.760 UTC)
    );
}

#[test]
fn times_outside_four_digit_utc_years_are_errors() {
    for at in [
        datetime!(-0001-12-31 23:59:59.999 UTC),
        datetime!(0000-01-01 00:30 +01:00),
        datetime!(9999-12-31 23:00 -05:00),
    ] {
        let serialized = singletable::timestamp::serialize(&at, serde_json::value::Serializer);
        assert!(serialized.is_err(), "{at} serialized as {serialized:?}");
    }
    assert_eq!(
        ours(datetime!(0000-01-01 00:00 UTC)),
        "0000-01-01T00:00:00.000Z"
    );
    assert_eq!(
        ours(datetime!(9999-12-31 23:59:59.999_999 UTC)),
        "9999-12-31T23:59:59.999Z"
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Paid {
    #[serde(default, with = "singletable::timestamp::option")]
    paid_at: Option<OffsetDateTime>,
}

#[test]
fn optional_times_round_trip() {
    let some = Paid {
        paid_at: Some(datetime!(2026-11-24 06:56:06.76 +02:00)),
    };
    let json = serde_json::to_string(&some).unwrap();
    assert_eq!(json, r#"{"paid_at":"2026-11-24T04:56:06.760Z"}"#);
    assert_eq!(serde_json::from_str::<Paid>(&json).unwrap(), some);

    let none = Paid { paid_at: None };
    let json = serde_json::to_string(&none).unwrap();
    assert_eq!(serde_json::from_str::<Paid>(&json).unwrap(), none);
    assert_eq!(serde_json::from_str::<Paid>("{}").unwrap(), none);
}

/// A tick of a clock, sorted by its time; `seen_at` is an ordinary field.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "TICK",
    pk = "CLOCK#<clock>",
    sk = "AT#<at>",
    range(name = "in_period", between = "AT#<at>")
)]
struct Tick {
    clock: String,
    #[serde(with = "singletable::timestamp")]
    at: OffsetDateTime,
    #[serde(default, with = "singletable::timestamp::option")]
    seen_at: Option<OffsetDateTime>,
}

fn tick(at: OffsetDateTime, seen_at: Option<OffsetDateTime>) -> Tick {
    Tick {
        clock: "c".into(),
        at,
        seen_at,
    }
}

/// The `S` value of `attribute` in every item, sorted.
async fn stored(table: &Table, attribute: &str) -> Vec<String> {
    let mut texts: Vec<String> = crate::raw_items(table)
        .await
        .iter()
        .filter_map(|item| item.get(attribute)?.as_s().ok().cloned())
        .collect();
    texts.sort();
    texts
}

#[tokio::test]
async fn stored_times_sort_in_time_order() {
    let table = crate::table_with("timestamps", |b| b.entity::<Tick>()).await;
    for at in [
        datetime!(2026-11-24 06:56:06.760 +02:00),
        datetime!(2026-11-24 04:56:07.000 UTC),
        datetime!(2026-11-24 04:56:06.000 UTC),
        datetime!(2026-11-24 04:56:06.076 UTC),
    ] {
        tick(at, Some(at)).put(&table).await.unwrap();
    }
    let in_order = [
        datetime!(2026-11-24 04:56:06.000 UTC),
        datetime!(2026-11-24 04:56:06.076 UTC),
        datetime!(2026-11-24 04:56:06.760 UTC),
        datetime!(2026-11-24 04:56:07.000 UTC),
    ];
    let ats = |ticks: Vec<Tick>| ticks.into_iter().map(|t| t.at).collect::<Vec<_>>();
    let q = || Tick::query(&table, TickPartition { clock: "c" });

    assert_eq!(ats(q().all().await.unwrap()), in_order);
    assert_eq!(
        ats(q()
            .in_period(&in_order[1], &in_order[2])
            .all()
            .await
            .unwrap()),
        in_order[1..3]
    );
    // A filter compares the stored text, which sorts as the times do.
    let later = q().filter(Tick::FIELDS.seen_at.gt(in_order[1]));
    assert_eq!(ats(later.all().await.unwrap()), in_order[2..]);

    let texts = [
        "2026-11-24T04:56:06.000Z",
        "2026-11-24T04:56:06.076Z",
        "2026-11-24T04:56:06.760Z",
        "2026-11-24T04:56:07.000Z",
    ];
    assert_eq!(stored(&table, "at").await, texts);
    assert_eq!(stored(&table, "seen_at").await, texts);
}

#[tokio::test]
async fn optional_stored_times_round_trip_none_and_some() {
    let table = crate::table_with("timestamps", |b| b.entity::<Tick>()).await;
    let (first, second) = (
        datetime!(2026-11-24 04:56:06 UTC),
        datetime!(2026-11-24 04:56:07 UTC),
    );
    let seen = datetime!(2026-11-24 06:56:06.76 +02:00);
    tick(first, None).put(&table).await.unwrap();
    tick(second, Some(seen)).put(&table).await.unwrap();

    let first = Tick::get(
        &table,
        TickKey {
            clock: "c",
            at: &first,
        },
    )
    .await;
    assert_eq!(first.unwrap().unwrap().seen_at, None);
    let second = Tick::get(
        &table,
        TickKey {
            clock: "c",
            at: &second,
        },
    )
    .await;
    assert_eq!(second.unwrap().unwrap().seen_at, Some(seen));
    assert_eq!(
        stored(&table, "seen_at").await,
        ["2026-11-24T04:56:06.760Z"]
    );
}
