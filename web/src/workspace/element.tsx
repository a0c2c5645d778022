// One key element: label, status, live editor, notices, the entities'
// positions, and (for delegates) the position controls.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { DocHandle } from "@automerge/automerge-repo/slim";
import { api, ApiError, type ConsensusElement, type DiffPiece, type ElementStatus, type Entity, type Present, type ProjectedPosition, type Stance } from "../lib/api";
import { colourOf } from "../lib/colours";
import { ModeSwitch, ProposeAmendment, useAmendments } from "./amendments";
import { Comments } from "./comments";
import { CELL_SYMBOL, CELL_WORDS, STANCE_LABEL, cellPosition, cellTitle, countWords, plural, statusWords, type CellPosition } from "../lib/format";
import { Signal, useSignal } from "../lib/signal";
import { isoMs, utc } from "../lib/time";
import { AmendmentList } from "../board/amendments";
import { Palette } from "../lib/colours";
import { ElementEditor, type AmendmentMark, type CursorMark } from "../live/editor";
import { isLocked, type DraftSession, type ElementDoc, type ElementState, type Feedback, type IndexEntry } from "../live/model";

/** Who is in an element: those whose cursor is in it, and connections that
 * sync only some elements (a client that opened just this one). */
export function usersIn(
  element: string,
  state: ElementState | undefined,
  cursors: ReadonlyMap<string, unknown>,
  presence: Present[],
  elementCount: number,
  myPeerId: string,
): Present[] {
  const seen = new Set<string>();
  const out: Present[] = [];
  for (const p of presence) {
    if (p.peerId === myPeerId || seen.has(p.userId)) continue;
    const partial = p.elements.length > 0 && p.elements.length < elementCount && p.elements.includes(element);
    if ((state && cursors.has(p.peerId)) || partial) {
      seen.add(p.userId);
      out.push(p);
    }
  }
  return out;
}

