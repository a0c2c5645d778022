//! What a typist types and when: its cursor, the gaps between keystrokes,
//! and one keystroke as a one-character change.

use std::time::Duration;

use automerge::ChangeHash;
use automerge::legacy::OpId;
use rand::Rng;
use rand::rngs::StdRng;

use super::Shared;
use crate::Arrival;
use crate::lite::{Author, Edit, Replica};

/// A typist's cursor: the characters of its current run, and where the run began.
pub(super) struct Cursor {
    pub(super) author: Author,
    pub(super) anchors: Vec<OpId>,
    pub(super) start: Option<OpId>,
    pub(super) run: Vec<OpId>,
    pub(super) sent: u64,
}

pub(super) fn pick(rng: &mut StdRng, v: &[OpId]) -> Option<OpId> {
    if v.is_empty() {
        None
    } else {
        Some(v[rng.random_range(0..v.len())].clone())
    }
}

pub(super) fn interval(s: &Shared, rng: &mut StdRng) -> Duration {
    match s.arrival {
        Arrival::Fixed => Duration::from_secs_f64(1.0 / s.rate),
        Arrival::Poisson => {
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            Duration::from_secs_f64(-u.ln() / s.rate)
        }
    }
}

/// The first keystroke: a random phase within one interval.
pub(super) fn first_key(s: &Shared, rng: &mut StdRng) -> tokio::time::Instant {
    let phase = rng.random_range(0.0..1.0) / s.rate;
    tokio::time::Instant::now() + Duration::from_secs_f64(phase)
}

/// One keystroke: mostly an insert after the typist's last character,
/// sometimes a backspace over it, now and then a jump to another place.
pub(super) fn keystroke(
    c: &mut Cursor,
    replica: &mut Replica,
    rng: &mut StdRng,
    delete_ratio: f64,
) -> ChangeHash {
    if rng.random_bool(0.02) {
        c.start = pick(rng, &c.anchors);
        c.run.clear();
    }
    let edit = match c.run.last() {
        Some(target) if rng.random_bool(delete_ratio) => Edit::Delete {
            target: target.clone(),
        },
        last => {
            const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz    eeaaoo,.";
            Edit::Insert {
                after: last.cloned().or_else(|| c.start.clone()),
                ch: CHARS[rng.random_range(0..CHARS.len())] as char,
            }
        }
    };
    let delete = matches!(edit, Edit::Delete { .. });
    let (hash, id) = c.author.edit(replica, edit);
    if delete {
        c.run.pop();
    } else {
        c.run.push(id);
    }
    hash
}
