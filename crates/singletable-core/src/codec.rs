//! Entity values to SDK attribute maps and back, with serde, directly: no intermediate map.
//!
//! `serde_dynamo` encodes and decodes each field's value; this module only walks the top level,
//! so an item is built once (with room for the internal attributes) and read once, and a decode
//! error names the field it happened in without tracking paths on the happy path.

use std::collections::hash_map;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess};
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
pub(crate) fn from_item<T: DeserializeOwned>(mut item: Item) -> Result<T, DecodeError> {
    let mut failed = None;
    let access = ItemAccess {
        drain: item.drain(),
        value: None,
        key: String::new(),
        failed: &mut failed,
    };
    T::deserialize(de::value::MapAccessDeserializer::new(access)).map_err(|e| DecodeError {
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

/// Reads an item's attributes as a map, handing each value to `serde_dynamo`. Remembers which
/// field failed; nested values (maps, lists) track their inner path only then.
struct ItemAccess<'a> {
    drain: hash_map::Drain<'a, String, AttributeValue>,
    value: Option<AttributeValue>,
    key: String,
    failed: &'a mut Option<String>,
}

impl<'de> MapAccess<'de> for ItemAccess<'_> {
    type Error = CodecError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> CodecResult<Option<K::Value>> {
        let Some((key, value)) = self.drain.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        self.key = key;
        let name: de::value::StrDeserializer<'_, CodecError> =
            self.key.as_str().into_deserializer();
        seed.deserialize(name).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> CodecResult<V::Value> {
        let value: serde_dynamo::AttributeValue = self
            .value
            .take()
            .ok_or_else(|| custom("a value was read before its name"))?
            .into();
        let nested = matches!(
            value,
            serde_dynamo::AttributeValue::M(_) | serde_dynamo::AttributeValue::L(_)
        );
        let inner = serde_dynamo::Deserializer::from_attribute_value(value);
        if !nested {
            return seed
                .deserialize(inner)
                .inspect_err(|_| *self.failed = Some(std::mem::take(&mut self.key)));
        }
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

    fn size_hint(&self) -> Option<usize> {
        Some(self.drain.len())
    }
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
}
