// The JSON API (server/src/openapi.json), same-origin: the browser sends the
// HttpOnly session cookie by itself.

export type Role = "chair" | "delegate" | "reviewer";

export interface User {
  id: string;
  name: string;
  role: Role;
  entity: string | null;
}

export interface Entity {
  code: string;
  name: string;
}

export interface Me {
  user: User;
  entity: Entity | null;
  session: { expires_at: string };
  server_time: string;
}

export interface DraftElement {
  id: string;
  label: string;
  position: number;
  doc_url: string;
  text: string;
  text_hash: string;
  heads: string[];
  /** `amendments`: delegates propose instead of typing (absent: open). */
  mode?: ElementMode;
}

export type ElementMode = "open" | "amendments";

export interface ArchivedElement {
  id: string;
  label: string;
  doc_url: string;
}

export interface Draft {
  id: string;
  title: string;
  preamble: string;
  index_url: string;
  elements: DraftElement[];
  /** Restorable by a chair (absent from older servers' answers). */
  archived_elements?: ArchivedElement[];
  entities: Entity[];
  server_time: string;
}

/** One connection present in a draft (normalised from the API's snake_case
 * and the presence feed's camelCase). */
export interface Present {
  userId: string;
  name: string;
  role: Role;
  entity: string | null;
  peerId: string;
  elements: string[];
  since: number;
}

export type Stance = "support" | "support_ad_ref" | "reservation" | "abstain" | "object";

export type ElementStatus = "adopted" | "under_silence" | "objected" | "bracketed" | "agreed" | "agreed_ad_ref" | "open";
export type DraftState = "open" | "agreed" | "all_adopted" | "adopted";
export type Standing = "current" | "stale" | "no_response";

// The server's consensus projection in the index document (times in ms).

export interface ProjectedPosition {
  position: Stance;
  standing: Standing;
  note: string | null;
  wording: string | null;
  user_name: string | null;
  by_silence: boolean;
  at: number | null;
}

/** How an element's most recent silence procedure ended (times in ms). */
export interface EndedSilence {
  state: "fired" | "broken" | "cancelled";
  deadline: number | null;
  ended_at: number | null;
  ended_by: string | null;
  entity: string | null;
  reason: string | null;
}

export interface ConsensusElement {
  status: ElementStatus;
  deadline: number | null;
  bracketed: boolean;
  positions: Record<string, ProjectedPosition>;
  last_silence?: EndedSilence | null;
}

/** One recorded position (GET …/consensus: objections, reservations). */
export interface PositionEntry {
  seq: number;
  entity: string;
  position: Stance;
  note: string | null;
  wording: string | null;
  text_hash: string;
  user: string | null;
  user_name: string | null;
  by_silence: boolean;
  at: string;
}

export interface EndedSilenceReport {
  state: "fired" | "broken" | "cancelled";
  deadline: string;
  ended_at: string | null;
  ended_by: string | null;
  entity: string | null;
  reason: string | null;
}

export interface ElementConsensusReport {
  id: string;
  label: string;
  status: ElementStatus;
  deadline: string | null;
  silence: { id: number; deadline: string; started_at: string; started_by: string } | null;
  last_silence: EndedSilenceReport | null;
  adopted: { at: string; by: string; text_hash: string } | null;
  bracketed: boolean;
  not_responded: string[];
  stale: string[];
  objections: PositionEntry[];
  reservations: PositionEntry[];
  ad_ref: string[];
}

/** GET /api/v1/drafts/{id}/consensus (the fields the board reads). */
export interface ConsensusReport {
  draft: string;
  state: DraftState;
  summary: string;
  adopted_at: string | null;
  elements: ElementConsensusReport[];
  entities: Entity[];
  entity_names: Record<string, string>;
  /** The consensus clock now (it can run ahead of real time in rehearsals). */
  server_time: string;
}

export interface SilenceRefusal {
  element: string;
  label: string;
  error: string;
  message: string;
}

