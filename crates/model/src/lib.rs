//! Accord's document model: scenarios, the documents of a draft, and the
//! text rules every other part relies on. No I/O.

pub mod authorship;
mod docs;
mod error;
mod scenario;
mod text;

pub use docs::{
    IndexElement, IndexState, element_text, heads_hex, new_element_doc, new_index_doc, read_index,
    reconcile_index, reconcile_json, text_obj, to_json,
};
pub use error::{Error, Result};
pub use scenario::{DraftSpec, ElementSpec, EntitySpec, Scenario};
pub use text::{normalize_line_ends, text_hash};

#[cfg(test)]
mod tests;
