//! The server's presence feed on a draft's index document, as a client
//! received it.

use super::client::Client;

/// One entry of the server's presence feed.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentEntry {
    pub name: String,
    pub entity: Option<String>,
    pub peer_id: String,
    pub elements: Vec<String>,
}

/// Who is present in a draft as the server's feed on the index document
/// told `client`: the last whole list (`accord-presence`) with every
/// change after it (`accord-presence-change`) applied; `None` before the
/// first list. Only the server's own messages count.
pub fn presence_view(client: &Client) -> Option<Vec<PresentEntry>> {
    let mut view: Option<Vec<PresentEntry>> = None;
    for e in &client.ephemerals {
        if e.sender_id != client.server_peer_id {
            continue;
        }
        let Ok(value) = ciborium::from_reader::<ciborium::Value, _>(&e.data[..]) else {
            continue;
        };
        let Some(map) = value.as_map() else { continue };
        let get = |key: &str| {
            map.iter()
                .find(|(k, _)| k.as_text() == Some(key))
                .map(|(_, v)| v)
        };
        match get("type").and_then(|t| t.as_text()) {
            Some("accord-presence") => {
                view = Some(present_entries(get("present")));
            }
            Some("accord-presence-change") => {
                let Some(list) = view.as_mut() else { continue };
                let left: Vec<&str> = get("left")
                    .and_then(|l| l.as_array())
                    .map(|l| l.iter().filter_map(|v| v.as_text()).collect())
                    .unwrap_or_default();
                list.retain(|p| !left.contains(&p.peer_id.as_str()));
                for entry in present_entries(get("upsert")) {
                    list.retain(|p| p.peer_id != entry.peer_id);
                    list.push(entry);
                }
            }
            _ => {}
        }
    }
    view
}

fn present_entries(value: Option<&ciborium::Value>) -> Vec<PresentEntry> {
    let Some(entries) = value.and_then(|v| v.as_array()) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let map = entry.as_map()?;
            let get = |key: &str| {
                map.iter()
                    .find(|(k, _)| k.as_text() == Some(key))
                    .map(|(_, v)| v)
            };
            Some(PresentEntry {
                name: get("name")?.as_text()?.to_owned(),
                entity: get("entity").and_then(|v| v.as_text().map(str::to_owned)),
                peer_id: get("peerId")?.as_text()?.to_owned(),
                elements: get("elements")?
                    .as_array()?
                    .iter()
                    .filter_map(|v| v.as_text().map(str::to_owned))
                    .collect(),
            })
        })
        .collect()
}