/** A stale objection the server lists in a 409 `stale_objections`. */
export interface StaleObjection {
  element: string;
  label: string;
  entity: string;
  entity_name: string | null;
  note: string | null;
  at: string;
}

export interface DeviceLink {
  invite: string;
  link: string;
  expires_at: string;
}

// ---- history (server/src/history.rs): timeline, reading, compare, attribution

/** A named version (GET …/versions). */
export interface NamedVersion {
  name: string;
  created_at: string;
  /** The name of who named it (null for the server). */
  created_by: string | null;
  /** The adopted draft's version. */
  final: boolean;
}

export interface RevisionItem {
  kind: "revision";
  id: number;
  element: string;
  label: string | null;
  user: string;
  user_name: string;
  entity: string | null;
  start: string;
  end: string;
  changes: number;
  inserted: number;
  deleted: number;
}

export interface PositionItem {
  kind: "position";
  seq: number;
  element: string;
  label: string | null;
  entity: string;
  position: Stance;
  note: string | null;
  wording: string | null;
  user: string | null;
  user_name: string | null;
  by_silence: boolean;
  /** The hash of the text the position was given on. */
  text_hash: string;
  at: string;
}

export type HistoryEventType =
  | "draft_created"
  | "draft_updated"
  | "element_added"
  | "element_renamed"
  | "element_moved"
  | "element_archived"
  | "element_restored"
  | "silence_started"
  | "silence_broken"
  | "silence_fired"
  | "silence_cancelled"
  | "element_adopted"
  | "element_reopened"
  | "version_named"
  | "draft_adopted"
  | "positions_stale"
  | "element_mode"
  | "amendment_proposed"
  | "amendment_sponsored"
  | "amendment_unsponsored"
  | "amendment_objected"
  | "amendment_objection_withdrawn"
  | "amendment_reanchored"
  | "amendment_withdrawn"
  | "amendment_accepted"
  | "amendment_rejected"
  | "comment_added"
  | "comment_resolved";

export interface EventItem {
  kind: "event";
  seq: number;
  type: HistoryEventType | string;
  element: string | null;
  label: string | null;
  user: string | null;
  user_name: string | null;
  entity: string | null;
  data: Record<string, unknown> | null;
  at: string;
}

export type HistoryItem = RevisionItem | PositionItem | EventItem;

export interface HistoryPage {
  items: HistoryItem[];
  /** The cursor of the next page; null on the last. */
  next: string | null;
  server_time: string;
}

export interface HistoryFilters {
  element?: string;
  entity?: string;
  user?: string;
  /** RFC 3339 UTC, inclusive. */
  from?: string;
  /** RFC 3339 UTC, exclusive. */
  to?: string;
}

/** Someone who appears in a draft's history. */
export interface Person {
  user: string;
  name: string;
  entity: string | null;
}

/** Which version to read: a named one, a time, or (neither) now. */
export interface VersionChoice {
  version?: string;
  at?: string;
}

export interface VersionLabel {
  /** The version's name, the time (RFC 3339) or "current". */
  label: string;
  at: string;
}

export interface AnnexPosition {
  entity: string;
  standing: Standing;
  position: Stance | null;
  note: string | null;
  wording: string | null;
  by_silence: boolean;
  at: string | null;
}

export interface AnnexElement {
  element: string;
  label: string;
  status: ElementStatus;
  deadline: string | null;
  positions: AnnexPosition[];
}

export interface Reading {
  version: VersionLabel;
  title: string;
  preamble: string;
  elements: { id: string; label: string; text: string; text_hash: string }[];
  annex: { as_of: string; entities: Entity[]; elements: AnnexElement[] };
  server_time: string;
}

/** Who made a piece of text (all null: unknown). */
export interface Authored {
  user: string | null;
  user_name: string | null;
  entity: string | null;
}

export interface DiffPiece extends Authored {
  op: "equal" | "insert" | "delete";
  text: string;
}

export interface CompareElement {
  id: string;
  label: string;
  in_from: boolean;
  in_to: boolean;
  changed: boolean;
  diff: DiffPiece[];
}

