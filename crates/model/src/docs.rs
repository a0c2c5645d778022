//! The two kinds of Automerge documents of a draft.
//!
//! - element document: `{ "text": Text }`;
//! - index document: `{ "title", "preamble", "elements": [{ "id", "label", "doc" }] }`,
//!   written only by the server.

use automerge::transaction::Transactable;
use automerge::{
    ActorId, AutoCommit, Automerge, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue,
};

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
fn put_text(doc: &mut impl Transactable, obj: &ObjId, key: &str, value: &str) -> Result<()> {
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

/// What the index document should say: the server's view of a draft's
/// title, preamble and (non-archived) elements in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexState {
    pub title: String,
    pub preamble: String,
    pub elements: Vec<IndexElement>,
}

/// Reads the index document's title, preamble and elements.
pub fn read_index(doc: &impl ReadDoc) -> Result<IndexState> {
    let title = read_text(doc, &ROOT, "title")?;
    let preamble = read_text(doc, &ROOT, "preamble")?;
    let list = match doc.get(ROOT, "elements")? {
        Some((automerge::Value::Object(ObjType::List), id)) => id,
        _ => return Err(Error::NotAnIndex("no `elements` list")),
    };
    let mut elements = Vec::new();
    for i in 0..doc.length(&list) {
        let entry = match doc.get(&list, i)? {
            Some((automerge::Value::Object(ObjType::Map), id)) => id,
            _ => return Err(Error::NotAnIndex("an element entry is not a map")),
        };
        elements.push(IndexElement {
            id: read_text(doc, &entry, "id")?,
            label: read_text(doc, &entry, "label")?,
            doc: read_text(doc, &entry, "doc")?,
        });
    }
    Ok(IndexState {
        title,
        preamble,
        elements,
    })
}

fn read_text(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Result<String> {
    match doc.get(obj, key)? {
        Some((automerge::Value::Object(ObjType::Text), id)) => Ok(doc.text(id)?),
        Some((automerge::Value::Scalar(s), _)) => Ok(s.as_str().unwrap_or_default().to_owned()),
        _ => Err(Error::NotAnIndex("a field is missing")),
    }
}

/// Brings the index document to `target` with the fewest operations: texts
/// are updated in place (a character diff), an element that moved is
/// removed and inserted anew, new entries are inserted, and entries no
/// longer listed are removed. Makes no operation when nothing differs.
pub fn reconcile_index<T: Transactable + ReadDoc>(tx: &mut T, target: &IndexState) -> Result<()> {
    update_text_field(tx, &ROOT, "title", &target.title)?;
    update_text_field(tx, &ROOT, "preamble", &target.preamble)?;
    let list = match tx.get(ROOT, "elements")? {
        Some((automerge::Value::Object(ObjType::List), id)) => id,
        _ => tx.put_object(ROOT, "elements", ObjType::List)?,
    };
    let current_ids = |tx: &T| -> Result<Vec<String>> {
        (0..tx.length(&list))
            .map(|i| match tx.get(&list, i)? {
                Some((automerge::Value::Object(ObjType::Map), entry)) => {
                    read_text(tx, &entry, "id")
                }
                _ => Ok(String::new()),
            })
            .collect()
    };
    for (i, want) in target.elements.iter().enumerate() {
        let ids = current_ids(tx)?;
        if ids.get(i) == Some(&want.id) {
            let Some((_, entry)) = tx.get(&list, i)? else {
                unreachable!("the entry was just read")
            };
            update_text_field(tx, &entry, "label", &want.label)?;
            update_text_field(tx, &entry, "doc", &want.doc)?;
            continue;
        }
        if let Some(at) = ids.iter().skip(i + 1).position(|id| *id == want.id) {
            tx.delete(&list, i + 1 + at)?;
        }
        let entry = tx.insert_object(&list, i, ObjType::Map)?;
        put_text(tx, &entry, "id", &want.id)?;
        put_text(tx, &entry, "label", &want.label)?;
        put_text(tx, &entry, "doc", &want.doc)?;
    }
    while tx.length(&list) > target.elements.len() {
        tx.delete(&list, target.elements.len())?;
    }
    Ok(())
}

fn update_text_field<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
    value: &str,
) -> Result<()> {
    match tx.get(obj, key)? {
        Some((automerge::Value::Object(ObjType::Text), id)) => {
            if tx.text(&id)? != value {
                tx.update_text(&id, value)?;
            }
        }
        _ => put_text(tx, obj, key, value)?,
    }
    Ok(())
}

