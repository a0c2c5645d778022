//! Automerge storage chunks as they arrive in sync messages, measured before
//! automerge decodes them.
//!
//! Automerge trusts what a chunk says about its own size: a compressed change
//! chunk or a document's deflated column inflates without a cap, and the
//! run-length and delta encoded columns (and the counts of dependencies,
//! actors and columns) can describe billions of rows in a few bytes, each of
//! which automerge materialises. So every chunk is measured here first
//! against a [`Budget`]: its inflated bytes (streamed through a capped
//! decoder, never allocated beyond the budget) and its rows (the longest
//! column, the largest group total, dependencies, actors, columns). Only the
//! chunk header, the change and document prefixes and the column encodings
//! are read; automerge does the real decoding afterwards.
//!
//! Chunk: `magic (4) | checksum (4) | type (1) | uleb128 length | data`.

use std::io::Read;

use automerge::ChangeHash;
use sha2::{Digest, Sha256};

pub(crate) const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// The chunk types a sync message may carry. (Bundles, type 3, are refused:
/// no client sends them.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Document,
    Change,
    Compressed,
}

/// One chunk of an entry of a sync message's change list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk<'a> {
    pub kind: Kind,
    /// The whole chunk, header included.
    pub bytes: &'a [u8],
    /// What follows the header.
    pub data: &'a [u8],
}

/// What one message may still make the server decode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Decoded (inflated) bytes.
    pub bytes: usize,
    /// Rows automerge would materialise: operations, changes, dependencies,
    /// actors, columns.
    pub rows: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// Not a well-formed chunk: a protocol violation.
    Bad(String),
    /// Well-formed but beyond the budget: refused.
    TooLarge(String),
}

fn bad(what: &str) -> ScanError {
    ScanError::Bad(format!("change entry: {what}"))
}

/// Splits an entry (one or more chunks back to back) into its chunks.
pub(crate) fn split(mut entry: &[u8]) -> impl Iterator<Item = Result<Chunk<'_>, String>> {
    let mut failed = false;
    std::iter::from_fn(move || {
        if entry.is_empty() || failed {
            return None;
        }
        let chunk = parse_header(entry);
        match &chunk {
            Ok(chunk) => entry = &entry[chunk.bytes.len()..],
            Err(_) => failed = true,
        }
        Some(chunk)
    })
}

fn parse_header(bytes: &[u8]) -> Result<Chunk<'_>, String> {
    if bytes.len() < 9 || bytes[..4] != MAGIC {
        return Err("change entry: not an Automerge chunk".into());
    }
    let kind = match bytes[8] {
        0 => Kind::Document,
        1 => Kind::Change,
        2 => Kind::Compressed,
        other => return Err(format!("change entry: unsupported chunk type {other}")),
    };
    let mut rest = &bytes[9..];
    let len = uleb(&mut rest).ok_or("change entry: bad chunk length")?;
    let header = bytes.len() - rest.len();
    let end = usize::try_from(len)
        .ok()
        .and_then(|len| header.checked_add(len))
        .filter(|end| *end <= bytes.len())
        .ok_or("change entry: chunk longer than its entry")?;
    Ok(Chunk {
        kind,
        bytes: &bytes[..end],
        data: &bytes[header..end],
    })
}

/// The hash of a change with these (uncompressed) data: the hash automerge
/// gives the change, without decoding it.
pub(crate) fn change_hash(data: &[u8]) -> ChangeHash {
    let mut hasher = Sha256::new();
    let mut prefix = vec![1u8];
    write_uleb(&mut prefix, data.len() as u64);
    hasher.update(&prefix);
    hasher.update(data);
    ChangeHash(hasher.finalize().into())
}

