//! Document ids as automerge-repo spells them: a 16-byte UUID, bs58check-encoded.

use std::fmt;
use std::str::FromStr;

/// An automerge-repo document id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId([u8; 16]);

/// A string that is not a valid document id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a document id: {0:?}")]
pub struct InvalidDocumentId(pub String);

impl DocumentId {
    /// A fresh random id (UUID v4).
    pub fn random() -> Self {
        Self(*uuid::Uuid::new_v4().as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The `automerge:` URL of the document.
    pub fn url(&self) -> String {
        format!("automerge:{self}")
    }

    /// Parses either a bare id or an `automerge:` URL (heads after `#` are ignored).
    pub fn from_url(url: &str) -> Result<Self, InvalidDocumentId> {
        let bare = url.strip_prefix("automerge:").unwrap_or(url);
        let bare = bare.split('#').next().unwrap_or(bare);
        bare.parse()
    }
}

impl FromStr for DocumentId {
    type Err = InvalidDocumentId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|_| InvalidDocumentId(s.to_owned()))?;
        let bytes: [u8; 16] = bytes
            .try_into()
            .map_err(|_| InvalidDocumentId(s.to_owned()))?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}
