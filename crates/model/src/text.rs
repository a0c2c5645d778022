//! Text rules shared by every part of Accord.

use sha2::{Digest, Sha256};

/// Line ends become `\n`; nothing else changes (no Unicode normalisation).
pub fn normalize_line_ends(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The lowercase hex SHA-256 of a text as UTF-8: what positions are bound to.
pub fn text_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
