// One open draft: its index document (title, preamble, elements, the
// server's consensus projection), one handle per element document, who is
// present (from the server), others' cursors, server notices, and whether
// the server has stored every local change.

import * as A from "@automerge/automerge/slim";
import { encodeHeads, parseAutomergeUrl, type DocHandle, type PeerId } from "@automerge/automerge-repo/slim";
import { api, ApiError, normalisePresent, type ConsensusElement, type Draft, type DraftState, type ElementStatus, type Entity, type Present, type Stance, type User } from "../lib/api";
import { STANCE_LABEL } from "../lib/format";
import { textHash } from "../lib/hash";
import { Signal } from "../lib/signal";
import { EMPTY_NEGOTIATION, readNegotiation, type LiveNegotiation } from "./amendments";
import type { SyncClient } from "./sync";

export interface IndexEntry {
  id: string;
  label: string;
  doc: string;
}

export interface IndexView {
  title: string;
  preamble: string;
  elements: IndexEntry[];
  consensus: Record<string, ConsensusElement>;
  /** The draft's consensus state (null until the projection is synced). */
  state: DraftState | null;
  /** The progress in a sentence, as the server words it (null until the
   * projection carrying it is synced). */
  summary: string | null;
  /** From the synced index document (not yet: from the API). */
  live: boolean;
  /** Open amendments, comment threads and editing modes, per element. */
  negotiation: LiveNegotiation;
}

export interface ElementDoc {
  text: string;
}

interface IndexDoc {
  title?: string;
  preamble?: string;
  elements?: IndexEntry[];
  consensus?: { state?: DraftState; summary?: string; adopted_at?: number | null; elements?: Record<string, ConsensusElement> };
}

export interface RemoteCursor {
  peerId: PeerId;
  from: number;
  to: number;
  at: number;
}

export type FeedbackState = "ok" | "error" | "wait";
export interface Feedback {
  state: FeedbackState;
  message: string;
  /** A position recorded: when (the server's time, ms) and on which text
   * (its confirmation holds only while neither moves on). */
  recorded?: { at: number | null; text: string };
}

const CURSOR_TTL_MS = 30_000;
/** Our cursor is repeated after this long without a cursor message (the
 * others forget a cursor after CURSOR_TTL_MS). */
const CURSOR_HEARTBEAT_MS = 10_000;
/** At most one cursor message per interval while typing; the latest wins. */
const CURSOR_THROTTLE_MS = 150;
/** A cursor of a peer the presence list does not name is kept this long. */
const CURSOR_UNLISTED_MS = 3_000;
/** After reconnecting, our cursor is sent again this much later (the
 * server relays only on documents the connection has asked for). */
const CURSOR_RESUME_MS = 1_000;
/** A click is a focus change then a selection: one message for both. */
const CURSOR_SETTLE_MS = 25;

export const isLocked = (status: ElementStatus | undefined) => status === "under_silence" || status === "adopted";

export class ElementState {
  readonly handle = new Signal<DocHandle<ElementDoc> | undefined>(undefined);
  /** The server has stored every local change of this element. */
  readonly saved = new Signal(true);
  /** The latest server notice about this element, in words. */
  readonly notice = new Signal("");
  readonly cursors = new Signal<ReadonlyMap<string, RemoteCursor>>(new Map());
  /** Bumped to draw the reader's eye to the text (it changed under them). */
  readonly attention = new Signal(0);
  readonly waiting = new Signal(false);
  /** The user's last selection in the editor (UTF-16 offsets), kept when
   * the editor loses the focus (to propose an amendment or comment on it). */
  readonly selection = new Signal<{ from: number; to: number } | null>(null);

  constructor(
    readonly id: string,
    readonly docUrl: string,
  ) {}

  text(): string | undefined {
    const handle = this.handle.value;
    if (!handle || !handle.isReady()) return undefined;
    const text = handle.doc()?.text;
    return typeof text === "string" ? text : String(text ?? "");
  }
}

