//! The key-template grammar of singletable.
//!
//! A template such as `TENANT#<tenant_id>#ORG#<id>` is literal text and `<name>` placeholders.
//! `#` marks the boundary between key *parts*; a rendered key joins the parts with the table's
//! separator (usually `#` too). Each part holds at most one placeholder, so a rendered key splits
//! back into exactly one value per placeholder: values may never contain the separator.
//!
//! This crate does no I/O. The derive macro uses it to validate templates at compile time and the
//! runtime uses it to render keys and parse them back. [`Template::may_overlap`] and
//! [`keys_may_collide`] prove that two entity types never render the same key;
//! [`prefix_upper_bound`] and [`prefix_between`] turn a range query on a key prefix into sort-key
//! bounds.
//!
//! ```
//! use singletable_keys::{KeyPart, Template};
//!
//! let template = Template::parse("TENANT#<tenant_id>#ORG#<id>").unwrap();
//! let mut key = String::new();
//! template.render(&[&"t1" as &dyn KeyPart, &"42"], '#', &mut key).unwrap();
//! assert_eq!(key, "TENANT#t1#ORG#42");
//! assert_eq!(template.parse_key(&key, '#').unwrap(), ["t1", "42"]);
//!
//! // A value that contains the separator would reach another partition: it is refused.
//! let mut key = String::new();
//! assert!(template.render(&[&"t1#ORG#x" as &dyn KeyPart, &"42"], '#', &mut key).is_err());
//! ```

#![warn(missing_docs)]

mod overlap;
mod part;
mod range;
mod template;

pub use overlap::keys_may_collide;
pub use overlap::keys_may_collide_const;
#[cfg(feature = "time")]
pub use part::write_timestamp;
pub use part::{check_value, FromKeyPart, KeyPart, ValueError};
pub use range::{prefix_between, prefix_upper_bound};
pub use template::{const_eq, KeyError, ParseKeyError, Segment, Template, TemplateError};

/// The separator a template's `#` stands for unless the table says otherwise.
pub const DEFAULT_SEPARATOR: char = '#';
