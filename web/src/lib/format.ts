import type { Role, Stance } from "./api";
import type { ConsensusElement, ElementStatus, ProjectedPosition } from "./model";

/** "2026-05-01 12:00 UTC" from Unix ms (the server's time is UTC). */
export function utc(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "";
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

export const STATUS_WORDS: Record<ElementStatus, string> = {
  adopted: "Adopted",
  under_silence: "Under silence",
  objected: "Objected",
  bracketed: "Bracketed",
  agreed: "Agreed",
  agreed_ad_ref: "Agreed ad ref",
  open: "Open",
};

export function statusWords(c: ConsensusElement | undefined, fallback: ElementStatus): string {
  const status = c?.status ?? fallback;
  if (status === "under_silence") return c?.deadline != null ? `Under silence until ${utc(c.deadline)}` : "Under silence";
  return STATUS_WORDS[status] ?? status;
}

export const STANCE_LABEL: Record<Stance, string> = {
  support: "Support",
  support_ad_ref: "Support ad ref",
  reservation: "Reservation",
  abstain: "Abstain",
  object: "Object",
};

export type CellPosition = Stance | "stale" | "none";

export const CELL_SYMBOL: Record<CellPosition, string> = {
  support: "✓",
  support_ad_ref: "✓ₐ",
  reservation: "R",
  abstain: "–",
  object: "✗",
  stale: "!",
  none: "·",
};

export const CELL_WORDS: Record<CellPosition, string> = {
  support: "supports",
  support_ad_ref: "supports ad ref",
  reservation: "reservation",
  abstain: "abstains",
  object: "objects",
  stale: "position on an earlier text (stale)",
  none: "no position yet",
};

/** `one` or `many` after the count: "1 entity", "5 entities". */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A count of strip cells in words, singular or plural: "1 entity
 * supports", "5 positions on an earlier text (stale)". */
export function countWords(pos: CellPosition, n: number): string {
  switch (pos) {
    case "support":
      return n === 1 ? "1 entity supports" : `${n} entities support`;
    case "support_ad_ref":
      return n === 1 ? "1 entity supports ad ref" : `${n} entities support ad ref`;
    case "reservation":
      return plural(n, "reservation", "reservations");
    case "abstain":
      return n === 1 ? "1 entity abstains" : `${n} entities abstain`;
    case "object":
      return plural(n, "objection", "objections");
    case "stale":
      return plural(n, "position on an earlier text (stale)", "positions on an earlier text (stale)");
    case "none":
      return n === 1 ? "1 entity has no position yet" : `${n} entities have no position yet`;
  }
}

export function cellPosition(p: ProjectedPosition | undefined): CellPosition {
  if (!p || p.standing === "no_response") return "none";
  if (p.standing === "stale") return "stale";
  return p.position;
}

/** The tooltip of a strip cell: entity, position, note, who and when. */
export function cellTitle(code: string, name: string, p: ProjectedPosition | undefined): string {
  const head = `${code}${name && name !== code ? ` (${name})` : ""}`;
  if (!p || p.standing === "no_response") return `${head}: no position yet`;
  const parts = [`${head}: ${STANCE_LABEL[p.position] ?? p.position}${p.standing === "stale" ? " — given on an earlier text, does not count" : ""}`];
  if (p.note) parts.push(`${p.position === "object" ? "Reason" : "Note"}: ${p.note}`);
  if (p.wording) parts.push(`Proposed wording: ${p.wording}`);
  const who = p.by_silence ? "by silence" : p.user_name ? `by ${p.user_name}` : "";
  const when = utc(p.at);
  if (who || when) parts.push([who, when].filter(Boolean).join(", "));
  return parts.join("\n");
}

export const ROLE_WORDS: Record<Role, string> = {
  chair: "Chair",
  delegate: "Delegate",
  reviewer: "Reviewer",
};

/** A stable colour slot (0–5) for a user's cursor. */
export function colourOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 6;
}

/** "1 h 05 min 10 s", "3 d 4 h 10 min", "45 s": a duration for a countdown. */
export function duration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  if (d > 0) return `${d} d ${h} h ${two(m)} min`;
  if (h > 0) return `${h} h ${two(m)} min ${two(s)} s`;
  if (m > 0) return `${m} min ${two(s)} s`;
  return `${s} s`;
}

/** A UTC date and time typed as YYYY-MM-DDTHH:MM (a space for the T,
 * seconds, a trailing Z or "UTC" are accepted) → Unix ms; NaN otherwise. */
export function parseUtcInput(value: string): number {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})[T\s](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(?:Z|UTC|\+00:?00)?\s*$/i.exec(value);
  if (!m) return NaN;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? "0"].map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return NaN;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Reject dates that roll over (31 February).
  return new Date(ms).getUTCDate() === d ? ms : NaN;
}

/** Unix ms → "YYYY-MM-DDTHH:MM" (UTC), the deadline field's format. */
export function utcInputValue(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

/** Unix ms → "2026-05-01T12:00:00Z", as the API takes deadlines. */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