export class DraftSession {
  readonly index: Signal<IndexView>;
  readonly presence = new Signal<Present[]>([]);
  readonly unsaved = new Signal(0);
  /** Bumped whenever someone's cursor moves in or out of an element. */
  readonly cursorTick = new Signal(0);
  readonly entities: Entity[];
  readonly elements = new Map<string, ElementState>();
  #disposed = false;
  #cleanup: (() => void)[] = [];
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  /** Heads the server reported through the API (it stores only committed
   * changes, and never loses one): a second witness of what it holds, for
   * when no sync message has told us yet. */
  #storedHeads = new Map<string, Set<string>>();
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #myCursor: { element: string; from: number; to: number } | undefined;
  /** What the others last heard of our cursor (undefined: nothing, or left). */
  #sentCursor: { element: string; from: number; to: number } | undefined;
  #sentCursorAt = 0;
  #cursorTimer: ReturnType<typeof setTimeout> | undefined;
  /** Live presence messages seen; an API answer older than one is stale. */
  #presenceSeq = 0;

  constructor(
    readonly draft: Draft,
    readonly user: User,
    readonly sync: SyncClient,
  ) {
    this.entities = draft.entities;
    this.index = new Signal<IndexView>({
      title: draft.title,
      preamble: draft.preamble,
      elements: draft.elements.map((e) => ({ id: e.id, label: e.label, doc: e.doc_url })),
      consensus: {},
      state: null,
      summary: null,
      live: false,
      negotiation: {
        ...EMPTY_NEGOTIATION,
        modes: Object.fromEntries(draft.elements.map((e) => [e.id, e.mode === "amendments" ? "amendments" : "open"])),
      },
    });
    for (const e of this.index.value.elements) this.#element(e);
    this.#noteStoredHeads(draft);
  }

