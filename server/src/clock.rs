//! Time as the server keeps it: the wall clock in unix milliseconds, the
//! consensus clock (the wall clock, moved ahead with `--test-clock`) that
//! stamps commits, positions, deadlines and firing, and times as RFC 3339
//! UTC in and out of the API.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::ApiError;

/// The wall clock, in unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The server's clock: commit times of changes, positions, deadlines,
/// firing. With `--test-clock` a chair can move it forward (for tests and
/// rehearsals).
pub struct Clock {
    offset_ms: AtomicI64,
    pub controllable: bool,
}

impl Clock {
    pub fn new(controllable: bool) -> Self {
        Self {
            offset_ms: AtomicI64::new(0),
            controllable,
        }
    }

    pub fn now(&self) -> i64 {
        now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock on by `secs` (checked by the caller against
    /// [`MAX_ADVANCE_SECS`]); refuses (false) a move that would take it more
    /// than [`MAX_OFFSET_SECS`] ahead of the real time, or any overflow.
    pub(crate) fn advance(&self, secs: i64) -> bool {
        let Some(ms) = secs.checked_mul(1000) else {
            return false;
        };
        self.offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
                offset
                    .checked_add(ms)
                    .filter(|o| (0..=MAX_OFFSET_SECS * 1000).contains(o))
            })
            .is_ok()
    }
}

/// The furthest one `POST /api/v1/test/clock` moves the clock: ten years
/// (of 366 days).
pub const MAX_ADVANCE_SECS: i64 = 3660 * 86_400;

/// The furthest the test clock goes ahead of the real time, in all: a
/// hundred years.
pub const MAX_OFFSET_SECS: i64 = 10 * MAX_ADVANCE_SECS;

/// A time as RFC 3339 UTC with milliseconds, from unix ms.
pub fn iso(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

/// A UTC time like `2026-05-01T12:00:00Z` (the `Z` required) as unix ms.
pub fn parse_time(s: &str) -> Result<i64, ApiError> {
    let at = humantime::parse_rfc3339_weak(s.trim().trim_end_matches('Z'))
        .ok()
        .filter(|_| s.trim().ends_with('Z'))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid",
                format!("{s:?} is not a UTC time like 2026-05-01T12:00:00Z"),
            )
        })?;
    let ms = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ApiError::bad_request("invalid", "the time is before 1970"))?
        .as_millis();
    Ok(ms as i64)
}