/// A compressed change chunk as the uncompressed change chunk it stands for,
/// inflating at most `budget.bytes`. The checksum must match the change.
pub(crate) fn inflate_change(chunk: &Chunk<'_>, budget: &mut Budget) -> Result<Vec<u8>, ScanError> {
    let data = inflate(chunk.data, budget)?;
    let hash = change_hash(&data);
    if chunk.bytes[4..8] != hash.0[..4] {
        return Err(bad("compressed change: checksum mismatch"));
    }
    let mut bytes = Vec::with_capacity(data.len() + 18);
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&hash.0[..4]);
    bytes.push(1);
    write_uleb(&mut bytes, data.len() as u64);
    bytes.extend_from_slice(&data);
    Ok(bytes)
}

/// Raw DEFLATE data inflated within the budget: a first pass counts the
/// inflated bytes into a sink (stopping just past the budget), and only then
/// is a buffer of exactly that size filled.
fn inflate(deflated: &[u8], budget: &mut Budget) -> Result<Vec<u8>, ScanError> {
    let limit = budget.bytes;
    let inflated = std::io::copy(
        &mut flate2::read::DeflateDecoder::new(deflated).take(limit as u64 + 1),
        &mut std::io::sink(),
    )
    .map_err(|_| bad("bad DEFLATE data"))?;
    let size = usize::try_from(inflated).unwrap_or(usize::MAX);
    if size > limit {
        return Err(ScanError::TooLarge(
            "compressed changes inflate beyond the size limit of a message".into(),
        ));
    }
    let mut out = Vec::with_capacity(size);
    flate2::read::DeflateDecoder::new(deflated)
        .take(size as u64)
        .read_to_end(&mut out)
        .map_err(|_| bad("bad DEFLATE data"))?;
    budget.bytes -= out.len();
    Ok(out)
}

/// Measures a change chunk (uncompressed) or a document chunk against the
/// budget and takes what it uses from it.
pub(crate) fn measure(chunk: &Chunk<'_>, budget: &mut Budget) -> Result<(), ScanError> {
    take_bytes(budget, chunk.bytes.len())?;
    let rows = match chunk.kind {
        Kind::Change => change_rows(chunk.data, budget.rows)?,
        Kind::Document => document_rows(chunk.data, budget)?,
        Kind::Compressed => return Err(bad("compressed chunk measured before inflating")),
    };
    take_rows(budget, rows)
}

fn take_bytes(budget: &mut Budget, n: usize) -> Result<(), ScanError> {
    budget.bytes = budget.bytes.checked_sub(n).ok_or_else(|| {
        ScanError::TooLarge("the message's changes exceed the size limit once decoded".into())
    })?;
    Ok(())
}

fn take_rows(budget: &mut Budget, n: usize) -> Result<(), ScanError> {
    budget.rows = budget.rows.checked_sub(n).ok_or_else(too_many_rows)?;
    Ok(())
}

fn too_many_rows() -> ScanError {
    ScanError::TooLarge("the message's changes describe more operations than allowed".into())
}

/// Rows of a change: `deps | actor | seq | start_op | time | message |
/// other actors | column metadata | column data | extra bytes`.
fn change_rows(mut i: &[u8], max: usize) -> Result<usize, ScanError> {
    let mut rows = 1usize;
    let deps = count(&mut i, max)?;
    skip(&mut i, deps.saturating_mul(32))?;
    rows += deps;
    skip_prefixed(&mut i)?; // actor
    uleb(&mut i).ok_or_else(|| bad("seq"))?;
    uleb(&mut i).ok_or_else(|| bad("start op"))?;
    uleb(&mut i).ok_or_else(|| bad("time"))?;
    skip_prefixed(&mut i)?; // message
    let others = count(&mut i, max)?;
    for _ in 0..others {
        skip_prefixed(&mut i)?;
    }
    rows += others;
    let columns = columns(&mut i, max)?;
    rows += columns.len();
    let mut widest = 0;
    // Actor columns index the change's actor and its other actors.
    let actors = others as u64 + 1;
    for (spec, len) in columns {
        let data = take(&mut i, len)?;
        if spec & DEFLATE != 0 {
            return Err(bad("a change's columns may not be compressed"));
        }
        widest = widest.max(column_rows(spec, data, max, actors)?);
    }
    rows = rows.checked_add(widest).ok_or_else(too_many_rows)?;
    (rows <= max).then_some(rows).ok_or_else(too_many_rows)
}

