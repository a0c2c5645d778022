//! Scenario files: a draft, its entities and its key elements, in TOML.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::text::normalize_line_ends;

#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub draft: DraftSpec,
    #[serde(rename = "entity")]
    pub entities: Vec<EntitySpec>,
    #[serde(rename = "element")]
    pub elements: Vec<ElementSpec>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DraftSpec {
    pub title: String,
    #[serde(default)]
    pub preamble: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EntitySpec {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ElementSpec {
    pub label: String,
    pub text: String,
}

impl Scenario {
    /// Parses and checks a scenario; texts get `\n` line ends.
    pub fn parse(toml_text: &str) -> Result<Self> {
        let mut scenario: Scenario = toml::from_str(toml_text)?;
        if scenario.draft.title.trim().is_empty() {
            return Err(Error::Scenario("the draft has no title".into()));
        }
        if scenario.entities.is_empty() {
            return Err(Error::Scenario("no [[entity]]".into()));
        }
        if scenario.elements.is_empty() {
            return Err(Error::Scenario("no [[element]]".into()));
        }
        let mut codes = std::collections::HashSet::new();
        for entity in &scenario.entities {
            let valid = !entity.code.is_empty()
                && entity.code.len() <= 32
                && entity
                    .code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(Error::Scenario(format!(
                    "entity code {:?} must be 1-32 letters, digits, '-' or '_'",
                    entity.code
                )));
            }
            if !codes.insert(entity.code.clone()) {
                return Err(Error::Scenario(format!(
                    "entity {} is listed twice",
                    entity.code
                )));
            }
        }
        for element in &mut scenario.elements {
            element.text = normalize_line_ends(&element.text);
        }
        scenario.draft.preamble = normalize_line_ends(&scenario.draft.preamble);
        Ok(scenario)
    }
}
