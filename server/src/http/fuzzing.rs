//! Entry points for the fuzz targets in `fuzz/` (not an API): the HTTP API's
//! JSON request bodies and query strings, decoded as the handlers' extractors
//! decode them.

use std::fmt::Debug;

use axum::extract::Query;
use axum::http::Uri;
use serde::de::DeserializeOwned;

use super::{Page, SignIn};
use crate::drafts::structure;
use crate::{amendments, consensus, export, history};

fn json<T: DeserializeOwned + Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        std::hint::black_box(format!("{value:?}"));
    }
}

fn query<T: DeserializeOwned + Debug>(uri: &Uri) {
    if let Ok(Query(value)) = Query::<T>::try_from_uri(uri) {
        std::hint::black_box(format!("{value:?}"));
    }
}

/// Every JSON request body type, from the same bytes.
pub fn request_bodies(data: &[u8]) {
    json::<SignIn>(data);
    json::<consensus::PositionRequest>(data);
    json::<consensus::SilenceRequest>(data);
    json::<consensus::CancelRequest>(data);
    json::<consensus::AdoptDraftRequest>(data);
    json::<consensus::VersionRequest>(data);
    json::<consensus::ClockRequest>(data);
    json::<structure::NewDraftRequest>(data);
    json::<structure::NewElementRequest>(data);
    json::<structure::DraftPatch>(data);
    json::<structure::ElementPatch>(data);
    json::<structure::RestoreRequest>(data);
    json::<amendments::ProposeRequest>(data);
    json::<amendments::ReanchorRequest>(data);
    json::<amendments::EntityRequest>(data);
    json::<amendments::ObjectRequest>(data);
    json::<amendments::RejectRequest>(data);
    json::<amendments::CommentRequest>(data);
}

/// Every query string type, from the same bytes.
pub fn query_strings(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = format!("/?{text}").parse::<Uri>() else {
        return;
    };
    query::<Page>(&uri);
    query::<export::ExportQuery>(&uri);
    query::<history::VersionQuery>(&uri);
    query::<history::CompareQuery>(&uri);
    query::<history::HistoryQuery>(&uri);
    query::<amendments::AmendmentQuery>(&uri);
}

#[cfg(test)]
mod tests {
    /// Replays the `api` fuzz target's committed seeds and regression inputs.
    #[test]
    fn api_fuzz_inputs_replay() {
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut replayed = 0;
        for kind in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join("api")) else {
                continue;
            };
            for entry in entries {
                let bytes = std::fs::read(entry.expect("directory entry").path()).expect("input");
                super::request_bodies(&bytes);
                super::query_strings(&bytes);
                replayed += 1;
            }
        }
        assert!(replayed > 0, "no seeds for the api target");
    }
}
