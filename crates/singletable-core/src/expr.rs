//! Typed conditions on an entity's non-key fields: query filters, and conditions of writes.
//!
//! The derive generates `<Entity>::FIELDS`, one [`Field`] per non-key field, typed by the field's
//! Rust type; its methods build a [`Condition`], rendered with placeholders for names and values
//! so no user text ever becomes expression syntax.

use std::marker::PhantomData;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use crate::codec::SerializeWith;
use crate::KeyPart;

/// A field of entity `E` whose values are `T`: `<Entity>::FIELDS.name`, for building filters and
/// conditions, and for naming what an update changes.
///
/// `R` is the field's role ([`role`]), which says what an update may do with it.
pub struct Field<E, T, R = role::Plain> {
    attribute: &'static str,
    with: Option<SerializeWith<T>>,
    /// For a field secondary index keys are made of: the placeholder it fills, and its value as
    /// a key part (`None` for an `Option` that is `None`).
    index: Option<(&'static str, KeyPartOf<T>)>,
    entity: PhantomData<fn() -> (E, R)>,
}

/// A field value as a key part.
pub type KeyPartOf<T> = for<'a> fn(&'a T) -> Option<&'a dyn KeyPart>;

/// The roles of a [`Field`] (its third type parameter), given by the derive. An update's
/// methods take the roles they fit, so a change no update may make does not compile.
pub mod role {
    /// A field like any other: set, remove (an `Option`), add and subtract (a number), append
    /// and prepend (a `Vec`).
    #[derive(Debug, Clone, Copy)]
    pub struct Plain;

    /// A field that secondary index keys are made of: an update sets it (the index keys are
    /// rewritten with it) or removes an `Option` (the item leaves those indexes), but cannot
    /// add to it, since the new value would not be known.
    #[derive(Debug, Clone, Copy)]
    pub struct IndexSource;

    /// The `#[entity(ttl)]` field: set or remove it, and the item's expiry (and any index key
    /// made of it) moves with it.
    #[derive(Debug, Clone, Copy)]
    pub struct ExpiresAt;

    /// A field the library writes (the version, `on_update` timestamps): filters only.
    #[derive(Debug, Clone, Copy)]
    pub struct ReadOnly;
}

impl<E, T, R> Clone for Field<E, T, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E, T, R> Copy for Field<E, T, R> {}

impl<E, T, R> std::fmt::Debug for Field<E, T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Field({})", self.attribute)
    }
}

/// A condition on an item's attributes, combined with [`Condition::and`], [`Condition::or`] and
/// [`Condition::not`].
#[derive(Debug, Clone)]
pub struct Condition<E> {
    node: Node,
    entity: PhantomData<fn() -> E>,
}

#[derive(Debug, Clone)]
enum Node {
    Compare(&'static str, &'static str, Operand),
    Exists(&'static str, bool),
    Between(&'static str, Operand, Operand),
    Function(&'static str, &'static str, Operand),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
}

/// A value, or why it could not be encoded (reported when the query runs).
type Operand = Result<AttributeValue, String>;

impl<E, T, R> Field<E, T, R> {
    #[doc(hidden)]
    pub const fn new(attribute: &'static str) -> Self {
        Field {
            attribute,
            with: None,
            index: None,
            entity: PhantomData,
        }
    }

    /// The field, stored through its `#[serde(with = "...")]` function.
    #[doc(hidden)]
    pub const fn serialize_with(mut self, with: SerializeWith<T>) -> Self {
        self.with = Some(with);
        self
    }

    /// The field, whose value goes into index keys as placeholder `param`.
    #[doc(hidden)]
    pub const fn index_source(mut self, param: &'static str, key_part: KeyPartOf<T>) -> Self {
        self.index = Some((param, key_part));
        self
    }

    /// The attribute name this field is stored under.
    pub fn attribute(&self) -> &'static str {
        self.attribute
    }

    /// For an index source: the placeholder it fills, and `value` as its key part.
    pub(crate) fn index_part<'a>(
        &self,
        value: &'a T,
    ) -> Option<(&'static str, Option<&'a dyn KeyPart>)> {
        self.index.map(|(param, key_part)| (param, key_part(value)))
    }

    /// For an index source: the placeholder it fills.
    pub(crate) fn index_param(&self) -> Option<&'static str> {
        self.index.map(|(param, _)| param)
    }

    /// The field's value as stored: through its `#[serde(with = "...")]` function when it has
    /// one, so it matches what the entity's `Serialize` writes.
    pub(crate) fn encode(&self, value: &T) -> serde_dynamo::Result<AttributeValue>
    where
        T: Serialize,
    {
        match self.with {
            Some(with) => with(value, serde_dynamo::Serializer).map(Into::into),
            None => serde_dynamo::to_attribute_value(value),
        }
    }
}

impl<E, T: Serialize, R> Field<E, T, R> {
    fn operand(&self, value: &T) -> Operand {
        self.encode(value)
            .map_err(|e| format!("`{}`: {e}", self.attribute))
    }

