// One key element: label, status, live editor, notices, the entities'
// positions, and (for delegates) the position controls.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Entity, Present, Stance } from "./api";
import { ElementEditor, type CursorMark } from "./editor";
import {
  CELL_SYMBOL,
  CELL_WORDS,
  STANCE_LABEL,
  cellPosition,
  cellTitle,
  colourOf,
  statusWords,
  utc,
} from "./format";
import { isLocked, type ConsensusElement, type DraftSession, type ElementState, type Feedback, type IndexEntry } from "./model";
import { useSignal } from "./signal";

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
  fallbackText: string;
  presence: Present[];
}) {
  const { session, state, label, readOnly, presence } = props;
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
      onSelection: (range) => session.setMyCursor(state.id, range),
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

  useEffect(() => editor.current?.setReadOnly(readOnly), [readOnly, handle]);
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

function LockIcon() {
  return (
    <svg class="icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      <path d="M4.5 7V5a3.5 3.5 0 0 1 7 0v2" fill="none" stroke="currentColor" stroke-width="1.8" />
      <rect x="2.5" y="7" width="11" height="8" rx="1.5" fill="currentColor" />
    </svg>
  );
}

const STANCES: Stance[] = ["support", "support_ad_ref", "reservation", "abstain", "object"];

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
  const needsNote = choice === "reservation" || choice === "object";

  // A confirmation no longer holds once the position went stale.
  useEffect(() => {
    if (stale) setFeedback((f) => (f?.state === "ok" ? null : f));
  }, [stale]);
  const idBase = `pos-${element.id}`;

  const submit = async () => {
    if (!choice || busy) return;
    setBusy(true);
    setFeedback({ state: "wait", message: "Sending…" });
    const result = await session.submitPosition(element.id, choice, needsNote ? note : "", choice === "object" ? wording : "");
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
        ) : stale ? (
          <>
            <strong>Please reconfirm:</strong> {entity}’s position ({STANCE_LABEL[mine.position]}) was given on an earlier text and no
            longer counts.
          </>
        ) : (
          <>
            Current: <strong>{STANCE_LABEL[mine.position]}</strong>
            {mine.by_silence ? " (by silence)" : mine.user_name ? ` by ${mine.user_name}` : ""}
            {mine.at ? `, ${utc(mine.at)}` : ""}.
          </>
        )}
      </p>
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
  const readOnly = !props.canEdit || locked;
  const here = useMemo(
    () => usersIn(entry.id, state, cursors, presence, props.elementCount, session.sync.repo.peerId),
    [entry.id, state, cursors, presence, props.elementCount, session],
  );
  const labelId = `el-${entry.id}-label`;

  return (
    <article class={`element status-${status}`} data-testid="element" data-element-id={entry.id} data-label={entry.label} aria-labelledby={labelId}>
      <header class="element-head">
        <h2 id={labelId} class="element-label" data-testid="element-label">
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
      <EditorHost session={session} state={state} label={entry.label} readOnly={readOnly} fallbackText={props.fallbackText} presence={presence} />
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
      <PositionsStrip entities={session.entities} consensus={consensus} label={entry.label} mine={session.user.entity} />
      {props.positionEntity && <PositionControls session={session} element={entry} consensus={consensus} entity={props.positionEntity} />}
    </article>
  );
}
