//! Entity values to SDK attribute maps and back, with serde, directly: no intermediate map.
//!
//! `serde_dynamo` encodes each field's value and decodes sets, lists and maps; this module walks
//! the top level and reads scalar values itself, straight from the SDK's values, as
//! `serde_dynamo` reads them. An item is built once (with room for the internal attributes) and
//! read once, and a decode error names the field it happened in without tracking paths on the
//! happy path.

use std::collections::hash_map;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::ser::{self, Impossible, Serialize};

/// An item as the SDK holds it.
pub type Item = std::collections::HashMap<String, AttributeValue>;

/// A field's `serialize_with` function, as serde calls it for DynamoDB attributes.
pub type SerializeWith<V> =
    fn(
        &V,
        serde_dynamo::Serializer,
    ) -> std::result::Result<serde_dynamo::AttributeValue, serde_dynamo::Error>;

/// The fields an entity stamps on every update (`#[entity(autogen(on_update = ...))]`), as
/// generated code sets them: encoded values by attribute.
#[derive(Default)]
pub struct Stamps(pub(crate) Vec<(&'static str, serde_dynamo::Result<AttributeValue>)>);

impl Stamps {
    /// Stamps `attribute` with `value`.
    pub fn set<V: serde::Serialize>(&mut self, attribute: &'static str, value: V) {
        self.0
            .push((attribute, serde_dynamo::to_attribute_value(value)));
    }

    /// Stamps `attribute` with `value`, encoded by a field's `#[serde(with = "...")]` function.
    pub fn set_with<V: ?Sized>(
        &mut self,
        attribute: &'static str,
        value: &V,
        with: SerializeWith<V>,
    ) {
        let encoded = with(value, serde_dynamo::Serializer).map(Into::into);
        self.0.push((attribute, encoded));
    }
}

type CodecError = serde_dynamo::Error;
type CodecResult<T> = std::result::Result<T, CodecError>;

/// Room for the key attributes, `_type` and `_timestamp`.
const INTERNAL: usize = 4;

/// Encodes a struct (or map) as an item; `None` fields are left out.
pub(crate) fn to_item<T: Serialize + ?Sized>(value: &T) -> CodecResult<Item> {
    value.serialize(TopLevel)
}

/// Why decoding failed: the field (with its path inside nested values), empty for the item as a
/// whole (a missing field, whose name the message holds).
pub(crate) struct DecodeError {
    pub(crate) field: String,
    pub(crate) message: String,
}

/// Decodes an item (without its internal attributes) into `T`.
pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, DecodeError> {
    from_item_without(item, |_, _| false)
}

/// Decodes an item into `T`, leaving out the attributes that are not fields: `not_field` sees
/// every attribute once, in the item's order, and says which (it may take their values). The
/// library's own attributes are thus sorted out in the same walk that decodes the fields,
/// instead of being removed by their hash first. Every attribute is seen, even after a field
/// failed to decode.
pub(crate) fn from_item_without<T: DeserializeOwned>(
    mut item: Item,
    not_field: impl FnMut(&str, &mut AttributeValue) -> bool,
) -> Result<T, DecodeError> {
    let mut failed = None;
    let mut access = ItemAccess {
        drain: item.drain(),
        not_field,
        value: None,
        key: String::new(),
        failed: &mut failed,
    };
    let decoded = T::deserialize(de::value::MapAccessDeserializer::new(&mut access));
    access.finish();
    decoded.map_err(|e| DecodeError {
        field: failed.unwrap_or_default(),
        message: e.to_string(),
    })
}

fn custom(message: &str) -> CodecError {
    <CodecError as ser::Error>::custom(message)
}

fn not_a_struct<T>() -> CodecResult<T> {
    Err(custom("an entity must serialize as a struct or a map"))
}

/// The serializer of the whole item: only structs and maps are items.
struct TopLevel;

macro_rules! not_items {
    ($($name:ident($($arg:ty),*)),* $(,)?) => {$(
        fn $name(self, $(_: $arg),*) -> CodecResult<Item> {
            not_a_struct()
        }
    )*};
}

impl ser::Serializer for TopLevel {
    type Ok = Item;
    type Error = CodecError;
    type SerializeSeq = Impossible<Item, CodecError>;
    type SerializeTuple = Impossible<Item, CodecError>;
    type SerializeTupleStruct = Impossible<Item, CodecError>;
    type SerializeTupleVariant = Impossible<Item, CodecError>;
    type SerializeMap = MapItem;
    type SerializeStruct = StructItem;
    type SerializeStructVariant = Impossible<Item, CodecError>;

    not_items!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> CodecResult<Item> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> CodecResult<Item> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> CodecResult<Item> {
        not_a_struct()
    }

    fn serialize_seq(self, _: Option<usize>) -> CodecResult<Self::SerializeSeq> {
        not_a_struct()
    }

    fn serialize_tuple(self, _: usize) -> CodecResult<Self::SerializeTuple> {
        not_a_struct()
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> CodecResult<Self::SerializeTupleStruct> {
        not_a_struct()
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> CodecResult<Self::SerializeTupleVariant> {
        not_a_struct()
    }

    fn serialize_map(self, len: Option<usize>) -> CodecResult<MapItem> {
        Ok(MapItem {
            item: Item::with_capacity(len.unwrap_or(0) + INTERNAL),
            key: None,
        })
    }

    fn serialize_struct(self, _: &'static str, len: usize) -> CodecResult<StructItem> {
        Ok(StructItem {
            item: Item::with_capacity(len + INTERNAL),
        })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> CodecResult<Self::SerializeStructVariant> {
        not_a_struct()
    }
}

/// Adds one attribute, leaving out nulls: an absent `Option` is no attribute at all, as `REMOVE`
/// leaves it after an update.
fn insert<T: ?Sized + Serialize>(item: &mut Item, name: String, value: &T) -> CodecResult<()> {
    let value: AttributeValue = serde_dynamo::to_attribute_value(value)?;
    if !matches!(value, AttributeValue::Null(_)) {
        item.insert(name, value);
    }
    Ok(())
}

struct StructItem {
    item: Item,
}

impl ser::SerializeStruct for StructItem {
    type Ok = Item;
    type Error = CodecError;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> CodecResult<()> {
        insert(&mut self.item, name.to_owned(), value)
    }

    fn end(self) -> CodecResult<Item> {
        Ok(self.item)
    }
}

struct MapItem {
    item: Item,
    key: Option<String>,
}

impl ser::SerializeMap for MapItem {
    type Ok = Item;
    type Error = CodecError;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> CodecResult<()> {
        self.key = Some(match serde_dynamo::to_attribute_value(key)? {
            AttributeValue::S(s) | AttributeValue::N(s) => s,
            _ => return Err(custom("attribute names must be strings or numbers")),
        });
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> CodecResult<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| custom("a map value came before its key"))?;
        insert(&mut self.item, key, value)
    }

    fn end(self) -> CodecResult<Item> {
        Ok(self.item)
    }
}

/// Reads an item's attributes as a map. Scalar values are read as they are (see [`Scalar`]);
/// `serde_dynamo` reads the others. Remembers which field failed; nested values (maps, lists)
/// track their inner path only then.
struct ItemAccess<'a, F> {
    drain: hash_map::Drain<'a, String, AttributeValue>,
    not_field: F,
    value: Option<AttributeValue>,
    key: String,
    failed: &'a mut Option<String>,
}

impl<F: FnMut(&str, &mut AttributeValue) -> bool> ItemAccess<'_, F> {
    /// Shows the attributes the decoder did not read to `not_field`.
    fn finish(mut self) {
        for (key, mut value) in self.drain.by_ref() {
            (self.not_field)(&key, &mut value);
        }
    }
}

impl<'de, F: FnMut(&str, &mut AttributeValue) -> bool> MapAccess<'de> for ItemAccess<'_, F> {
    type Error = CodecError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> CodecResult<Option<K::Value>> {
        let (key, value) = loop {
            let Some((key, mut value)) = self.drain.next() else {
                return Ok(None);
            };
            if !(self.not_field)(&key, &mut value) {
                break (key, value);
            }
        };
        self.value = Some(value);
        self.key = key;
        let name: de::value::StrDeserializer<'_, CodecError> =
            self.key.as_str().into_deserializer();
        seed.deserialize(name).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> CodecResult<V::Value> {
        let value = self
            .value
            .take()
            .ok_or_else(|| custom("a value was read before its name"))?;
        if !matches!(value, AttributeValue::M(_) | AttributeValue::L(_)) {
            return seed
                .deserialize(Scalar(value))
                .inspect_err(|_| *self.failed = Some(std::mem::take(&mut self.key)));
        }
        let inner = to_serde_dynamo(value)?;
        let mut track = serde_path_to_error::Track::new();
        seed.deserialize(serde_path_to_error::Deserializer::new(inner, &mut track))
            .inspect_err(|_| {
                let path = track.path().to_string();
                let field = std::mem::take(&mut self.key);
                *self.failed = Some(match path.as_str() {
                    "." => field,
                    index if index.starts_with('[') => format!("{field}{index}"),
                    inner => format!("{field}.{inner}"),
                });
            })
    }

    /// At most this many: some of them may not be fields.
    fn size_hint(&self) -> Option<usize> {
        Some(self.drain.len())
    }
}

/// `serde_dynamo`'s deserializer of `value`. An attribute type newer than the SDK (which it
/// holds as `Unknown`) is an error, not a panic.
fn to_serde_dynamo(value: AttributeValue) -> CodecResult<serde_dynamo::Deserializer> {
    if value.is_unknown() {
        return Err(custom("an attribute of a type this SDK does not know"));
    }
    Ok(serde_dynamo::Deserializer::from_attribute_value(
        value.into(),
    ))
}

/// Reads an SDK value the way `serde_dynamo`'s deserializer reads it, without converting it to
/// `serde_dynamo`'s own value type first: scalars (`S`, `N`, `BOOL`, `NULL`, `B`) are read here,
/// calling the same visitor methods `serde_dynamo` calls; sets, maps and lists, and every value
/// of a kind the visitor does not take, go to `serde_dynamo`, which then also makes the same
/// error it makes today.
struct Scalar(AttributeValue);

/// Deserializer methods that only `serde_dynamo` answers.
macro_rules! by_serde_dynamo {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> CodecResult<V::Value> {
            to_serde_dynamo(self.0)?.$method($($arg,)* visitor)
        }
    )*};
}

