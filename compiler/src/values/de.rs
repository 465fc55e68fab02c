//! Values read by serde directly, as serde reads their JSON ([`Value::to_json`]).
//!
//! Input: a [`Value`] tree. Output: any `Deserialize` type (the typed config), with the same
//! result `T::deserialize(&value.to_json())` gives whenever this one succeeds: each value
//! calls the visitor serde_json's own `&Value` deserializer calls for its JSON (an integral
//! float as an integer, a non-finite one as `null`, a non-negative integer as `u64`). Errors
//! are plain: a caller that needs serde_json's message and the failing key's path reads the
//! JSON again (see `config::from_known_values`).
//!
//! Why: building the whole effective values as JSON only to read them into the config, then
//! dropping it, was a tenth of a `node diff`.

use serde::de::value::Error;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::{Map, Node, Value};

/// A value for serde to read.
#[derive(Clone, Copy)]
pub struct Deserializer<'a>(pub &'a Value);

/// Reads of a number: what a JSON number holds (see `deserialize_f64`).
macro_rules! numbers {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_f64(visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => integer(*i, visitor),
            // As `to_json` writes them: exact integers as integers, the rest as floats.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => integer(*f as i64, visitor),
            Value::Float(f) if f.is_finite() => visitor.visit_f64(*f),
            Value::Float(_) => visitor.visit_unit(),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::List(items) => {
                let mut seq = Seq(items.iter());
                let value = visitor.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(value),
                    left => Err(de::Error::invalid_length(items.len() - left, &"fewer elements in the list")),
                }
            }
            Value::Map(members) => map(members, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match null(self.0) {
            true => visitor.visit_none(),
            false => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            // A unit variant by its name, the only form the config's enums take in values.
            Value::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(de::Error::custom("an enum is read from its name only")),
        }
    }

    // Each typed read takes what serde_json's takes from the JSON, and nothing else: a visitor
    // may accept more than the JSON would give it (`null` for a JSON object, say).
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.only(matches!(self.0, Value::Bool(_)), visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.only(matches!(self.0, Value::Int(_)) || matches!(self.0, Value::Float(f) if f.is_finite()), visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.only(matches!(self.0, Value::Str(_)), visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.only(matches!(self.0, Value::Str(_) | Value::List(_)), visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.only(null(self.0), visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.only(matches!(self.0, Value::List(_)), visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.only(matches!(self.0, Value::Map(_)), visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.only(matches!(self.0, Value::List(_) | Value::Map(_)), visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    numbers! { deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128 deserialize_u8
    deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128 deserialize_f32 }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }
}

impl<'de> Deserializer<'de> {
    /// The value as it is, when it is of a type the read at hand takes; else an error.
    fn only<V: Visitor<'de>>(self, taken: bool, visitor: V) -> Result<V::Value, Error> {
        match taken {
            true => de::Deserializer::deserialize_any(self, visitor),
            false => Err(unexpected()),
        }
    }
}

/// A map's members visited, all of them, as serde_json visits a JSON object's.
fn map<'de, V: Visitor<'de>>(members: &'de Map, visitor: V) -> Result<V::Value, Error> {
    let mut access = Members { members: members.iter(), value: None };
    let value = visitor.visit_map(&mut access)?;
    match access.members.len() {
        0 => Ok(value),
        left => Err(de::Error::invalid_length(members.len() - left, &"fewer entries in the map")),
    }
}

/// Whether a value is `null` in JSON: a non-finite float is written as one.
fn null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Float(f) => !f.is_finite(),
        _ => false,
    }
}

/// A value of another type than asked for: the caller reads the JSON again for the message.
fn unexpected() -> Error {
    de::Error::custom("not of the type asked for")
}

/// An integer as serde_json's JSON number holds it: non-negative ones unsigned.
fn integer<'de, V: Visitor<'de>>(i: i64, visitor: V) -> Result<V::Value, Error> {
    match u64::try_from(i) {
        Ok(u) => visitor.visit_u64(u),
        Err(_) => visitor.visit_i64(i),
    }
}

struct Seq<'a>(std::slice::Iter<'a, Node>);

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|node| seed.deserialize(Deserializer(&node.value))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Members<'a> {
    members: std::collections::btree_map::Iter<'a, String, Node>,
    value: Option<&'a Value>,
}

impl<'de> MapAccess<'de> for Members<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((key, node)) = self.members.next() else { return Ok(None) };
        self.value = Some(&node.value);
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value.take().ok_or_else(|| de::Error::custom("a map value before its key"))?;
        seed.deserialize(Deserializer(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

/// Read a map of values (the effective values' top level) into `T`.
pub fn from_map<'a, T: de::Deserialize<'a>>(members: &'a Map) -> Result<T, Error> {
    T::deserialize(MapDeserializer(members))
}

/// The top level, which is a map of its own (not a [`Value`]).
struct MapDeserializer<'a>(&'a Map);

impl<'de> de::Deserializer<'de> for MapDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        map(self.0, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}
