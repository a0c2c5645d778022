// Amendments, comments and editing modes as the server projects them into
// the index document (`amendments`, `comments`, `modes`), and where an
// amendment's passage is in this client's own copy of the element text:
// it is anchored by Automerge cursors (its first and last characters; for
// an insertion point the characters either side, `s`/`e` at the ends), so
// it follows the words as others edit. The same rules as the server's
// (server/src/amendments/anchor.rs), in UTF-16 offsets.

import * as A from "@automerge/automerge/slim";
import type { ElementMode } from "../lib/api";

export interface LiveObjection {
  entity: string;
  reason: string;
}

/** An open amendment as the index document carries it. */
export interface LiveAmendment {
  id: number;
  entity: string;
  user_name: string | null;
  original: string;
  text: string;
  reason: string;
  start: string;
  end: string;
  /** Entity codes, the proposing entity first. */
  sponsors: string[];
  objections: LiveObjection[];
  /** Unix ms. */
  created_at: number | null;
}

export interface LiveReply {
  id: number;
  user_name: string | null;
  entity: string | null;
  text: string;
  /** Unix ms. */
  created_at: number | null;
}

/** A comment thread as the index document carries it. */
export interface LiveThread {
  id: number;
  user: string;
  user_name: string | null;
  entity: string | null;
  text: string;
  original: string | null;
  /** Unix ms. */
  created_at: number | null;
  resolved: boolean;
  replies: LiveReply[];
}

export interface LiveNegotiation {
  amendments: Record<string, LiveAmendment[]>;
  comments: Record<string, LiveThread[]>;
  modes: Record<string, ElementMode>;
}

/** A time as ms (the projection carries Unix ms; RFC 3339 is read too). */
function ms(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v !== "string" || !v) return null;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  return Number.isFinite(n) ? n : null;
}

const str = (v: unknown) => (v == null ? "" : String(v));
const strOrNull = (v: unknown) => (v == null ? null : String(v));
const list = (v: unknown): Record<string, unknown>[] =>
  Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => !!x && typeof x === "object") : [];

function amendment(a: Record<string, unknown>): LiveAmendment {
  const sponsors = (Array.isArray(a.sponsors) ? a.sponsors : []).map((s) =>
    s && typeof s === "object" ? str((s as Record<string, unknown>).entity) : str(s),
  );
  // The proposing entity first, whatever the projection's order.
  const entity = str(a.entity);
  const ordered = [entity, ...sponsors.filter((s) => s && s !== entity)];
  return {
    id: Number(a.id),
    entity,
    user_name: strOrNull(a.user_name),
    original: str(a.original),
    text: str(a.text),
    reason: str(a.reason),
    start: str(a.start),
    end: str(a.end),
    sponsors: ordered,
    objections: list(a.objections).map((o) => ({ entity: str(o.entity), reason: str(o.reason) })),
    created_at: ms(a.created_at),
  };
}

function thread(t: Record<string, unknown>): LiveThread {
  return {
    id: Number(t.id),
    user: str(t.user),
    user_name: strOrNull(t.user_name),
    entity: strOrNull(t.entity),
    text: str(t.text),
    original: strOrNull(t.original) || null,
    created_at: ms(t.created_at),
    resolved: t.resolved === true,
    replies: list(t.replies).map((r) => ({
      id: Number(r.id),
      user_name: strOrNull(r.user_name),
      entity: strOrNull(r.entity),
      text: str(r.text),
      created_at: ms(r.created_at),
    })),
  };
}

function byElement<T>(v: unknown, f: (x: Record<string, unknown>) => T): Record<string, T[]> {
  const out: Record<string, T[]> = {};
  if (v && typeof v === "object") for (const [id, items] of Object.entries(v)) out[id] = list(items).map(f);
  return out;
}

/** Reads the projection from the index document (as plain JS). */
export function readNegotiation(doc: Record<string, unknown>): LiveNegotiation {
  const modes: Record<string, ElementMode> = {};
  if (doc.modes && typeof doc.modes === "object") {
    for (const [id, m] of Object.entries(doc.modes)) modes[id] = m === "amendments" ? "amendments" : "open";
  }
  return { amendments: byElement(doc.amendments, amendment), comments: byElement(doc.comments, thread), modes };
}

export const EMPTY_NEGOTIATION: LiveNegotiation = { amendments: {}, comments: {}, modes: {} };

/** Where a passage is now in `doc`'s text (UTF-16 offsets), what it reads,
 * and whether it still reads as anchored. Null if the cursors are not this
 * document's (yet: the text may still be syncing). */
export interface Located {
  from: number;
  to: number;
  current: string;
  intact: boolean;
}

export function locate(doc: A.Doc<unknown>, original: string, start: string, end: string): Located | null {
  const text = String((doc as { text?: unknown }).text ?? "");
  const len = text.length;
  const position = (c: string): number | null => {
    if (c === "s") return 0;
    if (c === "e") return len;
    try {
      return A.getCursorPosition(doc, ["text"], c);
    } catch {
      return null;
    }
  };
  const present = (c: string, at: number) => {
    if (c === "s" || c === "e") return true;
    if (at >= len) return false;
    try {
      return A.getCursor(doc, ["text"], at, "before") === c || A.getCursor(doc, ["text"], at, "after") === c;
    } catch {
      return false;
    }
  };
  const s = position(start);
  const e = position(end);
  if (s === null || e === null) return null;
  const anchors = present(start, s) && present(end, e);
  let from: number;
  let to: number;
  if (original === "") {
    from = start === "s" ? 0 : Math.min(s + charWidth(text, s), len);
    to = Math.max(e, from);
  } else {
    from = s;
    const last = present(end, e) ? e + charWidth(text, e) : e;
    to = Math.min(Math.max(last, from), len);
  }
  const current = text.slice(from, to);
  return { from, to, current, intact: anchors && current === original };
}

/** UTF-16 units of the character at `at` (2 for a surrogate pair). */
function charWidth(text: string, at: number): number {
  const c = text.charCodeAt(at);
  return c >= 0xd800 && c <= 0xdbff && at + 1 < text.length ? 2 : 1;
}