/// Rows of a document: `actors | heads | change column metadata | op column
/// metadata | change column data | op column data | head indices`.
fn document_rows(mut i: &[u8], budget: &mut Budget) -> Result<usize, ScanError> {
    let max = budget.rows;
    let mut rows = 0usize;
    let actors = count(&mut i, max)?;
    for _ in 0..actors {
        skip_prefixed(&mut i)?;
    }
    let heads = count(&mut i, max)?;
    skip(&mut i, heads.saturating_mul(32))?;
    rows += actors + heads;
    let change_columns = columns(&mut i, max)?;
    let op_columns = columns(&mut i, max)?;
    rows += change_columns.len() + op_columns.len();
    for group in [change_columns, op_columns] {
        let mut widest = 0;
        for (spec, len) in group {
            let data = take(&mut i, len)?;
            let n = if spec & DEFLATE != 0 {
                column_rows(spec, &inflate(data, budget)?, max, actors as u64)?
            } else {
                column_rows(spec, data, max, actors as u64)?
            };
            widest = widest.max(n);
        }
        rows = rows.checked_add(widest).ok_or_else(too_many_rows)?;
    }
    (rows <= max).then_some(rows).ok_or_else(too_many_rows)
}

const DEFLATE: u32 = 0b1000;

/// Column metadata: a count, then `(spec, length)` pairs.
fn columns(i: &mut &[u8], max: usize) -> Result<Vec<(u32, usize)>, ScanError> {
    let n = count(i, max)?;
    let mut columns = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let spec = uleb(i)
            .and_then(|s| u32::try_from(s).ok())
            .ok_or_else(|| bad("column spec"))?;
        let len = uleb(i)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| bad("column length"))?;
        columns.push((spec, len));
    }
    Ok(columns)
}

/// The rows a column describes (for a group column, the larger of its rows
/// and the total of its values: the rows of the columns it groups).
/// Stops as soon as `max` is passed. The values of an actor column must
/// index one of `actors` (automerge's `Change::decode` panics on others).
fn column_rows(spec: u32, mut data: &[u8], max: usize, actors: u64) -> Result<usize, ScanError> {
    let i = &mut data;
    let mut rows = 0usize;
    let mut grouped = 0usize;
    let add = |total: &mut usize, n: u64| -> Result<(), ScanError> {
        *total = usize::try_from(n)
            .ok()
            .and_then(|n| total.checked_add(n))
            .filter(|t| *t <= max)
            .ok_or_else(too_many_rows)?;
        Ok(())
    };
    match spec & 0b111 {
        // Value: raw bytes, sized by its metadata column.
        7 => return Ok(0),
        // Boolean: alternating run lengths.
        4 => {
            while !i.is_empty() {
                add(&mut rows, uleb(i).ok_or_else(|| bad("boolean column"))?)?;
            }
        }
        // Run-length encoded: group (0), actor (1), integer (2), delta (3),
        // string (5), value metadata (6).
        kind => {
            let group = kind == 0;
            let value = |i: &mut &[u8]| -> Result<u64, ScanError> {
                match kind {
                    5 => skip_prefixed(i).map(|()| 0),
                    1 => uleb(i)
                        .filter(|a| *a < actors)
                        .ok_or_else(|| bad("actor index out of range")),
                    _ => uleb(i).ok_or_else(|| bad("column value")),
                }
            };
            while !i.is_empty() {
                let n = sleb(i).ok_or_else(|| bad("column run"))?;
                if n > 0 {
                    add(&mut rows, n as u64)?;
                    let v = value(i)?;
                    if group {
                        add(&mut grouped, (n as u64).saturating_mul(v))?;
                    }
                } else if n < 0 {
                    let n = n.unsigned_abs();
                    add(&mut rows, n)?;
                    for _ in 0..n {
                        let v = value(i)?;
                        if group {
                            add(&mut grouped, v)?;
                        }
                    }
                } else {
                    add(&mut rows, uleb(i).ok_or_else(|| bad("null run"))?)?;
                }
            }
        }
    }
    Ok(rows.max(grouped))
}

