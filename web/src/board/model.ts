// What the board computes from the consensus projection: the filters,
// each element's tally and status, why the server would refuse a silence
// or an adoption; the live text of an element and the consensus clock.
// (The progress sentence is the server's: the projection's `summary`.)

import { useEffect, useState } from "preact/hooks";
import type { ConsensusElement, ConsensusReport, ElementStatus, Entity, ProjectedPosition } from "../lib/api";
import { LEGEND, cellPosition, plural, type CellPosition } from "../lib/format";
import { Signal, useSignal } from "../lib/signal";
import type { ElementState } from "../live/model";

export type Filter = "not-responded" | "objections" | "stale" | "ad-ref";
export type RowSort = "order" | "code" | "name" | "problems";
export type ColSort = "order" | "problems";

export const FILTERS: { id: Filter; label: string; hint: string }[] = [
  { id: "not-responded", label: "Not responded", hint: "no current position: none yet, or stale" },
  { id: "objections", label: "Objections", hint: "current objections" },
  { id: "stale", label: "Stale", hint: "positions given on an earlier text" },
  { id: "ad-ref", label: "Ad ref", hint: "support ad referendum, pending confirmation" },
];

export function matches(filter: Filter, pos: CellPosition): boolean {
  switch (filter) {
    case "not-responded":
      return pos === "none" || pos === "stale";
    case "objections":
      return pos === "object";
    case "stale":
      return pos === "stale";
    case "ad-ref":
      return pos === "support_ad_ref";
  }
}

export const STATUS_SYMBOL: Record<ElementStatus, string> = {
  adopted: "★",
  under_silence: "◔",
  objected: "✗",
  bracketed: "[ ]",
  agreed: "✓",
  agreed_ad_ref: "✓ₐ",
  open: "○",
};

interface Tally {
  counts: Record<CellPosition, number>;
  /** No current position: none or stale (the server's "not responded"). */
  notResponded: string[];
  /** No position at all (not responded, and not stale either). */
  missing: string[];
  stale: string[];
  /** Objections given on an earlier text: silence would turn them into support. */
  staleObjections: [string, ProjectedPosition][];
  adRef: string[];
  objections: [string, ProjectedPosition][];
  reservations: [string, ProjectedPosition][];
}

export function tally(entities: Entity[], c: ConsensusElement | undefined): Tally {
  const counts = Object.fromEntries(LEGEND.map((p) => [p, 0])) as Record<CellPosition, number>;
  const t: Tally = { counts, notResponded: [], missing: [], stale: [], staleObjections: [], adRef: [], objections: [], reservations: [] };
  for (const e of entities) {
    const p = c?.positions?.[e.code];
    const pos = cellPosition(p);
    counts[pos]++;
    if (pos === "none" || pos === "stale") t.notResponded.push(e.code);
    if (pos === "none") t.missing.push(e.code);
    if (pos === "stale") t.stale.push(e.code);
    if (pos === "stale" && p?.position === "object") t.staleObjections.push([e.code, p]);
    if (pos === "support_ad_ref") t.adRef.push(e.code);
    if (pos === "object" && p) t.objections.push([e.code, p]);
    if (pos === "reservation" && p) t.reservations.push([e.code, p]);
  }
  return t;
}

export function statusOf(c: ConsensusElement | undefined, report: ConsensusReport | null, id: string): ElementStatus {
  return c?.status ?? report?.elements.find((e) => e.id === id)?.status ?? "open";
}

/** Why the server would refuse silence on an element (null: it may start). */
export function silenceBlock(status: ElementStatus): string | null {
  switch (status) {
    case "adopted":
      return "Adopted: reopen it before a silence procedure.";
    case "under_silence":
      return "Already under silence.";
    case "objected":
      return "Objected: silence cannot start while an objection stands.";
    case "bracketed":
      return "Bracketed: resolve the bracketed passages first.";
    default:
      return null;
  }
}

/** "23 entities have not responded and 5 responded on an earlier text
 * (stale)": missing and stale positions counted apart. */
export function notRespondedWords(missing: number, stale: number, on = ""): string {
  const where = on ? ` on ${on}` : "";
  if (stale === 0) return `${plural(missing, "entity has", "entities have")} not responded${where}`;
  if (missing === 0) return `${plural(stale, "entity", "entities")} responded${where} only on an earlier text (stale)`;
  return `${plural(missing, "entity has", "entities have")} not responded${where} and ${stale} responded on an earlier text (stale)`;
}

/** Why Adopt cannot act (null: it can), from the element's live status;
 * `deadlinePassed`: under silence whose deadline the server clock has passed. */
export function adoptBlock(status: ElementStatus, t: Tally, deadlinePassed = false): string | null {
  switch (status) {
    case "agreed":
      return null;
    case "agreed_ad_ref":
      return `Support ad referendum awaits confirmation from ${list(t.adRef)}.`;
    case "under_silence":
      return deadlinePassed
        ? "Under silence: the deadline has passed and the server is recording the outcome."
        : "Under silence: wait for the deadline, or cancel the procedure.";
    case "objected":
      return `Objected by ${list(t.objections.map(([code]) => code))}.`;
    case "bracketed":
      return "The text still has bracketed passages.";
    case "open":
      return t.notResponded.length > 0 ? `Not agreed yet: ${notRespondedWords(t.missing.length, t.stale.length)}.` : "Not agreed yet.";
    case "adopted":
      return "Already adopted.";
  }
}

export function list(items: string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** The live text of an element (undefined until its document is ready). */
export function useElementText(state: ElementState | undefined): string | undefined {
  const handle = useSignal(state?.handle ?? NO_HANDLE);
  const [, tick] = useState(0);
  useEffect(() => {
    if (!handle) return;
    const onChange = () => tick((t) => t + 1);
    handle.on("change", onChange);
    return () => {
      handle.off("change", onChange);
    };
  }, [handle]);
  return state?.text();
}

const NO_HANDLE = new Signal<ElementState["handle"]["value"]>(undefined);

/** The consensus clock now, ticking every second while `active`. */
export function useServerNow(offset: number, active = true): number {
  const [now, setNow] = useState(() => Date.now() + offset);
  useEffect(() => {
    setNow(Date.now() + offset);
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now() + offset), 1000);
    return () => clearInterval(timer);
  }, [offset, active]);
  return now;
}
