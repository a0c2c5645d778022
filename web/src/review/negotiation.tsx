// Timeline sentences for amendments, comments and editing modes.

import type { ComponentChildren } from "preact";
import type { EventItem } from "../lib/api";

function str(v: unknown): string | null {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : null;
}

const quote = (v: unknown) => {
  const s = str(v);
  return s === null ? "" : s.length > 140 ? `“${s.slice(0, 137)}…”` : `“${s}”`;
};

/** The proposal in words: replacing, deleting or inserting. */
function proposal(d: Record<string, unknown>): string | null {
  const original = str(d.original);
  const text = str(d.text);
  if (original === null && text === null) return null;
  if (!original) return `Insert ${quote(text)}`;
  if (!text) return `Delete ${quote(original)}`;
  return `Replace ${quote(original)} with ${quote(text)}`;
}

const ACTS: Record<string, string> = {
  amendment_sponsored: "sponsored",
  amendment_unsponsored: "withdrew its sponsorship of",
  amendment_objected: "objected to",
  amendment_objection_withdrawn: "withdrew its objection to",
  amendment_reanchored: "re-anchored",
  amendment_withdrawn: "withdrew",
};

/** `null` for an event type that is not about amendments or comments. */
export function negotiationSentence(
  item: EventItem,
  by: ComponentChildren | null,
  el: ComponentChildren,
): { sentence: ComponentChildren; detail: string | null } | null {
  const d = item.data ?? {};
  const n = str(d.amendment);
  const amendment = <>amendment{n ? ` #${n}` : ""}</>;
  const actor = str(d.entity) ?? item.entity;
  const entity = actor ? <strong>{actor}</strong> : (by ?? "Someone");
  switch (item.type) {
    case "element_mode":
      return {
        sentence: (
          <>
            {by ?? "A chair"} set {el} to {d.mode === "amendments" ? "amendments only (delegates propose, they do not type)" : "open editing"}
          </>
        ),
        detail: null,
      };
    case "amendment_proposed":
      return {
        sentence: (
          <>
            {entity} proposed {amendment} to {el}
            {by && actor ? <span class="muted"> (by {item.user_name})</span> : ""}
          </>
        ),
        detail: [proposal(d), str(d.reason) ? `Reason: ${str(d.reason)}` : null].filter(Boolean).join(". ") || null,
      };
    case "amendment_accepted":
    case "amendment_rejected":
      return {
        sentence: (
          <>
            {by ?? "A chair"} {item.type === "amendment_accepted" ? "accepted" : "rejected"} {actor ? <>{actor}’s </> : "the "}
            {amendment} to {el}
          </>
        ),
        detail:
          [proposal(d), item.type === "amendment_rejected" && str(d.reason) ? `Reason: ${str(d.reason)}` : null].filter(Boolean).join(". ") || null,
      };
    case "comment_added":
    case "comment_resolved":
      return {
        sentence: (
          <>
            {by ?? "Someone"} {item.type === "comment_resolved" ? "resolved a comment thread on" : d.reply_to != null ? "replied to a comment on" : "commented on"} {el}
          </>
        ),
        detail: str(d.text) ? quote(d.text) : null,
      };
    default:
      if (item.type in ACTS) {
        return {
          sentence: (
            <>
              {entity} {ACTS[item.type]} {amendment} to {el}
            </>
          ),
          detail: item.type === "amendment_objected" && str(d.reason) ? `Reason: ${str(d.reason)}` : proposal(d),
        };
      }
      return null;
  }
}
