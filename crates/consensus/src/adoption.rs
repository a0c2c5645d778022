//! Adoption of elements and of the draft, and a draft's progress.

use serde::Serialize;

use crate::error::Refusal;
use crate::status::{ElementSummary, Status};

/// Overall draft state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "utoipa",
    schema(
        description = "`open` (some element is not agreed or adopted, or there are none), `agreed` (every element is agreed, agreed ad referendum or adopted, not all adopted), `all_adopted` (a chair may now adopt the draft), `adopted` (the draft is)."
    )
)]
#[serde(rename_all = "snake_case")]
pub enum DraftState {
    /// Some element is not yet agreed, agreed ad ref or adopted (or the
    /// draft has no elements).
    Open,
    /// Every element is `agreed`, `agreed_ad_ref` or `adopted`, not all
    /// adopted.
    Agreed,
    /// Every element is adopted (DESIGN's "the draft is agreed"): the chair
    /// may now adopt the draft.
    AllAdopted,
    /// The chair adopted the whole draft.
    Adopted,
}

/// A draft's element counts and state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "utoipa",
    schema(
        description = "Element counts by status (`agreed` counts `agreed` and `agreed_ad_ref`)."
    )
)]
pub struct Progress {
    pub elements: usize,
    /// `agreed` or `agreed_ad_ref`.
    pub agreed: usize,
    pub adopted: usize,
    pub objected: usize,
    pub bracketed: usize,
    pub under_silence: usize,
    pub open: usize,
    pub state: DraftState,
}

/// Sums up a draft's (non-archived) elements. `draft_adopted`: the chair
/// adopted the whole draft. State: `Adopted` if `draft_adopted`;
/// `AllAdopted` if every element is adopted; `Agreed` if every element is
/// agreed, agreed ad ref or adopted; `Open` otherwise — and always `Open`
/// (unless adopted) for a draft without elements.
pub fn progress(summaries: &[ElementSummary], draft_adopted: bool) -> Progress {
    let mut p = Progress {
        elements: summaries.len(),
        agreed: 0,
        adopted: 0,
        objected: 0,
        bracketed: 0,
        under_silence: 0,
        open: 0,
        state: DraftState::Open,
    };
    for s in summaries {
        match s.status {
            Status::Adopted => p.adopted += 1,
            Status::UnderSilence { .. } => p.under_silence += 1,
            Status::Objected => p.objected += 1,
            Status::Bracketed => p.bracketed += 1,
            Status::Agreed | Status::AgreedAdRef => p.agreed += 1,
            Status::Open => p.open += 1,
        }
    }
    p.state = if draft_adopted {
        DraftState::Adopted
    } else if p.elements == 0 {
        DraftState::Open
    } else if p.adopted == p.elements {
        DraftState::AllAdopted
    } else if p.adopted + p.agreed == p.elements {
        DraftState::Agreed
    } else {
        DraftState::Open
    };
    p
}

/// Whether the chair may adopt the element: only when `agreed`.
/// `agreed_ad_ref` is refused with `ad_ref_pending` (the ad ref positions
/// must be confirmed first); any other status with `not_agreed`, naming it.
pub fn may_adopt(summary: &ElementSummary) -> Result<(), Refusal> {
    match &summary.status {
        Status::Agreed => Ok(()),
        Status::AgreedAdRef => Err(Refusal::new(
            "ad_ref_pending",
            format!(
                "ad referendum positions must be confirmed before adoption ({})",
                summary.ad_ref.join(", ")
            ),
        )),
        other => Err(Refusal::new(
            "not_agreed",
            format!("only an agreed element can be adopted; this one is {other}"),
        )),
    }
}

/// Whether the chair may adopt the draft: every (non-archived) element is
/// adopted, and there is at least one. Otherwise `not_all_adopted`, listing
/// the elements that are not, with their status.
pub fn may_adopt_draft(summaries: &[ElementSummary]) -> Result<(), Refusal> {
    if summaries.is_empty() {
        return Err(Refusal::new(
            "not_all_adopted",
            "the draft has no elements to adopt",
        ));
    }
    let pending: Vec<String> = summaries
        .iter()
        .filter(|s| s.status != Status::Adopted)
        .map(|s| format!("{} ({})", s.element_id, s.status))
        .collect();
    if pending.is_empty() {
        Ok(())
    } else {
        Err(Refusal::new(
            "not_all_adopted",
            format!("not every element is adopted: {}", pending.join(", ")),
        ))
    }
}
