// Words and symbols: statuses, stances, the cells of the positions strip
// and the matrix, counts in words, roles.

import type { ConsensusElement, ElementStatus, ProjectedPosition, Role, Stance } from "./api";
import { utc } from "./time";

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

/** The key to the cells (the draft view's legend, the board's matrix), in
 * this order. */
export const LEGEND: CellPosition[] = ["support", "support_ad_ref", "reservation", "abstain", "object", "stale", "none"];

/** A cell's words as a key's line: "Supports", "No position yet". */
export function cellKeyWords(pos: CellPosition): string {
  return CELL_WORDS[pos].charAt(0).toUpperCase() + CELL_WORDS[pos].slice(1);
}

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