/// A count of items, each taking at least one byte of what follows.
fn count(i: &mut &[u8], max: usize) -> Result<usize, ScanError> {
    let n = uleb(i).ok_or_else(|| bad("count"))?;
    let n = usize::try_from(n).map_err(|_| bad("count"))?;
    if n > i.len() {
        return Err(bad("count beyond the chunk"));
    }
    if n > max {
        return Err(too_many_rows());
    }
    Ok(n)
}

fn take<'a>(i: &mut &'a [u8], n: usize) -> Result<&'a [u8], ScanError> {
    if n > i.len() {
        return Err(bad("truncated chunk"));
    }
    let (head, rest) = i.split_at(n);
    *i = rest;
    Ok(head)
}

fn skip(i: &mut &[u8], n: usize) -> Result<(), ScanError> {
    take(i, n).map(|_| ())
}

fn skip_prefixed(i: &mut &[u8]) -> Result<(), ScanError> {
    let n = uleb(i).ok_or_else(|| bad("length"))?;
    skip(i, usize::try_from(n).map_err(|_| bad("length"))?)
}

pub(crate) fn uleb(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn sleb(input: &mut &[u8]) -> Option<i64> {
    let mut value = 0i64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= i64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            if shift + 7 < 64 && byte & 0x40 != 0 {
                value |= -1i64 << (shift + 7);
            }
            return Some(value);
        }
    }
    None
}

pub(crate) fn write_uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// What automerge's sync message decoder allocates per item, checked before
/// it runs: `version | heads | need | have | changes | flags`. An empty entry
/// of the change list costs one byte on the wire and a vector in memory, a
/// `have` two bytes and a bloom filter; so `have` entries, and change entries
/// shorter than a chunk header (garbage, or empty), are limited in number.
pub(crate) fn check_envelope(data: &[u8]) -> Result<(), String> {
    const MAX_HAVES: usize = 16;
    const MAX_SHORT_ENTRIES: usize = 16;
    const MIN_ENTRY: u64 = 10;
    let i = &mut &data[..];
    let hashes = |i: &mut &[u8]| -> Result<(), String> {
        let n = uleb(i).ok_or("truncated")?;
        let len = usize::try_from(n.saturating_mul(32)).map_err(|_| "too many hashes")?;
        if len > i.len() {
            return Err("truncated".into());
        }
        *i = &i[len..];
        Ok(())
    };
    let bytes = |i: &mut &[u8]| -> Result<u64, String> {
        let n = uleb(i).ok_or("truncated")?;
        let len = usize::try_from(n).map_err(|_| "truncated")?;
        if len > i.len() {
            return Err("truncated".into());
        }
        *i = &i[len..];
        Ok(n)
    };
    *i = i.get(1..).ok_or("empty")?;
    hashes(i)?;
    hashes(i)?;
    let haves = uleb(i).ok_or("truncated")?;
    if haves > MAX_HAVES as u64 {
        return Err(format!("more than {MAX_HAVES} `have` entries"));
    }
    for _ in 0..haves {
        hashes(i)?;
        bytes(i)?;
    }
    let entries = uleb(i).ok_or("truncated")?;
    let mut short = 0;
    for _ in 0..entries {
        if bytes(i)? < MIN_ENTRY {
            short += 1;
            if short > MAX_SHORT_ENTRIES {
                return Err(format!(
                    "more than {MAX_SHORT_ENTRIES} change entries shorter than a chunk"
                ));
            }
        }
    }
    Ok(())
}