export interface Comparison {
  from: VersionLabel;
  to: VersionLabel;
  elements: CompareElement[];
  server_time: string;
}

export interface Attribution {
  element: string;
  label: string;
  version: VersionLabel;
  text: string;
  spans: ({ text: string } & Authored)[];
  deletions: ({ count: number; text: string } & Authored)[];
  server_time: string;
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** An API refusal: `{ error, message }` with the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Called on every 401 from a call that needs a session. */
let onUnauthorized: (() => void) | undefined;
export function setUnauthorizedHandler(handler: () => void) {
  onUnauthorized = handler;
}

export async function call<T>(method: string, path: string, body?: unknown, anonymous = false): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached. Check your connection and try again.");
  }
  if (response.status === 204) return undefined as T;
  let data: unknown = undefined;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) {
    const obj = (data && typeof data === "object" ? data : {}) as Record<string, unknown>;
    const code = typeof obj.error === "string" ? obj.error : `http_${response.status}`;
    let message = typeof obj.message === "string" ? obj.message : `The server answered ${response.status} ${response.statusText}.`;
    if (response.status === 429) {
      const retry = response.headers.get("Retry-After");
      if (retry && !/retry|wait|try again/i.test(message)) message += ` Try again in ${retry} seconds.`;
    }
    if (response.status === 401 && !anonymous) onUnauthorized?.();
    throw new ApiError(response.status, code, message, obj);
  }
  return data as T;
}

function normalisePresent(p: Record<string, unknown>): Present {
  return {
    userId: String(p.userId ?? p.user_id ?? ""),
    name: String(p.name ?? ""),
    role: String(p.role ?? "") as Role,
    entity: p.entity == null ? null : String(p.entity),
    peerId: String(p.peerId ?? p.peer_id ?? ""),
    elements: Array.isArray(p.elements) ? p.elements.map(String) : [],
    since: Number(p.since ?? 0),
  };
}