function EditorHost(props: {
  session: DraftSession;
  state: ElementState;
  label: string;
  readOnly: boolean;
  /** Read-only, but the user selects passages to amend. */
  selectable: boolean;
  fallbackText: string;
  presence: Present[];
  amendments: AmendmentMark[];
}) {
  const { session, state, label, readOnly, selectable, presence, amendments } = props;
  const handle = useSignal(state.handle);
  const cursors = useSignal(state.cursors);
  const attention = useSignal(state.attention);
  const mount = useRef<HTMLDivElement>(null);
  const editor = useRef<ElementEditor | undefined>(undefined);

  useEffect(() => {
    if (!handle || !mount.current) return;
    const ed = new ElementEditor(mount.current, {
      handle,
      label,
      readOnly,
      selectable,
      onSelection: (range) => {
        session.setMyCursor(state.id, range);
        if (range) state.selection.set(range);
      },
    });
    editor.current = ed;
    return () => {
      session.setMyCursor(state.id, null);
      ed.destroy();
      editor.current = undefined;
    };
    // the editor is made once per handle; the rest is updated below
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [handle]);

  useEffect(() => editor.current?.setReadOnly(readOnly, selectable), [readOnly, selectable, handle]);
  useEffect(() => editor.current?.setAmendments(amendments), [amendments, handle]);
  useEffect(() => editor.current?.setLabel(label), [label, handle]);

  useEffect(() => {
    const byPeer = new Map(presence.map((p) => [p.peerId, p]));
    const marks: CursorMark[] = [];
    for (const c of cursors.values()) {
      const who = byPeer.get(c.peerId); // names only from the server's presence
      if (!who) continue;
      marks.push({ from: c.from, to: c.to, name: who.entity ? `${who.name} (${who.entity})` : who.name, colour: colourOf(who.userId) });
    }
    editor.current?.setCursors(marks);
  }, [cursors, presence, handle]);

  useEffect(() => {
    if (attention > 0) {
      editor.current?.flash();
      mount.current?.scrollIntoView({ block: "nearest", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    }
  }, [attention]);

  return (
    <div class={`editor${readOnly ? " editor-readonly" : ""}`} data-testid="element-editor" data-readonly={String(readOnly)}>
      {!handle && (
        <div class="editor-loading">
          <p class="editor-fallback">{props.fallbackText}</p>
          <p class="muted">Connecting to the live text…</p>
        </div>
      )}
      <div ref={mount} class="editor-mount" />
    </div>
  );
}

function PositionsStrip(props: { entities: Entity[]; consensus: ConsensusElement | undefined; label: string; mine: string | null }) {
  const positions = props.consensus?.positions ?? {};
  return (
    <ul class="strip" data-testid="positions-strip" aria-label={`Positions of the entities on ${props.label}`}>
      {props.entities.map((e) => {
        const p = positions[e.code];
        const pos = cellPosition(p);
        return (
          <li
            key={e.code}
            class={`cell cell-${pos}${e.code === props.mine ? " cell-mine" : ""}`}
            data-testid="position-cell"
            data-entity={e.code}
            data-position={pos}
            title={cellTitle(e.code, e.name, p)}
          >
            <span class="cell-code">{e.code}</span>
            <span class="cell-symbol" aria-hidden="true">
              {CELL_SYMBOL[pos]}
            </span>
            <span class="visually-hidden">: {CELL_WORDS[pos]}</span>
          </li>
        );
      })}
    </ul>
  );
}

const COUNT_ORDER: CellPosition[] = ["support", "support_ad_ref", "reservation", "abstain", "object", "stale", "none"];

/** Objections first, then reservations, then the rest; stale after current. */
function commentRank(p: ProjectedPosition): number {
  const stance = p.position === "object" ? 0 : p.position === "reservation" ? 1 : 2;
  return (p.standing === "stale" ? 3 : 0) + stance;
}

/** The strip in words: how many entities hold each position (singular or
 * plural), and the positions that carry words — reasons, notes, proposed
 * wordings — in a list behind one disclosure, readable without hovering
 * (touch screens have no hover) and reachable by keyboard. */
function PositionsSummary(props: { entities: Entity[]; consensus: ConsensusElement | undefined; label: string; mine: string | null }) {
  const positions = props.consensus?.positions ?? {};
  const counts = new Map<CellPosition, number>();
  for (const e of props.entities) {
    const pos = cellPosition(positions[e.code]);
    counts.set(pos, (counts.get(pos) ?? 0) + 1);
  }
  const worded = props.entities
    .map((e) => ({ entity: e, p: positions[e.code] }))
    .filter((x): x is { entity: Entity; p: ProjectedPosition } => !!x.p && x.p.standing !== "no_response" && !!(x.p.note || x.p.wording))
    .sort((a, b) => commentRank(a.p) - commentRank(b.p));
  return (
    <>
      <p class="strip-counts" data-testid="positions-summary">
        {COUNT_ORDER.filter((pos) => (counts.get(pos) ?? 0) > 0).map((pos, i) => (
          <span key={pos} data-testid="positions-count" data-position={pos}>
            {i > 0 ? " · " : ""}
            {countWords(pos, counts.get(pos) ?? 0)}
          </span>
        ))}
      </p>
      {worded.length > 0 && (
        <details class="comments" data-testid="position-comments">
          <summary data-testid="position-comments-toggle">
            {plural(worded.length, "position with comments", "positions with comments")}
            <span class="visually-hidden"> on {props.label}</span>
          </summary>
          <ul class="comments-list">
            {worded.map(({ entity: e, p }) => {
              const stale = p.standing === "stale";
              const who = p.by_silence ? "by silence" : p.user_name ? `by ${p.user_name}` : "";
              return (
                <li
                  key={e.code}
                  class={`comment${stale ? " comment-stale" : ""}${e.code === props.mine ? " comment-mine" : ""}`}
                  data-testid="position-comment"
                  data-entity={e.code}
                  data-position={p.position}
                  data-standing={p.standing}
                >
                  <p class="comment-head">
                    <strong>{e.code}</strong>
                    {e.name && e.name !== e.code ? <span class="muted"> ({e.name})</span> : null}
                    {" — "}
                    <span class={`cell cell-${stale ? "stale" : p.position}`}>
                      <span aria-hidden="true">{CELL_SYMBOL[stale ? "stale" : p.position]} </span>
                      {STANCE_LABEL[p.position]}
                    </span>{" "}
                    <span class="comment-standing" data-testid="comment-standing">
                      {stale ? "given on an earlier text (stale)" : "current"}
                    </span>
                  </p>
                  {p.note && (
                    <p class="comment-text">
                      <span class="comment-key">{p.position === "object" ? "Reason" : "Note"}:</span> {p.note}
                    </p>
                  )}
                  {p.wording && (
                    <p class="comment-text">
                      <span class="comment-key">Proposed wording:</span> <q class="comment-wording">{p.wording}</q>
                    </p>
                  )}
                  {(who || p.at) && <p class="comment-when muted">{[who, utc(p.at)].filter(Boolean).join(", ")}</p>}
                </li>
              );
            })}
          </ul>
        </details>
      )}
    </>
  );
}

/** One piece of a comparison: kept, inserted or deleted text. Insertions
 * are underlined and deletions struck through (not colour alone), and a
 * screen reader hears where each starts and ends (CSS of `.diff-text`). */
function DiffPieceView(props: { piece: DiffPiece }) {
  const p = props.piece;
  if (p.op === "equal") return <span data-testid="diff-equal">{p.text}</span>;
  const who = p.user_name ? `${p.user_name}${p.entity ? ` (${p.entity})` : ""}` : p.entity ?? "";
  return p.op === "insert" ? (
    <ins data-testid="diff-insert" data-entity={p.entity ?? ""} title={who ? `Inserted by ${who}` : "Inserted"}>
      {p.text}
    </ins>
  ) : (
    <del data-testid="diff-delete" data-entity={p.entity ?? ""} title={who ? `Deleted by ${who}` : "Deleted"}>
      {p.text}
    </del>
  );
}

/** What changed in an element's text since `since` (ms, the time a
 * position was given): the server's comparison of the text then with the
 * text now, word by word, fetched again when the text moves on (once the
 * server has stored it). */
function ChangesSince(props: { session: DraftSession; state: ElementState; since: number }) {
  const { session, state, since } = props;
  const handle = useSignal(state.handle);
  const saved = useSignal(state.saved);
  const [pieces, setPieces] = useState<DiffPiece[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    if (!handle) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onChange = () => {
      clearTimeout(timer);
      timer = setTimeout(() => setTick((t) => t + 1), 600);
    };
    handle.on("change", onChange);
    return () => {
      handle.off("change", onChange);
      clearTimeout(timer);
    };
  }, [handle]);

  useEffect(() => {
    if (!saved) return; // the server compares what it has stored
    let live = true;
    api.compare(session.draft.id, `at:${isoMs(since)}`, "now").then(
      (c) => {
        if (!live) return;
        setPieces(c.elements.find((e) => e.id === state.id)?.diff ?? []);
        setError(null);
      },
      (e) => {
        if (live) setError(e instanceof ApiError ? e.message : String(e));
      },
    );
    return () => {
      live = false;
    };
  }, [session, state.id, since, saved, tick]);

  const changed = pieces?.some((p) => p.op !== "equal") ?? false;
  return (
    <div class="stale-diff" data-testid="stale-diff" data-since={isoMs(since)} data-state={error ? "error" : pieces ? "ready" : "loading"}>
      {error ? (
        <p class="feedback feedback-error">
          The changes could not be shown: {error}{" "}
          <button type="button" class="link" onClick={() => setTick((t) => t + 1)}>
            Try again
          </button>
        </p>
      ) : !pieces ? (
        <p class="muted">Finding what changed…</p>
      ) : changed ? (
        <>
          <p class="diff-text stale-diff-text" data-testid="stale-diff-text">
            {pieces.map((p, i) => (
              <DiffPieceView key={i} piece={p} />
            ))}
          </p>
          <p class="stale-diff-key muted">
            <ins>Underlined</ins>: inserted since then. <del>Struck through</del>: deleted since then.
          </p>
        </>
      ) : (
        <p class="muted">No difference shows: the text changed just as the position was recorded. Read the text above before you confirm.</p>
      )}
    </div>
  );
}

function LockIcon() {
  return (
    <svg class="icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      <path d="M4.5 7V5a3.5 3.5 0 0 1 7 0v2" fill="none" stroke="currentColor" stroke-width="1.8" />
      <rect x="2.5" y="7" width="11" height="8" rx="1.5" fill="currentColor" />
    </svg>
  );
}

const STANCES: Stance[] = ["support", "support_ad_ref", "reservation", "abstain", "object"];

/** How long "Recorded: …" stays, at most. */
const CONFIRMATION_MS = 15_000;
const NO_HANDLE = new Signal<DocHandle<ElementDoc> | undefined>(undefined);

function PositionControls(props: {
  session: DraftSession;
  element: IndexEntry;
  consensus: ConsensusElement | undefined;
  entity: string;
}) {
  const { session, element, consensus, entity } = props;
  const [choice, setChoice] = useState<Stance | null>(null);
  const [note, setNote] = useState("");
  const [wording, setWording] = useState("");
  const [busy, setBusy] = useState(false);
  const [feedback, setFeedback] = useState<Feedback | null>(null);
  const mine = consensus?.positions?.[entity];
  const stale = mine?.standing === "stale";
  const adopted = consensus?.status === "adopted";
  const status = consensus?.status;
  const needsNote = choice === "reservation" || choice === "object";
  const state = session.element(element.id);
  const handle = useSignal(state?.handle ?? NO_HANDLE);
  /** What a confirmation ("Recorded: …") stands for: the position's time,
   * the text it was given on, and the element's status once the
   * projection shows it (undefined until then). */
  const recorded = useRef<{ at: number | null; text: string; status?: ElementStatus } | null>(null);
  const clearConfirmation = () => setFeedback((f) => (f?.state === "ok" ? null : f));

  // A confirmation is news, not a state: it goes after a while ...
  useEffect(() => {
    if (feedback?.state !== "ok") return;
    const timer = setTimeout(() => setFeedback((f) => (f === feedback ? null : f)), CONFIRMATION_MS);
    return () => clearTimeout(timer);
  }, [feedback]);

  // ... and at once when the element moves on: the position went stale, a
  // newer position of this entity replaced it (another delegate, or a
  // silence), the element's status changed (adopted, objected, …).
  useEffect(() => {
    const r = recorded.current;
    if (feedback?.state !== "ok" || !r) return;
    const at = mine?.at ?? null;
    if (status === "adopted") return clearConfirmation();
    // Until the projection shows the recorded position, what it shows is older.
    if (r.at == null || at == null || at < r.at) return;
    if (at > r.at || stale) return clearConfirmation();
    if (r.status === undefined) r.status = status;
    else if (status !== r.status) clearConfirmation();
  }, [feedback, mine?.at, stale, status]);

  // ... or the text changed (anyone's edit, before the server says stale).
  useEffect(() => {
    const r = recorded.current;
    if (feedback?.state !== "ok" || !r || !handle) return;
    const check = () => {
      if (!handle.isReady()) return;
      const text = handle.doc()?.text;
      if (String(text ?? "") !== r.text) clearConfirmation();
    };
    check();
    handle.on("change", check);
    return () => handle.off("change", check);
  }, [feedback, handle]);
  const idBase = `pos-${element.id}`;

  const submit = async () => {
    if (!choice || busy) return;
    setBusy(true);
    setFeedback({ state: "wait", message: "Sending…" });
    const result = await session.submitPosition(element.id, choice, needsNote ? note : "", choice === "object" ? wording : "");
    recorded.current = result.state === "ok" && result.recorded ? { ...result.recorded } : null;
    setFeedback(result);
    setBusy(false);
    if (result.state === "ok") {
      setChoice(null);
      setNote("");
      setWording("");
    }
  };

  return (
    <div class="controls" data-testid="position-controls" role="group" aria-labelledby={`${idBase}-h`}>
      <h3 id={`${idBase}-h`} class="controls-title">
        Position of {entity} on {element.label}
      </h3>
      <p class={`own${stale ? " own-stale" : ""}`} data-testid="own-position" data-stale={String(stale)}>
        {!mine || mine.standing === "no_response" ? (
          <>{entity} has not stated a position on this element yet.</>
        ) : stale && mine.position === "object" ? (
          <>
            <strong>Your objection was given on an earlier text</strong>
            {mine.at ? ` (${utc(mine.at)})` : ""} and no longer counts: someone changed the text since. Here is what changed — object
            again or change your position.
          </>
        ) : stale ? (
          <>
            <strong>Please reconfirm:</strong> {entity}’s position ({STANCE_LABEL[mine.position]}) was given on an earlier text
            {mine.at ? ` (${utc(mine.at)})` : ""} and no longer counts. Here is what changed since then.
          </>
        ) : (
          <>
            Current: <strong>{STANCE_LABEL[mine.position]}</strong>
            {mine.by_silence ? " (by silence)" : mine.user_name ? ` by ${mine.user_name}` : ""}
            {mine.at ? `, ${utc(mine.at)}` : ""}.
          </>
        )}
      </p>
      {stale && mine?.at != null && state && (
        <>
          <ChangesSince session={session} state={state} since={mine.at} />
          {mine.position === "object" && !adopted && (
            <p class="stale-again">
              {mine.note && (
                <span class="stale-reason">
                  <span class="comment-key">Your reason was:</span> {mine.note}{" "}
                </span>
              )}
              <button
                type="button"
                class="secondary compact"
                data-testid="object-again"
                onClick={() => {
                  setChoice("object");
                  setNote(mine.note ?? "");
                  setWording(mine.wording ?? "");
                  setFeedback(null);
                }}
              >
                Object again with the same reason
              </button>
            </p>
          )}
        </>
      )}
      {adopted ? (
        <p class="muted">This element is adopted: positions can change only after a chair reopens it.</p>
      ) : (
        <>
          <div class="choices" role="group" aria-label="Choose a position">
            {STANCES.map((s) => (
              <button
                key={s}
                type="button"
                class={`choice choice-${s}`}
                data-testid={`position-${s}`}
                aria-pressed={choice === s}
                onClick={() => {
                  setChoice(s);
                  setFeedback(null);
                }}
              >
                {STANCE_LABEL[s]}
              </button>
            ))}
          </div>
          {needsNote && (
            <div class="field">
              <label for={`${idBase}-note`}>
                {choice === "object" ? "Reason for the objection (required)" : "Note placed on record (required)"}
              </label>
              <textarea
                id={`${idBase}-note`}
                data-testid="position-note"
                rows={2}
                maxLength={2000}
                required
                value={note}
                onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
              />
            </div>
          )}
          {choice === "object" && (
            <div class="field">
              <label for={`${idBase}-wording`}>Proposed wording (optional)</label>
              <textarea
                id={`${idBase}-wording`}
                data-testid="position-wording"
                rows={2}
                maxLength={10000}
                value={wording}
                onInput={(e) => setWording((e.target as HTMLTextAreaElement).value)}
              />
            </div>
          )}
          <div class="submit-row">
            <button type="button" class="primary" data-testid="position-submit" disabled={!choice || busy} onClick={submit}>
              {choice ? `Record “${STANCE_LABEL[choice]}” on this text` : "Record position"}
            </button>
            {!choice && <span class="muted">Choose a position first.</span>}
          </div>
        </>
      )}
      {feedback && (
        <p class={`feedback feedback-${feedback.state}`} data-testid="position-feedback" data-state={feedback.state} role="status">
          {feedback.message}
        </p>
      )}
    </div>
  );
}

/** The id of an element's card (the outline's links jump to it). */
export const elementAnchor = (id: string) => `el-${id}`;

type CardProps = {
  session: DraftSession;
  entry: IndexEntry;
  consensus: ConsensusElement | undefined;
  fallbackText: string;
  presence: Present[];
  elementCount: number;
  canEdit: boolean;
  positionEntity: string | null;
};

export function ElementCard(props: CardProps) {
  const state = props.session.element(props.entry.id);
  return state ? <Card {...props} state={state} /> : null;
}

function Card(props: CardProps & { state: ElementState }) {
  const { session, entry, consensus, presence, state } = props;
  const notice = useSignal(state.notice);
  const cursors = useSignal(state.cursors);
  const saved = useSignal(state.saved);
  const status = consensus?.status ?? (/[[\]]/.test(props.fallbackText) ? "bracketed" : "open");
  const locked = isLocked(consensus?.status);
  const index = useSignal(session.index);
  const mode = index.negotiation.modes[entry.id] ?? "open";
  const role = session.user.role;
  const amendmentsOnly = mode === "amendments" && role === "delegate";
  const readOnly = !props.canEdit || locked || amendmentsOnly;
  const palette = useMemo(() => new Palette(session.entities), [session]);
  const { pending, marks } = useAmendments(session, entry.id, palette);
  // Delegates propose for their entity, chairs for the entity they name.
  const proposer = locked ? null : role === "delegate" && session.user.entity ? session.user.entity : role === "chair" ? "" : null;
  const here = useMemo(
    () => usersIn(entry.id, state, cursors, presence, props.elementCount, session.sync.repo.peerId),
    [entry.id, state, cursors, presence, props.elementCount, session],
  );
  const labelId = `el-${entry.id}-label`;

  return (
    <article
      id={elementAnchor(entry.id)}
      class={`element status-${status}`}
      data-testid="element"
      data-element-id={entry.id}
      data-label={entry.label}
      aria-labelledby={labelId}
    >
      <header class="element-head">
        <h2 id={labelId} class="element-label" data-testid="element-label" tabIndex={-1}>
          {entry.label}
        </h2>
        <span class={`badge badge-${status}`} data-testid="element-status" data-status={status}>
          {statusWords(consensus, status)}
        </span>
        {locked && (
          <span class="lock" title="Nobody can change this text now">
            <LockIcon />
            {consensus?.status === "adopted" ? "Locked: adopted" : "Locked during the silence procedure"}
          </span>
        )}
        {!locked && !props.canEdit && (
          <span class="lock">
            <LockIcon />
            Read only
          </span>
        )}
        {!locked && amendmentsOnly && (
          <span class="lock" data-testid="amendments-only">
            <LockIcon />
            Amendments only
          </span>
        )}
        {role === "chair" && !locked && <ModeSwitch session={session} elementId={entry.id} label={entry.label} mode={mode} />}
        {!saved && <span class="unsaved">Not saved yet</span>}
        <span class="element-presence" data-testid="element-presence" aria-live="polite">
          {here.length > 0 && (
            <>
              <span class="muted">Here now: </span>
              {here.map((p, i) => (
                <span key={p.userId} class={`here here-c${colourOf(p.userId)}`}>
                  {i > 0 ? ", " : ""}
                  {p.name}
                  {p.entity ? ` (${p.entity})` : ""}
                </span>
              ))}
            </>
          )}
        </span>
      </header>
      {amendmentsOnly && (
        <p class="amend-note" data-testid="amendments-only-note">
          This element takes amendments only — select text and propose an amendment.
        </p>
      )}
      <EditorHost
        session={session}
        state={state}
        label={entry.label}
        readOnly={readOnly}
        selectable={amendmentsOnly && !locked}
        fallbackText={props.fallbackText}
        presence={presence}
        amendments={marks}
      />
      <div class={notice ? "notice" : "notice notice-empty"}>
        <p data-testid="element-notice" role="status" aria-live="assertive">
          {notice}
        </p>
        {notice && (
          <button type="button" class="link" onClick={() => state.notice.set("")} aria-label={`Dismiss the notice on ${entry.label}`}>
            Dismiss
          </button>
        )}
      </div>
      {proposer !== null && <ProposeAmendment session={session} state={state} label={entry.label} entity={proposer || null} />}
      {pending.length > 0 && (
        <AmendmentList session={session} elementId={entry.id} label={entry.label} pending={pending} palette={palette} chair={role === "chair"} />
      )}
      <Comments session={session} state={state} label={entry.label} />
      <PositionsStrip entities={session.entities} consensus={consensus} label={entry.label} mine={session.user.entity} />
      <PositionsSummary entities={session.entities} consensus={consensus} label={entry.label} mine={session.user.entity} />
      {props.positionEntity && <PositionControls session={session} element={entry} consensus={consensus} entity={props.positionEntity} />}
    </article>
  );
}