/// Brings the value at `obj[key]` to `value` with the fewest operations:
/// objects become maps (keys added, updated, removed), strings Text objects
/// (updated by a character diff), numbers, booleans and null scalars;
/// arrays become lists, replaced whole when they differ. Makes no operation
/// when nothing differs. Used for the server's projections into the index
/// document.
pub fn reconcile_json<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
    value: &serde_json::Value,
) -> Result<()> {
    use serde_json::Value as J;
    let current = tx.get(obj, key)?;
    match value {
        J::Object(map) => {
            let target = match current {
                Some((automerge::Value::Object(ObjType::Map), id)) => id,
                _ => tx.put_object(obj, key, ObjType::Map)?,
            };
            let stale: Vec<String> = tx.keys(&target).filter(|k| !map.contains_key(k)).collect();
            for k in stale {
                tx.delete(&target, k.as_str())?;
            }
            for (k, v) in map {
                reconcile_json(tx, &target, k, v)?;
            }
        }
        J::String(s) => update_text_field(tx, obj, key, s)?,
        J::Array(items) => {
            let same = match &current {
                Some((automerge::Value::Object(ObjType::List), id)) => {
                    to_json(tx, id)? == J::Array(items.clone())
                }
                _ => false,
            };
            if !same {
                let list = tx.put_object(obj, key, ObjType::List)?;
                for (i, item) in items.iter().enumerate() {
                    insert_json(tx, &list, i, item)?;
                }
            }
        }
        scalar => {
            let want = scalar_of(scalar);
            let same = matches!(&current, Some((automerge::Value::Scalar(s), _)) if **s == want);
            if !same {
                tx.put(obj, key, want)?;
            }
        }
    }
    Ok(())
}

fn insert_json<T: Transactable + ReadDoc>(
    tx: &mut T,
    list: &ObjId,
    index: usize,
    value: &serde_json::Value,
) -> Result<()> {
    use serde_json::Value as J;
    match value {
        J::Object(map) => {
            let entry = tx.insert_object(list, index, ObjType::Map)?;
            for (k, v) in map {
                reconcile_json(tx, &entry, k, v)?;
            }
        }
        J::Array(items) => {
            let inner = tx.insert_object(list, index, ObjType::List)?;
            for (i, item) in items.iter().enumerate() {
                insert_json(tx, &inner, i, item)?;
            }
        }
        J::String(s) => {
            let text = tx.insert_object(list, index, ObjType::Text)?;
            tx.splice_text(&text, 0, 0, s)?;
        }
        scalar => tx.insert(list, index, scalar_of(scalar))?,
    }
    Ok(())
}

fn scalar_of(value: &serde_json::Value) -> ScalarValue {
    match value {
        serde_json::Value::Bool(b) => ScalarValue::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => ScalarValue::Int(i),
            None => ScalarValue::F64(n.as_f64().unwrap_or_default()),
        },
        _ => ScalarValue::Null,
    }
}

/// The JSON value of an object (maps, lists, texts and scalars).
pub fn to_json(doc: &impl ReadDoc, obj: &ObjId) -> Result<serde_json::Value> {
    use serde_json::Value as J;
    let value_of = |v: automerge::Value<'_>, id: ObjId| -> Result<J> {
        Ok(match v {
            automerge::Value::Object(ObjType::Text) => J::String(doc.text(&id)?),
            automerge::Value::Object(_) => to_json(doc, &id)?,
            automerge::Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Boolean(b) => J::Bool(*b),
                ScalarValue::Int(i) => J::from(*i),
                ScalarValue::Uint(u) => J::from(*u),
                ScalarValue::F64(f) => J::from(*f),
                ScalarValue::Counter(c) => J::from(i64::from(c)),
                ScalarValue::Timestamp(t) => J::from(*t),
                ScalarValue::Str(s) => J::String(s.to_string()),
                _ => J::Null,
            },
        })
    };
    match doc.object_type(obj)? {
        ObjType::Map | ObjType::Table => {
            let mut map = serde_json::Map::new();
            for key in doc.keys(obj) {
                if let Some((v, id)) = doc.get(obj, key.as_str())? {
                    map.insert(key, value_of(v, id)?);
                }
            }
            Ok(J::Object(map))
        }
        ObjType::List => {
            let mut items = Vec::new();
            for i in 0..doc.length(obj) {
                if let Some((v, id)) = doc.get(obj, i)? {
                    items.push(value_of(v, id)?);
                }
            }
            Ok(J::Array(items))
        }
        ObjType::Text => Ok(J::String(doc.text(obj)?)),
    }
}