/// Deserializer methods of numbers: `N` text parsed as the type asked for.
macro_rules! numbers {
    ($($method:ident($ty:ty) => $visit:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
            if let AttributeValue::N(text) = &self.0 {
                if let Ok(n) = text.parse::<$ty>() {
                    return visitor.$visit(n);
                }
            }
            to_serde_dynamo(self.0)?.$method(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Scalar {
    type Error = CodecError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
        match self.0 {
            // The first of these that parses, as `serde_dynamo` takes them.
            AttributeValue::N(text) => {
                if let Ok(n) = text.parse::<i64>() {
                    visitor.visit_i64(n)
                } else if let Ok(n) = text.parse::<u64>() {
                    visitor.visit_u64(n)
                } else if let Ok(n) = text.parse::<f64>() {
                    visitor.visit_f64(n)
                } else {
                    to_serde_dynamo(AttributeValue::N(text))?.deserialize_any(visitor)
                }
            }
            AttributeValue::S(text) => visitor.visit_string(text),
            AttributeValue::Bool(b) => visitor.visit_bool(b),
            AttributeValue::B(bytes) => visitor.visit_bytes(bytes.as_ref()),
            AttributeValue::Null(true) => visitor.visit_unit(),
            other => to_serde_dynamo(other)?.deserialize_any(visitor),
        }
    }

    numbers!(
        deserialize_i8(i8) => visit_i8,
        deserialize_i16(i16) => visit_i16,
        deserialize_i32(i32) => visit_i32,
        deserialize_i64(i64) => visit_i64,
        deserialize_u8(u8) => visit_u8,
        deserialize_u16(u16) => visit_u16,
        deserialize_u32(u32) => visit_u32,
        deserialize_u64(u64) => visit_u64,
        deserialize_f32(f32) => visit_f32,
        deserialize_f64(f64) => visit_f64,
    );

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
        match self.0 {
            AttributeValue::S(text) => visitor.visit_string(text),
            other => to_serde_dynamo(other)?.deserialize_string(visitor),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
        self.deserialize_string(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
        match self.0 {
            AttributeValue::Bool(b) => visitor.visit_bool(b),
            other => to_serde_dynamo(other)?.deserialize_bool(visitor),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
        match self.0 {
            AttributeValue::B(bytes) => visitor.visit_bytes(bytes.as_ref()),
            other => to_serde_dynamo(other)?.deserialize_bytes(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
        match self.0 {
            AttributeValue::Null(true) => visitor.visit_unit(),
            other => to_serde_dynamo(other)?.deserialize_unit(visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> CodecResult<V::Value> {
        match self.0 {
            AttributeValue::Null(true) => visitor.visit_unit(),
            other => to_serde_dynamo(other)?.deserialize_unit_struct(name, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
        match self.0 {
            AttributeValue::Null(true) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> CodecResult<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> CodecResult<V::Value> {
        match self.0 {
            AttributeValue::S(variant) => {
                let variant: de::value::StringDeserializer<CodecError> =
                    variant.into_deserializer();
                visitor.visit_enum(variant)
            }
            other => to_serde_dynamo(other)?.deserialize_enum(name, variants, visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> CodecResult<V::Value> {
        self.deserialize_any(visitor)
    }

    by_serde_dynamo!(
        deserialize_char(),
        deserialize_seq(),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
    );
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Order {
        order_id: String,
        total: i64,
        note: Option<String>,
        lines: Vec<Line>,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Line {
        sku: String,
        quantity: u32,
    }

    fn order() -> Order {
        Order {
            order_id: "o1".into(),
            total: 12,
            note: None,
            lines: vec![Line {
                sku: "a".into(),
                quantity: 2,
            }],
        }
    }

    #[test]
    fn round_trips_and_leaves_out_none() {
        let item = to_item(&order()).unwrap();
        assert_eq!(item.len(), 3, "no `note` attribute: {item:?}");
        assert_eq!(item["orderId"], AttributeValue::S("o1".into()));
        assert_eq!(item["total"], AttributeValue::N("12".into()));
        assert!(item.capacity() >= item.len() + INTERNAL);
        let back: Order = from_item(item).ok().unwrap();
        assert_eq!(back, order());
    }

    #[test]
    fn errors_name_the_field_and_the_path_inside_it() {
        let mut item = to_item(&order()).unwrap();
        item.insert("total".into(), AttributeValue::S("twelve".into()));
        let err = from_item::<Order>(item).err().unwrap();
        assert_eq!(err.field, "total");

        let mut item = to_item(&order()).unwrap();
        let line = HashMap::from([
            ("sku".to_owned(), AttributeValue::S("a".into())),
            ("quantity".to_owned(), AttributeValue::S("two".into())),
        ]);
        item.insert(
            "lines".into(),
            AttributeValue::L(vec![AttributeValue::M(line)]),
        );
        let err = from_item::<Order>(item).err().unwrap();
        assert_eq!(err.field, "lines[0].quantity");

        let mut item = to_item(&order()).unwrap();
        item.remove("total");
        let err = from_item::<Order>(item).err().unwrap();
        assert_eq!(err.field, "");
        assert!(
            err.message.contains("missing field `total`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn only_structs_and_maps_are_items() {
        assert!(to_item(&5).is_err());
        assert!(to_item(&vec![1]).is_err());
        let map = HashMap::from([("a", 1)]);
        assert_eq!(to_item(&map).unwrap()["a"], AttributeValue::N("1".into()));
    }

    /// A one-field item holding `value`, as an attribute `v`.
    fn one(value: AttributeValue) -> Item {
        HashMap::from([("v".to_owned(), value)])
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct One<T> {
        v: T,
    }

    /// Decodes `{v: value}` into `One<T>` both here and with `serde_dynamo`, checks that both
    /// read the same value or fail with the same message, and returns ours.
    fn read<T>(value: AttributeValue) -> Result<T, DecodeError>
    where
        T: DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let ours = from_item::<One<T>>(one(value.clone()));
        let theirs = serde_dynamo::from_item::<_, One<T>>(one(value.clone()));
        match (&ours, &theirs) {
            (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{value:?}"),
            (Err(ours), Err(theirs)) => {
                assert_eq!(ours.message, theirs.to_string(), "{value:?}");
                match value {
                    // With the path inside it, when there is one.
                    AttributeValue::L(_) | AttributeValue::M(_) => {
                        assert!(ours.field.starts_with('v'), "{value:?}: {}", ours.field)
                    }
                    _ => assert_eq!(ours.field, "v", "{value:?}: the field is named"),
                }
            }
            _ => panic!(
                "{value:?}: ours {:?}, serde_dynamo {theirs:?}",
                ours.as_ref().map_err(|e| &e.message)
            ),
        }
        ours.map(|one| one.v)
    }

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.into())
    }

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(text.into())
    }

    fn b(bytes: &[u8]) -> AttributeValue {
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(bytes))
    }

    /// Every scalar kind, and one of each other kind, as an attribute.
    fn every_kind() -> Vec<AttributeValue> {
        vec![
            s("text"),
            s(""),
            s("é"),
            s("7"),
            n("7"),
            n("-7"),
            n("300"),
            n("18446744073709551615"),
            n("1.5"),
            n("1e400"),
            n("seven"),
            AttributeValue::Bool(true),
            AttributeValue::Null(true),
            AttributeValue::Null(false),
            b(&[1, 2, 3]),
            AttributeValue::Ss(vec!["a".into(), "b".into()]),
            AttributeValue::Ns(vec!["1".into(), "2".into()]),
            AttributeValue::Bs(vec![aws_sdk_dynamodb::primitives::Blob::new([9])]),
            AttributeValue::L(vec![n("1"), s("x")]),
            AttributeValue::M(HashMap::from([("k".to_owned(), s("x"))])),
        ]
    }

    /// Bytes, read with `deserialize_bytes` (a `Vec<u8>` reads as a sequence).
    #[derive(Debug, PartialEq)]
    struct Bytes(Vec<u8>);

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct BytesVisitor;
            impl Visitor<'_> for BytesVisitor {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
            }
            d.deserialize_bytes(BytesVisitor)
        }
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Plan {
        Free,
        Pro,
        Seats(u32),
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Name(String);

    #[derive(Deserialize, Debug, PartialEq)]
    struct Unit;

    /// Every kind of value into every kind of Rust value: our scalar reader and `serde_dynamo`
    /// agree on each value read and on each error.
    #[test]
    fn every_kind_reads_as_serde_dynamo_reads_it() {
        for value in every_kind() {
            let _ = read::<String>(value.clone());
            let _ = read::<char>(value.clone());
            let _ = read::<bool>(value.clone());
            let _ = read::<i8>(value.clone());
            let _ = read::<i16>(value.clone());
            let _ = read::<i32>(value.clone());
            let _ = read::<i64>(value.clone());
            let _ = read::<u8>(value.clone());
            let _ = read::<u16>(value.clone());
            let _ = read::<u32>(value.clone());
            let _ = read::<u64>(value.clone());
            let _ = read::<f32>(value.clone());
            let _ = read::<f64>(value.clone());
            let _ = read::<Bytes>(value.clone());
            let _ = read::<()>(value.clone());
            let _ = read::<Unit>(value.clone());
            let _ = read::<Name>(value.clone());
            let _ = read::<Plan>(value.clone());
            let _ = read::<Option<String>>(value.clone());
            let _ = read::<Option<i64>>(value.clone());
            let _ = read::<Option<Plan>>(value.clone());
            let _ = read::<Vec<String>>(value.clone());
            let _ = read::<Vec<i64>>(value.clone());
            let _ = read::<HashMap<String, String>>(value.clone());
            let _ = read::<(i64, String)>(value.clone());
            // `deserialize_any`, as untagged enums and `serde_json::Value` read.
            let _ = read::<serde_json::Value>(value.clone());
            let _ = read::<Option<serde_json::Value>>(value.clone());
        }
    }

    #[test]
    fn scalars_read_as_their_rust_values() {
        assert_eq!(read::<String>(s("text")).ok(), Some("text".to_owned()));
        assert_eq!(read::<i64>(n("-7")).ok(), Some(-7));
        assert_eq!(read::<u64>(n("18446744073709551615")).ok(), Some(u64::MAX));
        assert_eq!(read::<f64>(n("1.5")).ok(), Some(1.5));
        assert_eq!(read::<bool>(AttributeValue::Bool(true)).ok(), Some(true));
        assert_eq!(read::<Bytes>(b(&[1, 2])).ok(), Some(Bytes(vec![1, 2])));
        assert_eq!(read::<()>(AttributeValue::Null(true)).ok(), Some(()));
        assert_eq!(read::<Name>(s("a")).ok(), Some(Name("a".into())));
        assert_eq!(read::<Plan>(s("pro")).ok(), Some(Plan::Pro));
        let seats = AttributeValue::M(HashMap::from([("seats".to_owned(), n("5"))]));
        assert_eq!(read::<Plan>(seats).ok(), Some(Plan::Seats(5)));
        assert_eq!(
            read::<serde_json::Value>(n("18446744073709551615")).ok(),
            Some(serde_json::json!(u64::MAX))
        );
        assert_eq!(
            read::<serde_json::Value>(n("-1.5")).ok(),
            Some(serde_json::json!(-1.5))
        );
    }

    #[test]
    fn options_read_null_and_absence_as_none() {
        assert_eq!(
            read::<Option<String>>(AttributeValue::Null(true)).ok(),
            Some(None)
        );
        assert_eq!(read::<Option<String>>(s("a")).ok(), Some(Some("a".into())));
        assert_eq!(read::<Option<i64>>(n("3")).ok(), Some(Some(3)));
        let absent = from_item::<One<Option<String>>>(Item::new()).ok().unwrap();
        assert_eq!(absent.v, None);
    }

    #[test]
    fn a_value_of_the_wrong_kind_fails_naming_its_field() {
        let err = read::<String>(AttributeValue::Bool(true)).err().unwrap();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("v", "Expected string")
        );
        let err = read::<i64>(s("7")).err().unwrap();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("v", "Expected num")
        );
        let err = read::<u8>(n("300")).err().unwrap();
        assert!(err.message.contains("300"), "{}", err.message);
        let err = read::<i64>(n("1.5")).err().unwrap();
        assert!(err.message.contains("1.5"), "{}", err.message);
        let err = read::<Plan>(s("gold")).err().unwrap();
        assert!(
            err.message.contains("unknown variant `gold`"),
            "{}",
            err.message
        );
        let err = read::<Option<bool>>(s("yes")).err().unwrap();
        assert_eq!(err.message, "Expected bool");
    }

    #[test]
    fn attributes_that_are_not_fields_are_left_out_and_all_seen() {
        #[derive(Deserialize, Debug, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Strict {
            a: String,
        }
        let mut item = one(s("x"));
        item.insert("a".into(), s("kept"));
        item.insert("_internal".into(), AttributeValue::Bool(true));
        let mut seen = Vec::new();
        let strict: Strict = from_item_without(item.clone(), |name, _| {
            seen.push(name.to_owned());
            name != "a"
        })
        .ok()
        .unwrap();
        assert_eq!(strict.a, "kept");
        seen.sort();
        assert_eq!(seen, ["_internal", "a", "v"]);

        // A field that fails stops the decoding, not the walk.
        item.insert("a".into(), n("1"));
        let mut seen = 0;
        let err = from_item_without::<Strict>(item, |name, _| {
            seen += 1;
            name != "a"
        })
        .err()
        .unwrap();
        assert_eq!(err.field, "a");
        assert_eq!(seen, 3);
    }
}