    fn compare(&self, op: &'static str, value: impl Into<T>) -> Condition<E> {
        Condition::new(Node::Compare(
            self.attribute,
            op,
            self.operand(&value.into()),
        ))
    }

    /// The field equals `value`.
    pub fn eq(&self, value: impl Into<T>) -> Condition<E> {
        self.compare("=", value)
    }

    /// The field differs from `value`.
    pub fn ne(&self, value: impl Into<T>) -> Condition<E> {
        self.compare("<>", value)
    }

    /// The field is less than `value`.
    pub fn lt(&self, value: impl Into<T>) -> Condition<E> {
        self.compare("<", value)
    }

    /// The field is less than or equal to `value`.
    pub fn le(&self, value: impl Into<T>) -> Condition<E> {
        self.compare("<=", value)
    }

    /// The field is greater than `value`.
    pub fn gt(&self, value: impl Into<T>) -> Condition<E> {
        self.compare(">", value)
    }

    /// The field is greater than or equal to `value`.
    pub fn ge(&self, value: impl Into<T>) -> Condition<E> {
        self.compare(">=", value)
    }

    /// The field lies between `low` and `high`, both included.
    pub fn between(&self, low: impl Into<T>, high: impl Into<T>) -> Condition<E> {
        let (low, high) = (self.operand(&low.into()), self.operand(&high.into()));
        Condition::new(Node::Between(self.attribute, low, high))
    }

    /// The item has this attribute (an `Option` field is `Some`).
    pub fn exists(&self) -> Condition<E> {
        Condition::new(Node::Exists(self.attribute, true))
    }

    /// The item lacks this attribute (an `Option` field is `None`).
    pub fn not_exists(&self) -> Condition<E> {
        Condition::new(Node::Exists(self.attribute, false))
    }

    /// A string field starts with `prefix`.
    pub fn begins_with(&self, prefix: &str) -> Condition<E> {
        Condition::new(Node::Function(
            "begins_with",
            self.attribute,
            Ok(AttributeValue::S(prefix.to_owned())),
        ))
    }

    /// A string field contains `part`, or a list or set field contains the element `part`.
    pub fn contains<V: Serialize>(&self, part: V) -> Condition<E> {
        let operand = serde_dynamo::to_attribute_value(part)
            .map_err(|e| format!("`{}`: {e}", self.attribute));
        Condition::new(Node::Function("contains", self.attribute, operand))
    }
}

impl<E> Condition<E> {
    fn new(node: Node) -> Self {
        Condition {
            node,
            entity: PhantomData,
        }
    }

    /// Both conditions hold.
    pub fn and(self, other: Condition<E>) -> Condition<E> {
        Condition::new(Node::And(Box::new(self.node), Box::new(other.node)))
    }

    /// Either condition holds.
    pub fn or(self, other: Condition<E>) -> Condition<E> {
        Condition::new(Node::Or(Box::new(self.node), Box::new(other.node)))
    }

    /// The condition does not hold.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Condition<E> {
        Condition::new(Node::Not(Box::new(self.node)))
    }

    /// Renders the expression into `out`, adding names and values under unique placeholders.
    pub(crate) fn render(&self, names: &mut Names, out: &mut String) -> Result<(), String> {
        self.node.render(names, out)
    }
}

/// Placeholders of one request's expressions: `#n0`/`:v0`, ...
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub(crate) names: Vec<(String, String)>,
    pub(crate) values: Vec<(String, AttributeValue)>,
}

impl Names {
    pub(crate) fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.push((placeholder.clone(), attribute.to_owned()));
        placeholder
    }

    pub(crate) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.push((placeholder.clone(), value));
        placeholder
    }
}

impl Node {
    fn render(&self, names: &mut Names, out: &mut String) -> Result<(), String> {
        match self {
            Node::Compare(attribute, op, operand) => {
                let name = names.name(attribute);
                let value = names.value(operand.clone()?);
                out.push_str(&format!("{name} {op} {value}"));
            }
            Node::Between(attribute, low, high) => {
                let name = names.name(attribute);
                let low = names.value(low.clone()?);
                let high = names.value(high.clone()?);
                out.push_str(&format!("{name} BETWEEN {low} AND {high}"));
            }
            Node::Exists(attribute, exists) => {
                let name = names.name(attribute);
                let function = if *exists {
                    "attribute_exists"
                } else {
                    "attribute_not_exists"
                };
                out.push_str(&format!("{function}({name})"));
            }
            Node::Function(function, attribute, operand) => {
                let name = names.name(attribute);
                let value = names.value(operand.clone()?);
                out.push_str(&format!("{function}({name}, {value})"));
            }
            Node::And(a, b) | Node::Or(a, b) => {
                let joiner = if matches!(self, Node::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
                out.push('(');
                a.render(names, out)?;
                out.push_str(joiner);
                b.render(names, out)?;
                out.push(')');
            }
            Node::Not(a) => {
                out.push_str("(NOT ");
                a.render(names, out)?;
                out.push(')');
            }
        }
        Ok(())
    }
}
