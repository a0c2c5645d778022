// The amendments and comments API (issue 16): types and calls, and the
// conversion between JavaScript's UTF-16 offsets and the server's code
// point offsets.

import { call, query } from "./api";

export type AmendmentState = "open" | "conflict" | "accepted" | "rejected" | "withdrawn";

export interface AmendmentObjection {
  entity: string;
  reason: string;
  user_name?: string | null;
  at?: string;
}

export interface Amendment {
  id: number;
  element_id: string;
  label: string;
  entity: string;
  user: string;
  user_name: string | null;
  state: AmendmentState;
  original: string;
  anchored_original: string;
  text: string;
  reason: string;
  from: number | null;
  to: number | null;
  start_cursor: string;
  end_cursor: string;
  sponsors: string[];
  objections: AmendmentObjection[];
  created_at: string;
  decided_at: string | null;
  decided_by: string | null;
  decision_reason: string | null;
}

export interface Mentions {
  entities: string[];
  users: string[];
}

export interface Comment {
  id: number;
  element_id: string;
  user: string;
  user_name: string | null;
  entity: string | null;
  text: string;
  reply_to: number | null;
  original: string | null;
  intact: boolean | null;
  mentions: Mentions;
  created_at: string;
  resolved_at: string | null;
  resolved_by: string | null;
  replies: Comment[];
}

/** A passage and the element document's heads it was read at (offsets in
 * code points, as the server counts). */
export interface Anchor {
  from: number;
  to: number;
  heads: string[];
}

const d = (draft: string) => `/api/v1/drafts/${encodeURIComponent(draft)}`;
const el = (draft: string, element: string) => `${d(draft)}/elements/${encodeURIComponent(element)}`;
const am = (draft: string, id: number) => `${d(draft)}/amendments/${id}`;

export const amendApi = {
  list: (draft: string, filter: { element?: string; state?: AmendmentState; at?: string } = {}) =>
    call<{ amendments: Amendment[] }>("GET", `${d(draft)}/amendments${query(filter)}`),
  propose: (draft: string, element: string, body: Anchor & { text: string; reason: string; entity?: string }) =>
    call<Amendment>("POST", `${el(draft, element)}/amendments`, body),
  sponsor: (draft: string, id: number, entity?: string) => call<Amendment>("POST", `${am(draft, id)}/sponsor`, entity ? { entity } : {}),
  unsponsor: (draft: string, id: number, entity?: string) => call<Amendment>("DELETE", `${am(draft, id)}/sponsor`, entity ? { entity } : {}),
  object: (draft: string, id: number, reason: string, entity?: string) => call<Amendment>("POST", `${am(draft, id)}/object`, { reason, entity }),
  unobject: (draft: string, id: number, entity?: string) => call<Amendment>("DELETE", `${am(draft, id)}/object`, entity ? { entity } : {}),
  withdraw: (draft: string, id: number, entity?: string) => call<Amendment>("POST", `${am(draft, id)}/withdraw`, entity ? { entity } : {}),
  reanchor: (draft: string, id: number, body: Anchor & { text?: string }) => call<Amendment>("POST", `${am(draft, id)}/anchor`, body),
  accept: (draft: string, id: number) => call<Amendment>("POST", `${am(draft, id)}/accept`, {}),
  reject: (draft: string, id: number, reason: string) => call<Amendment>("POST", `${am(draft, id)}/reject`, { reason }),
  comments: (draft: string, element: string) => call<{ comments: Comment[] }>("GET", `${el(draft, element)}/comments`),
  comment: (draft: string, element: string, body: { text: string; from?: number; to?: number; heads?: string[]; reply_to?: number }) =>
    call<Comment>("POST", `${el(draft, element)}/comments`, body),
  resolve: (draft: string, element: string, id: number) => call<Comment>("POST", `${el(draft, element)}/comments/${id}/resolve`, {}),
  /** The amendments pending at a version (reading the draft then). */
  pendingAt: async (draft: string, at: string | null) => {
    const list = await amendApi.list(draft, at ? { at } : {});
    return list.amendments.filter((a) => a.state === "open" || a.state === "conflict");
  },
};

/** Code points in `text` before the UTF-16 offset `utf16`. */
export function codePoints(text: string, utf16: number): number {
  let n = 0;
  for (let i = 0; i < utf16 && i < text.length; i++) {
    const c = text.charCodeAt(i);
    // a surrogate pair counts once
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < utf16) i++;
    n++;
  }
  return n;
}

/** `@CODE` and `@Full Name` mentions in a comment, split out for display. */
export function mentionParts(text: string, names: string[]): { text: string; mention: boolean }[] {
  const known = [...names].filter(Boolean).sort((a, b) => b.length - a.length);
  const parts: { text: string; mention: boolean }[] = [];
  let plain = "";
  for (let i = 0; i < text.length; ) {
    if (text[i] === "@" && (i === 0 || /\s|\(/.test(text[i - 1]))) {
      const rest = text.slice(i + 1);
      const name = known.find((n) => rest.startsWith(n) && !/[\p{L}\p{N}]/u.test(rest.charAt(n.length)));
      if (name) {
        if (plain) parts.push({ text: plain, mention: false });
        plain = "";
        parts.push({ text: `@${name}`, mention: true });
        i += name.length + 1;
        continue;
      }
    }
    plain += text[i++];
  }
  if (plain) parts.push({ text: plain, mention: false });
  return parts;
}