  #noteStoredHeads(draft: Draft) {
    for (const e of draft.elements) {
      const set = this.#storedHeads.get(e.id) ?? new Set<string>();
      for (const h of encodeHeads(e.heads)) set.add(h);
      this.#storedHeads.set(e.id, set);
    }
  }

  /** While something stays unsaved on a live connection, ask the API what
   * the server has stored (a sync acknowledgement can be late or missing). */
  #schedulePoll() {
    if (this.#pollTimer !== undefined || this.#disposed) return;
    this.#pollTimer = setTimeout(async () => {
      try {
        if (this.unsaved.value > 0 && this.sync.connection.value === "connected") {
          this.#noteStoredHeads(await api.draft(this.draft.id));
        }
      } catch {
        // try again later
      } finally {
        this.#pollTimer = undefined;
        this.#checkSaved();
      }
    }, 3000);
  }

  start() {
    void this.#openIndex();
    void this.#refreshPresence();
    this.#cleanup.push(
      this.sync.connection.subscribe((state) => {
        this.#scheduleSaveCheck();
        if (state === "connected") {
          void this.#refreshPresence();
          // A server without the live feed: ask again once this connection's
          // documents are registered (the feed, when it speaks, wins).
          const seq = this.#presenceSeq;
          setTimeout(() => {
            if (!this.#disposed && seq === this.#presenceSeq) void this.#refreshPresence();
          }, 1500);
          // Back online: the others forgot our cursor when we left; tell
          // them once the server has our documents again (unless a move
          // has told them since).
          this.#sentCursor = undefined;
          setTimeout(() => {
            if (!this.#disposed && this.#sentCursor === undefined) this.#scheduleCursor();
          }, CURSOR_RESUME_MS);
        }
      }),
      this.sync.serverStorageId.subscribe(() => this.#scheduleSaveCheck()),
    );
    const sweep = setInterval(() => this.#sweepCursors(), 5000);
    const heartbeat = setInterval(() => {
      if (Date.now() - this.#sentCursorAt >= CURSOR_HEARTBEAT_MS) this.#sendMyCursor();
    }, CURSOR_HEARTBEAT_MS / 4);
    // Closing the tab or going to another page: the others hear it at once
    // (the server's presence change follows when the socket closes).
    const leave = () => {
      const mine = this.#myCursor;
      if (mine) this.#broadcastCursor(mine.element, null);
    };
    window.addEventListener("pagehide", leave);
    this.#cleanup.push(
      () => clearInterval(sweep),
      () => clearInterval(heartbeat),
      () => window.removeEventListener("pagehide", leave),
    );
  }

  dispose() {
    this.#disposed = true;
    for (const f of this.#cleanup) f();
    this.#cleanup = [];
    clearTimeout(this.#saveTimer);
    clearTimeout(this.#pollTimer);
    clearTimeout(this.#cursorTimer);
  }

  /** An element's state, created (and its document opened) on first use. */
  #element(entry: IndexEntry): ElementState {
    let state = this.elements.get(entry.id);
    if (!state) {
      state = new ElementState(entry.id, entry.doc);
      this.elements.set(entry.id, state);
      void this.#openElement(state);
    }
    return state;
  }

  element(id: string): ElementState | undefined {
    return this.elements.get(id);
  }

  /** Finds a document, tolerating a slow first sync: "unavailable" is not
   * final (the server may answer once connected), so wait for "ready". */
  async #ready<T>(url: string, onHandle?: (handle: DocHandle<T>) => void): Promise<DocHandle<T> | undefined> {
    for (let attempt = 0; !this.#disposed; attempt++) {
      try {
        const found = this.sync.repo.find<T>(url as never, { allowableStates: ["ready", "unavailable"] });
        if (onHandle) {
          // Listen from the start: the server's ephemeral messages (presence)
          // can arrive before the document is ready. find() has put the
          // handle in the repo's cache synchronously.
          const early = this.sync.repo.handles[parseAutomergeUrl(url as never).documentId] as DocHandle<T> | undefined;
          if (early) {
            onHandle(early);
            onHandle = undefined;
          }
        }
        const handle = await found;
        while (!this.#disposed && !handle.isReady()) {
          try {
            await handle.whenReady(["ready"]);
          } catch {
            // timed out: keep waiting, the server may still send it
          }
        }
        return this.#disposed ? undefined : handle;
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)));
      }
    }
    return undefined;
  }

  async #openIndex() {
    const onMessage = ({ senderId, message }: { senderId: PeerId; message: unknown }) => {
      const m = message as Record<string, unknown> | null;
      if (!m || m.draftId !== this.draft.id) return;
      if (m.type !== "accord-presence" && m.type !== "accord-presence-change") return;
      // Presence identity comes from the server only.
      if (senderId !== this.sync.serverPeerId) return;
      this.#presenceMessage(m);
    };
    const handle = await this.#ready<IndexDoc>(this.draft.index_url, (early) => {
      early.on("ephemeral-message", onMessage);
      this.#cleanup.push(() => early.off("ephemeral-message", onMessage));
    });
    if (!handle) return;
    const onChange = () => this.#readIndex(handle);
    handle.on("change", onChange);
    this.#cleanup.push(() => handle.off("change", onChange));
    this.#readIndex(handle);
  }

  /** The server's presence feed: the full list when this connection starts
   * syncing the index document (`accord-presence`), then changes keyed by
   * peer id (`accord-presence-change`: `upsert` new or changed entries,
   * `left` peer ids gone), in order. */
  #presenceMessage(m: Record<string, unknown>) {
    this.#presenceSeq++;
    const entries = (list: unknown) =>
      Array.isArray(list) ? list.filter((p) => p && typeof p === "object").map((p) => normalisePresent(p as Record<string, unknown>)) : [];
    if (m.type === "accord-presence") {
      this.presence.set(entries(m.present));
    } else {
      const left = Array.isArray(m.left) ? m.left.map(String) : [];
      const upsert = entries(m.upsert).filter((p) => p.peerId);
      if (left.length === 0 && upsert.length === 0) return;
      const byPeer = new Map(this.presence.value.map((p) => [p.peerId, p]));
      // Gone first: a peer id that left and came back (a reloaded tab) is
      // present with its new entry.
      for (const peer of left) byPeer.delete(peer);
      for (const p of upsert) byPeer.set(p.peerId, p); // a changed entry keeps its place
      this.presence.set([...byPeer.values()]);
      // Cursors of peers that left go at once.
      this.#dropCursors(new Set(left.filter((peer) => !byPeer.has(peer))));
    }
    this.#sweepCursors();
  }

  #readIndex(handle: DocHandle<IndexDoc>) {
    if (!handle.isReady()) return;
    const doc = A.toJS(handle.doc()) as IndexDoc;
    const previous = this.index.value;
    const elements = Array.isArray(doc.elements)
      ? doc.elements.map((e) => ({ id: String(e.id ?? ""), label: String(e.label ?? ""), doc: String(e.doc ?? "") }))
      : [];
    const sameElements =
      elements.length === previous.elements.length &&
      elements.every((e, i) => e.id === previous.elements[i].id && e.label === previous.elements[i].label && e.doc === previous.elements[i].doc);
    const consensusIn = doc.consensus?.elements ?? {};
    const consensus: Record<string, ConsensusElement> = {};
    for (const [id, value] of Object.entries(consensusIn)) {
      const before = previous.consensus[id];
      consensus[id] = before && JSON.stringify(before) === JSON.stringify(value) ? before : value;
    }
    for (const e of elements) this.#element(e);
    const read = readNegotiation(doc as Record<string, unknown>);
    // A server that does not project modes yet: keep those from the API.
    const negotiation = doc && "modes" in (doc as object) ? read : { ...read, modes: previous.negotiation.modes };
    this.index.set({
      title: String(doc.title ?? ""),
      preamble: String(doc.preamble ?? ""),
      elements: sameElements ? previous.elements : elements,
      consensus,
      state: doc.consensus?.state ?? null,
      summary: typeof doc.consensus?.summary === "string" ? doc.consensus.summary : null,
      live: true,
      negotiation: JSON.stringify(negotiation) === JSON.stringify(previous.negotiation) ? previous.negotiation : negotiation,
    });
    this.#scheduleSaveCheck();
  }

  async #openElement(state: ElementState) {
    state.waiting.set(true);
    const onHeads = () => this.#scheduleSaveCheck();
    const onMessage = ({ senderId, message }: { senderId: PeerId; message: unknown }) =>
      this.#elementMessage(state, senderId, message);
    const handle = await this.#ready<ElementDoc>(state.docUrl, (early) => {
      early.on("ephemeral-message", onMessage);
      this.#cleanup.push(() => early.off("ephemeral-message", onMessage));
    });
    state.waiting.set(false);
    if (!handle) return;
    handle.on("heads-changed", onHeads);
    handle.on("remote-heads", onHeads);
    this.#cleanup.push(() => {
      handle.off("heads-changed", onHeads);
      handle.off("remote-heads", onHeads);
    });
    await this.#restoreSyncInfo(handle);
    state.handle.set(handle);
    this.#scheduleSaveCheck();
  }

  /** Started offline, the repo has not heard the server yet: what it last
   * knew the server had is in the stored sync state. */
  async #restoreSyncInfo(handle: DocHandle<ElementDoc>) {
    const storageId = this.sync.serverStorageId.value;
    const storage = this.sync.repo.storageSubsystem;
    if (!storageId || !storage || handle.getSyncInfo(storageId)) return;
    try {
      const syncState = await storage.loadSyncState(handle.documentId, storageId);
      const heads = syncState?.sharedHeads;
      if (heads && heads.length > 0 && !handle.getSyncInfo(storageId)) {
        handle.setSyncInfo(storageId, { lastHeads: encodeHeads(heads), lastSyncTimestamp: 0 });
      }
    } catch {
      // nothing stored
    }
  }

  #elementMessage(state: ElementState, senderId: PeerId, message: unknown) {
    const m = message as Record<string, unknown> | null;
    if (!m || typeof m !== "object") return;
    if (m.type === "accord-notice") {
      if (senderId !== this.sync.serverPeerId) return; // only the server's own notices
      const text = typeof m.message === "string" && m.message ? m.message : `The server refused your change (${String(m.code ?? "refused")}).`;
      state.notice.set(text);
      return;
    }
    if (m.type === "cursor") {
      if (senderId === this.sync.repo.peerId || senderId === this.sync.serverPeerId) return;
      const next = new Map(state.cursors.value);
      const from = Number(m.from);
      const to = Number(m.to);
      const placed = !(m.from == null || !Number.isFinite(from) || !Number.isFinite(to) || from < 0 || to < 0);
      if (placed) next.set(senderId, { peerId: senderId, from: Math.floor(from), to: Math.floor(to), at: Date.now() });
      else next.delete(senderId);
      let moved = next.has(senderId) !== state.cursors.value.has(senderId);
      state.cursors.set(next);
      // One cursor per peer: placed here, it is no longer anywhere else
      // (should the element it left not have heard so).
      if (placed) {
        for (const other of this.elements.values()) {
          if (other === state || !other.cursors.value.has(senderId)) continue;
          const rest = new Map(other.cursors.value);
          rest.delete(senderId);
          other.cursors.set(rest);
          moved = true;
        }
      }
      if (moved) this.cursorTick.set(this.cursorTick.value + 1);
    }
  }

  /** Forgets cursors not heard of for CURSOR_TTL_MS, and those of peers
   * the presence list does not name (after a grace period: a peer's first
   * cursor can come before the presence entry of its connection). */
  #sweepCursors() {
    const now = Date.now();
    const present = new Set(this.presence.value.map((p) => p.peerId));
    this.#filterCursors((peer, c) => now - c.at < CURSOR_TTL_MS && (present.has(peer) || now - c.at < CURSOR_UNLISTED_MS));
  }

  #dropCursors(peers: Set<string>) {
    if (peers.size > 0) this.#filterCursors((peer) => !peers.has(peer));
  }

  #filterCursors(keep: (peer: string, cursor: RemoteCursor) => boolean) {
    let changed = false;
    for (const state of this.elements.values()) {
      const cursors = state.cursors.value;
      if (cursors.size === 0) continue;
      const next = new Map([...cursors].filter(([peer, c]) => keep(peer, c)));
      if (next.size !== cursors.size) {
        state.cursors.set(next);
        changed = true;
      }
    }
    if (changed) this.cursorTick.set(this.cursorTick.value + 1);
  }

  /** Tells the others where this user's cursor is (null: left the
   * element). One message per document per move: leaving an element sends
   * `{from: null}` there at once, before anything about the next one; the
   * position goes out after CURSOR_SETTLE_MS (a click's focus and selection
   * are one move), then at most once per CURSOR_THROTTLE_MS. */
  setMyCursor(element: string, range: { from: number; to: number } | null) {
    const before = this.#myCursor;
    if (range) {
      if (before && before.element !== element) this.#leaveCursor(before.element);
      this.#myCursor = { element, from: range.from, to: range.to };
      this.#scheduleCursor();
    } else if (before && before.element === element) {
      this.#myCursor = undefined;
      this.#leaveCursor(element);
    }
  }

  /** `{from: null}` on `element`, if the others last heard us there. */
  #leaveCursor(element: string) {
    if (this.#sentCursor?.element !== element) return;
    this.#broadcastCursor(element, null);
  }

  #scheduleCursor() {
    if (this.#cursorTimer !== undefined || !this.#myCursor) return;
    const wait = Math.max(CURSOR_SETTLE_MS, this.#sentCursorAt + CURSOR_THROTTLE_MS - Date.now());
    this.#cursorTimer = setTimeout(() => {
      this.#cursorTimer = undefined;
      const mine = this.#myCursor;
      const sent = this.#sentCursor;
      if (!mine || (sent && sent.element === mine.element && sent.from === mine.from && sent.to === mine.to)) return;
      this.#sendMyCursor();
    }, wait);
  }

  #sendMyCursor() {
    const mine = this.#myCursor;
    if (mine) this.#broadcastCursor(mine.element, mine);
  }

  #broadcastCursor(element: string, range: { from: number; to: number } | null) {
    const handle = this.elements.get(element)?.handle.value;
    if (!handle || this.sync.connection.value !== "connected") return;
    try {
      handle.broadcast(range ? { type: "cursor", from: range.from, to: range.to } : { type: "cursor", from: null, to: null });
      this.#sentCursor = range ? { element, from: range.from, to: range.to } : undefined;
      this.#sentCursorAt = Date.now();
    } catch {
      // the socket is closing: the next heartbeat tells them
    }
  }

  #scheduleSaveCheck() {
    if (this.#saveTimer !== undefined) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#checkSaved();
    }, 50);
  }

  /** An element is saved when the server's heads (its storage id's sync
   * info) include every local head. */
  isSaved(state: ElementState): boolean {
    const handle = state.handle.value;
    if (!handle || !handle.isReady()) return true; // nothing local to save
    const storageId = this.sync.serverStorageId.value;
    const server = storageId ? handle.getSyncInfo(storageId)?.lastHeads : undefined;
    const stored = this.#storedHeads.get(state.id);
    const local = handle.heads();
    const have = new Set(server ?? []);
    return local.every((h) => have.has(h) || stored?.has(h));
  }

  #checkSaved() {
    let unsaved = 0;
    const listed = new Set(this.index.value.elements.map((e) => e.id));
    for (const state of this.elements.values()) {
      const saved = this.isSaved(state);
      state.saved.set(saved);
      if (!saved && listed.has(state.id)) unsaved++;
    }
    this.unsaved.set(unsaved);
    if (unsaved > 0 && this.sync.connection.value === "connected") this.#schedulePoll();
  }

  /** Waits until every element is saved; false after `timeoutMs`. */
  whenAllSaved(timeoutMs: number): Promise<boolean> {
    this.#checkSaved();
    if (this.unsaved.value === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        unsubscribe();
        resolve(false);
      }, timeoutMs);
      const unsubscribe = this.unsaved.subscribe((n) => {
        if (n === 0) {
          clearTimeout(timer);
          unsubscribe();
          resolve(true);
        }
      });
    });
  }

  /** The presence list from the API, until the live feed has spoken (its
   * full list and changes are newer than an answer asked for before them). */
  async #refreshPresence() {
    const seq = this.#presenceSeq;
    try {
      const present = await api.presence(this.draft.id);
      // Disconnected, the server no longer counts us: keep the last list.
      if (!this.#disposed && seq === this.#presenceSeq && this.sync.connection.value === "connected") {
        this.presence.set(present);
        this.#sweepCursors();
      }
    } catch {
      // the feed will tell us
    }
  }

  /** Records this delegate's entity's position on the text on screen. */
  async submitPosition(elementId: string, stance: Stance, note: string, wording: string): Promise<Feedback> {
    const entity = this.user.entity;
    if (this.user.role !== "delegate" || !entity) return { state: "error", message: "Only delegates record positions." };
    const noteText = note.trim();
    if (stance === "reservation" && !noteText) return { state: "error", message: "A reservation needs a note: write what you place on record." };
    if (stance === "object" && !noteText) return { state: "error", message: "An objection needs a reason: write why you object." };
    const state = this.elements.get(elementId);
    const handle = state?.handle.value;
    if (!state || !handle || !handle.isReady()) return { state: "wait", message: "The text is still loading. Wait a moment and send again." };
    if (this.sync.connection.value !== "connected") {
      return { state: "wait", message: "You are offline. Your position can be recorded once you are connected and your edits are saved." };
    }
    if (!this.isSaved(state)) {
      return { state: "wait", message: "Your latest edits to this element are not saved yet. Wait until it says “All changes saved”, then send again." };
    }
    const doc = handle.doc();
    const text = String(doc.text ?? "");
    const heads = A.getHeads(doc);
    const hash = await textHash(text);
    try {
      const result = await api.putPosition(this.draft.id, elementId, entity, {
        position: stance,
        note: noteText || null,
        wording: stance === "object" && wording.trim() ? wording.trim() : null,
        text_hash: hash,
        heads,
      });
      const label = STANCE_LABEL[stance];
      const at = result.position?.at ? Date.parse(result.position.at) : NaN;
      return {
        state: "ok",
        message: result.silence_broken ? `Recorded: ${label}. Your objection broke the silence procedure.` : `Recorded: ${label}, on the text as shown.`,
        recorded: { at: Number.isFinite(at) ? at : null, text },
      };
    } catch (e) {
      if (e instanceof ApiError) {
        if (e.code === "text_changed") {
          state.attention.set(state.attention.value + 1);
          return {
            state: "error",
            message: "The text changed since you read it, so nothing was recorded. Read the new text (highlighted above), then send your position again.",
          };
        }
        if (e.code === "not_synced") {
          return { state: "wait", message: "The server has not stored your latest edits yet, so nothing was recorded. Wait a moment and send again." };
        }
        return { state: "error", message: e.message };
      }
      return { state: "error", message: String(e) };
    }
  }
}
