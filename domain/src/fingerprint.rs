//! Content fingerprints of micro-credential definitions.
//!
//! Storage keeps every version of a definition that educators have started, and compares
//! fingerprints to tell whether an edited definition differs from the stored version.
//!
//! The fingerprint is the SHA-256 digest, in lowercase hex, of a format tag followed by the
//! definition's canonical JSON: the serde JSON form with object keys sorted, no whitespace,
//! and strings and numbers as `serde_json` writes them. Sorting the keys here, instead of
//! relying on `serde_json`'s map type, keeps the result the same whether or not another
//! crate in the build turns on its `preserve_order` feature, and when struct fields are
//! reordered in the source.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::catalogue::MicroCredential;

/// Prefix hashed before the canonical JSON. Change it when the canonical form changes, so
/// old and new fingerprints never match by accident.
const FORMAT_TAG: &str = "microcred-definition-v1\n";

/// SHA-256 content fingerprint of a definition, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Returns the fingerprint as 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl MicroCredential {
    /// Computes the content fingerprint. Definitions with equal serde JSON forms have the
    /// same fingerprint. A change to any value, or to the order of components, criteria or
    /// levels, gives a different one (barring a SHA-256 collision).
    pub fn fingerprint(&self) -> Fingerprint {
        // NOTE: `serde_json::to_value` fails only for a map with non-string keys or a
        // `Serialize` impl that returns an error (serde_json 1.0 docs), and a definition has
        // neither. The fallback to the Debug form keeps this function free of panics.
        let value =
            serde_json::to_value(self).unwrap_or_else(|_| Value::String(format!("{self:?}")));
        let mut canonical = String::from(FORMAT_TAG);
        write_canonical(&value, &mut canonical);
        Fingerprint(hex::encode(Sha256::digest(canonical.as_bytes())))
    }

    /// Returns whether this definition's content differs from a stored fingerprint.
    pub fn differs_from(&self, stored: &Fingerprint) -> bool {
        self.fingerprint() != *stored
    }
}

/// Appends the canonical JSON of `value` to `out`: object keys sorted by their UTF-8
/// bytes, no insignificant whitespace.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map.iter().collect(), out),
    }
}

/// Appends a JSON object with its entries sorted by key. `serde_json::Map` iterates in
/// key order only while its `preserve_order` feature is off, so the sort is done here.
fn write_object(mut entries: Vec<(&String, &Value)>, out: &mut String) {
    entries.sort_by(|left, right| left.0.cmp(right.0));
    out.push('{');
    for (index, (key, item)) in entries.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(key, out);
        out.push(':');
        write_canonical(item, out);
    }
    out.push('}');
}

fn write_string(text: &str, out: &mut String) {
    // Formatting a `Value::String` writes a JSON string literal with escapes and, unlike
    // `serde_json::to_string`, returns no `Result` to handle.
    out.push_str(&Value::String(text.to_owned()).to_string());
}

#[cfg(test)]
mod tests;
