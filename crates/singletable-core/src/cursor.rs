//! Opaque, URL-safe page cursors that only resume the query that made them.
//!
//! A cursor carries DynamoDB's `LastEvaluatedKey` (string attributes only: every key this crate
//! writes is a string), a fingerprint of the query and an HMAC-SHA256 tag over both, keyed by the
//! table's cursor secret. Decoding checks the tag (a changed byte is refused), the fingerprint
//! (a cursor of another query is refused) and then the caller checks that the key lies in the
//! queried partition, so even a forged cursor cannot move a query to other data.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::codec::Item;
use crate::error::{CursorError, Error, Result};

const VERSION: u8 = 1;
const FINGERPRINT_LEN: usize = 8;
const TAG_LEN: usize = 16;

/// Identifies one query: what it reads and in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; FINGERPRINT_LEN]);

impl Fingerprint {
    /// Hashes the parts that define a query; each part is length-prefixed so parts cannot blur.
    pub(crate) fn of(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let mut out = [0; FINGERPRINT_LEN];
        out.copy_from_slice(&digest[..FINGERPRINT_LEN]);
        Fingerprint(out)
    }
}

/// The cursor of a page that ended at `key`, for the query `fingerprint` names.
pub(crate) fn make(
    key: &Item,
    fingerprint: Fingerprint,
    secret: &[u8],
    entity: &'static str,
) -> Result<String> {
    encode(key, fingerprint, secret).ok_or_else(|| Error::InvalidRequest {
        entity,
        reason: "the table's keys are not strings, so no cursor can be made".into(),
    })
}

/// The start key in `cursor`, refused unless it was made for the query `fingerprint` names and
/// lies in its partition (`attribute` = `partition`).
pub(crate) fn open(
    cursor: &str,
    fingerprint: Fingerprint,
    secret: &[u8],
    entity: &'static str,
    (attribute, partition): (&str, &str),
) -> Result<Item> {
    let invalid = |source| Error::InvalidCursor { entity, source };
    let key = decode(cursor, fingerprint, secret).map_err(invalid)?;
    let inside = key
        .get(attribute)
        .and_then(|v| v.as_s().ok())
        .is_some_and(|v| v == partition);
    if !inside {
        return Err(invalid(CursorError::OutsideQuery));
    }
    Ok(key)
}

pub(crate) fn encode(key: &Item, fingerprint: Fingerprint, secret: &[u8]) -> Option<String> {
    let mut body = Vec::with_capacity(64);
    body.push(VERSION);
    body.extend_from_slice(&fingerprint.0);
    let mut attributes: Vec<(&String, &AttributeValue)> = key.iter().collect();
    attributes.sort_by(|a, b| a.0.cmp(b.0));
    for (name, value) in attributes {
        let value = value.as_s().ok()?;
        for text in [name.as_str(), value.as_str()] {
            body.extend_from_slice(&u16::try_from(text.len()).ok()?.to_be_bytes());
            body.extend_from_slice(text.as_bytes());
        }
    }
    let tag = tag(secret, &body);
    body.extend_from_slice(&tag);
    Some(URL_SAFE_NO_PAD.encode(body))
}

pub(crate) fn decode(
    cursor: &str,
    fingerprint: Fingerprint,
    secret: &[u8],
) -> Result<Item, CursorError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| CursorError::Malformed)?;
    if bytes.len() < 1 + FINGERPRINT_LEN + TAG_LEN || bytes[0] != VERSION {
        return Err(CursorError::Malformed);
    }
    let (body, given_tag) = bytes.split_at(bytes.len() - TAG_LEN);
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_truncated_left(given_tag)
        .map_err(|_| CursorError::Tampered)?;
    if body[1..=FINGERPRINT_LEN] != fingerprint.0 {
        return Err(CursorError::OtherQuery);
    }
    let mut rest = &body[1 + FINGERPRINT_LEN..];
    let mut key = HashMap::new();
    while !rest.is_empty() {
        let name = take_text(&mut rest)?;
        let value = take_text(&mut rest)?;
        key.insert(name, AttributeValue::S(value));
    }
    Ok(key)
}

fn take_text(rest: &mut &[u8]) -> Result<String, CursorError> {
    let (len, tail) = rest
        .split_first_chunk::<2>()
        .ok_or(CursorError::Malformed)?;
    let len = u16::from_be_bytes(*len) as usize;
    let (text, tail) = tail.split_at_checked(len).ok_or(CursorError::Malformed)?;
    *rest = tail;
    String::from_utf8(text.to_vec()).map_err(|_| CursorError::Malformed)
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
}

fn tag(secret: &[u8], body: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = mac(secret);
    mac.update(body);
    let full = mac.finalize().into_bytes();
    let mut out = [0; TAG_LEN];
    out.copy_from_slice(&full[..TAG_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Item {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S("TENANT#t1#ORG#o".into())),
            ("sk".to_owned(), AttributeValue::S("TEAM#42".into())),
        ])
    }

    #[test]
    fn round_trips_and_is_url_safe() {
        let fp = Fingerprint::of(&[b"q"]);
        let cursor = encode(&key(), fp, b"secret").unwrap();
        assert!(cursor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(decode(&cursor, fp, b"secret").unwrap(), key());
    }

    #[test]
    fn refuses_changed_foreign_and_garbage_cursors() {
        let fp = Fingerprint::of(&[b"q"]);
        let cursor = encode(&key(), fp, b"secret").unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        let altered = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(decode(&altered, fp, b"secret"), Err(CursorError::Tampered));
        assert_eq!(decode(&cursor, fp, b"other"), Err(CursorError::Tampered));
        assert_eq!(
            decode(&cursor, Fingerprint::of(&[b"r"]), b"secret"),
            Err(CursorError::OtherQuery)
        );
        assert_eq!(decode("!!", fp, b"secret"), Err(CursorError::Malformed));
        assert_eq!(decode("", fp, b"secret"), Err(CursorError::Malformed));
    }
}