export const api = {
  signIn: (invite: string) => call<{ token: string; user: User }>("POST", "/api/v1/session", { invite }, true),
  signOut: () => call<void>("DELETE", "/api/v1/session", undefined, true),
  deviceLink: () => call<DeviceLink>("POST", "/api/v1/session/device"),
  me: () => call<Me>("GET", "/api/v1/me", undefined, true),
  drafts: () => call<Draft[]>("GET", "/api/v1/drafts"),
  draft: (id: string) => call<Draft>("GET", `/api/v1/drafts/${encodeURIComponent(id)}`),
  presence: async (id: string) => {
    const body = await call<{ present: Record<string, unknown>[] }>("GET", `/api/v1/drafts/${encodeURIComponent(id)}/presence`);
    return (body.present ?? []).map(normalisePresent);
  },
  putPosition: (
    draft: string,
    element: string,
    entity: string,
    body: { position: Stance; note: string | null; wording: string | null; text_hash: string; heads: string[] },
  ) =>
    call<{ position: PositionEntry | null; element: { id: string; status: string }; silence_broken: boolean }>(
      "PUT",
      `/api/v1/drafts/${encodeURIComponent(draft)}/elements/${encodeURIComponent(element)}/positions/${encodeURIComponent(entity)}`,
      body,
    ),

  // ---- chairs: consensus procedure
  consensus: (draft: string) => call<ConsensusReport>("GET", `/api/v1/drafts/${encodeURIComponent(draft)}/consensus`),
  /** `confirmStale`: the chair confirms the stale objections on these
   * elements (else the server answers 409 `stale_objections`). */
  startSilence: (draft: string, elements: string[], deadline: string, confirmStale = false) =>
    call<{ silences: { id: number; element: string; deadline: string; confirmed_stale_objections: { entity: string }[] }[] }>(
      "POST",
      `/api/v1/drafts/${encodeURIComponent(draft)}/silence`,
      { elements, deadline, confirm_stale_objections: confirmStale },
    ),
  cancelSilence: (draft: string, elements: string[]) =>
    call<{ cancelled: string[] }>("DELETE", `/api/v1/drafts/${encodeURIComponent(draft)}/silence`, { elements }),
  adoptElement: (draft: string, element: string) =>
    call<{ id: string; label: string; status: ElementStatus }>(
      "POST",
      `/api/v1/drafts/${encodeURIComponent(draft)}/elements/${encodeURIComponent(element)}/adopt`,
    ),
  reopenElement: (draft: string, element: string) =>
    call<{ id: string; label: string; status: ElementStatus }>(
      "POST",
      `/api/v1/drafts/${encodeURIComponent(draft)}/elements/${encodeURIComponent(element)}/reopen`,
    ),
  adoptDraft: (draft: string, name: string | null) =>
    call<{ version: { name: string; created_at: string } }>("POST", `/api/v1/drafts/${encodeURIComponent(draft)}/adopt`, { name }),
  nameVersion: (draft: string, name: string) =>
    call<NamedVersion>("POST", `/api/v1/drafts/${encodeURIComponent(draft)}/versions`, { name }),

  // ---- chairs: structure
  updateDraft: (draft: string, patch: { title?: string; preamble?: string }) =>
    call<Draft>("PATCH", `/api/v1/drafts/${encodeURIComponent(draft)}`, patch),
  addElement: (draft: string, body: { label: string; text: string; position: number | null }) =>
    call<DraftElement>("POST", `/api/v1/drafts/${encodeURIComponent(draft)}/elements`, body),
  updateElement: (draft: string, element: string, patch: { label?: string; position?: number; mode?: ElementMode }) =>
    call<DraftElement>("PATCH", `/api/v1/drafts/${encodeURIComponent(draft)}/elements/${encodeURIComponent(element)}`, patch),
  archiveElement: (draft: string, element: string) =>
    call<Draft>("DELETE", `/api/v1/drafts/${encodeURIComponent(draft)}/elements/${encodeURIComponent(element)}`),
  restoreElement: (draft: string, element: string, position: number | null) =>
    call<DraftElement>("POST", `/api/v1/drafts/${encodeURIComponent(draft)}/elements/${encodeURIComponent(element)}/restore`, { position }),

  // ---- history (every role that sees the draft)
  history: (draft: string, filters: HistoryFilters, cursor: string | null, limit = 100) =>
    call<HistoryPage>("GET", `/api/v1/drafts/${encodeURIComponent(draft)}/history${query({ ...filters, cursor, limit })}`),
  historyPeople: (draft: string) => call<{ people: Person[] }>("GET", `/api/v1/drafts/${encodeURIComponent(draft)}/history/people`),
  versions: (draft: string) => call<{ versions: NamedVersion[]; server_time: string }>("GET", `/api/v1/drafts/${encodeURIComponent(draft)}/versions`),
  /** The address of an export of the draft at a version (a download). */
  exportUrl: (draft: string, format: "md" | "html" | "akn" | "compilation-md" | "compilation-html", choice: VersionChoice) =>
    `/api/v1/drafts/${encodeURIComponent(draft)}/export${query({ format, version: choice.version, at: choice.at })}`,
  read: (draft: string, choice: VersionChoice) =>
    call<Reading>("GET", `/api/v1/drafts/${encodeURIComponent(draft)}/read${query({ version: choice.version, at: choice.at })}`),
  /** `from`/`to`: "now", "name:NAME" or "at:ISO". */
  compare: (draft: string, from: string, to: string) =>
    call<Comparison>("GET", `/api/v1/drafts/${encodeURIComponent(draft)}/compare${query({ from, to, granularity: "word" })}`),
  attribution: (draft: string, element: string, choice: VersionChoice) =>
    call<Attribution>(
      "GET",
      `/api/v1/drafts/${encodeURIComponent(draft)}/elements/${encodeURIComponent(element)}/attribution${query({ version: choice.version, at: choice.at })}`,
    ),
};

export { normalisePresent };
