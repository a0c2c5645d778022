//! New drafts and elements: their documents, made by the server's actor,
//! and the rows that record them.

use accord_model::{IndexElement, new_element_doc, new_index_doc};
use accord_protocol::DocumentId;
use accord_store::{DocKind, NewChangeData, NewDocument, NewDraft, NewElement};
use automerge::{ActorId, Automerge};

/// A new draft with its index and element documents, made by `actor`.
pub fn build_draft(
    actor: &ActorId,
    title: &str,
    preamble: &str,
    elements: &[(String, String)],
    entity_codes: Vec<String>,
) -> anyhow::Result<NewDraft> {
    let mut new_elements = Vec::new();
    let mut index_entries = Vec::new();
    for (label, text) in elements {
        let (element, entry) = build_element(actor, label, text)?;
        index_entries.push(entry);
        new_elements.push(element);
    }
    let index_id = DocumentId::random();
    let index = new_index_doc(actor, title, preamble, &index_entries)?;
    Ok(NewDraft {
        id: short_id(),
        title: title.to_owned(),
        preamble: preamble.to_owned(),
        index: new_document(index_id, DocKind::Index, &index),
        elements: new_elements,
        entity_codes,
    })
}

/// A new element with its document, and its index entry.
pub fn build_element(
    actor: &ActorId,
    label: &str,
    text: &str,
) -> anyhow::Result<(NewElement, IndexElement)> {
    let id = DocumentId::random();
    let doc = new_element_doc(actor, text)?;
    let element_id = short_id();
    let entry = IndexElement {
        id: element_id.clone(),
        label: label.to_owned(),
        doc: id.url(),
    };
    let element = NewElement {
        id: element_id,
        label: label.to_owned(),
        doc: new_document(id, DocKind::Element, &doc),
    };
    Ok((element, entry))
}

fn new_document(id: DocumentId, kind: DocKind, doc: &Automerge) -> NewDocument {
    NewDocument {
        id: id.to_string(),
        kind,
        changes: doc
            .get_changes(&[])
            .iter()
            .map(|c| NewChangeData {
                hash: c.hash().0.to_vec(),
                data: c.raw_bytes().to_vec(),
            })
            .collect(),
    }
}

pub fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
