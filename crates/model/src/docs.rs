//! The two kinds of Automerge documents of a draft.
//!
//! - element document: `{ "text": Text }`;
//! - index document: `{ "title", "preamble", "elements": [{ "id", "label", "doc" }] }`,
//!   written only by the server.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Automerge, ChangeHash, ObjId, ObjType, ROOT, ReadDoc};

use crate::error::{Error, Result};
use crate::text::normalize_line_ends;

/// One entry of the index document's element list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexElement {
    pub id: String,
    pub label: String,
    /// The element document's `automerge:` URL.
    pub doc: String,
}

/// Creates an element document holding `text`, made by `actor`.
pub fn new_element_doc(actor: &ActorId, text: &str) -> Result<Automerge> {
    let mut doc = AutoCommit::new().with_actor(actor.clone());
    let obj = doc.put_object(ROOT, "text", ObjType::Text)?;
    doc.splice_text(&obj, 0, 0, &normalize_line_ends(text))?;
    doc.commit();
    Ok(doc.document().clone())
}

/// Creates an index document, made by `actor`.
pub fn new_index_doc(
    actor: &ActorId,
    title: &str,
    preamble: &str,
    elements: &[IndexElement],
) -> Result<Automerge> {
    let mut doc = AutoCommit::new().with_actor(actor.clone());
    put_text(&mut doc, &ROOT, "title", title)?;
    put_text(&mut doc, &ROOT, "preamble", preamble)?;
    let list = doc.put_object(ROOT, "elements", ObjType::List)?;
    for (i, element) in elements.iter().enumerate() {
        let entry = doc.insert_object(&list, i, ObjType::Map)?;
        put_text(&mut doc, &entry, "id", &element.id)?;
        put_text(&mut doc, &entry, "label", &element.label)?;
        put_text(&mut doc, &entry, "doc", &element.doc)?;
    }
    doc.commit();
    Ok(doc.document().clone())
}

/// Strings are Text objects, which JS clients read as plain strings
/// (a scalar string would reach them as an `ImmutableString`).
fn put_text(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &str) -> Result<()> {
    let text = doc.put_object(obj, key, ObjType::Text)?;
    doc.splice_text(&text, 0, 0, value)?;
    Ok(())
}

/// The element document's text object.
pub fn text_obj(doc: &Automerge) -> Result<ObjId> {
    match doc.get(ROOT, "text")? {
        Some((automerge::Value::Object(ObjType::Text), id)) => Ok(id),
        _ => Err(Error::NotAnElement("no `text` object at the root")),
    }
}

/// The element's current text.
pub fn element_text(doc: &Automerge) -> Result<String> {
    Ok(doc.text(text_obj(doc)?)?)
}

/// Heads as lowercase hex strings, as the JS client spells them.
pub fn heads_hex(heads: &[ChangeHash]) -> Vec<String> {
    heads.iter().map(|h| h.to_string()).collect()
}
