// Proposing an amendment from the editor's selection (or the caret, to
// insert), and the chair's switch of an element's editing mode.

import * as A from "@automerge/automerge/slim";
import { useMemo, useState } from "preact/hooks";
import { usePending, type Pending } from "../board/amendments";
import type { Palette } from "../lib/colours";
import type { AmendmentMark } from "../live/editor";
import { api, ApiError, type ElementMode } from "../lib/api";
import { amendApi, codePoints } from "../lib/amendments";
import type { DraftSession, ElementState } from "../live/model";

const NO_MARKS: AmendmentMark[] = [];

/** The element's pending amendments and how the editor draws them. */
export function useAmendments(session: DraftSession, elementId: string, palette: Palette): { pending: Pending[]; marks: AmendmentMark[] } {
  const pending = usePending(session, elementId);
  const marks = useMemo(
    () =>
      pending.length === 0
        ? NO_MARKS
        : pending.flatMap(({ a, loc, conflict }) =>
            loc ? [{ id: a.id, from: loc.from, to: loc.to, entity: a.entity, text: a.text, sponsors: a.sponsors, conflict, ...palette.of(a.entity) }] : [],
          ),
    [pending, palette],
  );
  return { pending, marks };
}

interface Captured {
  /** UTF-16 offsets into `text`, for showing. */
  from: number;
  to: number;
  text: string;
  heads: string[];
}

/** A delegate's "Propose amendment": the passage selected when the button
 * is pressed (with the text and heads it was read at), the replacement and
 * the reason. */
/** `entity`: the delegate's own; null for a chair, who names the entity
 * proposing in the form. */
export function ProposeAmendment(props: { session: DraftSession; state: ElementState; label: string; entity: string | null }) {
  const { session, state, label } = props;
  const [chosen, setChosen] = useState("");
  const entity = props.entity ?? chosen;
  const [captured, setCaptured] = useState<Captured | null>(null);
  const [replacement, setReplacement] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [feedback, setFeedback] = useState<{ state: "ok" | "error" | "wait"; message: string } | null>(null);
  const base = `propose-${state.id}`;

  const start = () => {
    const handle = state.handle.value;
    const sel = state.selection.value;
    if (!handle?.isReady()) {
      setFeedback({ state: "wait", message: "The text is still loading." });
      return;
    }
    if (!sel) {
      setFeedback({ state: "error", message: "Select the passage to amend in the text (or place the caret where words should be inserted), then press “Propose amendment”." });
      return;
    }
    const doc = handle.doc();
    const text = String(doc.text ?? "");
    const [from, to] = sel.from <= sel.to ? [sel.from, sel.to] : [sel.to, sel.from];
    setCaptured({ from: Math.min(from, text.length), to: Math.min(to, text.length), text, heads: A.getHeads(doc) });
    setReplacement(text.slice(from, to));
    setReason("");
    setFeedback(null);
  };

  const submit = async () => {
    if (!captured || busy) return;
    const why = reason.trim();
    if (!why) {
      setFeedback({ state: "error", message: "An amendment needs a reason." });
      return;
    }
    if (!entity) {
      setFeedback({ state: "error", message: "Choose the entity the amendment is proposed for." });
      return;
    }
    const { text, from, to, heads } = captured;
    if (from === to && !replacement) {
      setFeedback({ state: "error", message: "Write the words to insert." });
      return;
    }
    setBusy(true);
    setFeedback({ state: "wait", message: "Sending…" });
    try {
      await amendApi.propose(session.draft.id, state.id, { from: codePoints(text, from), to: codePoints(text, to), heads, text: replacement, reason: why, ...(props.entity ? {} : { entity }) });
      setCaptured(null);
      setFeedback({ state: "ok", message: `Amendment proposed for ${entity}. It shows in the text and in the list below.` });
    } catch (e) {
      if (e instanceof ApiError && e.code === "not_synced") {
        setFeedback({ state: "wait", message: "The server has not received the text you selected in yet. Wait a moment and send again." });
      } else {
        setFeedback({ state: "error", message: e instanceof ApiError ? e.message : String(e) });
      }
    } finally {
      setBusy(false);
    }
  };

  const passage = captured ? captured.text.slice(captured.from, captured.to) : "";
  return (
    <div class="propose" data-testid="propose">
      {!captured ? (
        <button type="button" class="secondary compact" data-testid="propose-amendment" onClick={start}>
          Propose amendment<span class="visually-hidden"> to {label}</span>
        </button>
      ) : (
        <form
          class="propose-form"
          data-testid="propose-form"
          aria-labelledby={`${base}-h`}
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <h3 id={`${base}-h`} class="controls-title">
            Amendment {entity ? `by ${entity} ` : ""}to {label}
          </h3>
          {!props.entity && (
            <div class="field">
              <label for={`${base}-entity`}>Proposed for (entity)</label>
              <select id={`${base}-entity`} data-testid="amendment-entity" value={chosen} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
                <option value="">Choose an entity…</option>
                {session.entities.map((e) => (
                  <option key={e.code} value={e.code}>
                    {e.code} — {e.name}
                  </option>
                ))}
              </select>
            </div>
          )}
          <p data-testid="propose-passage">
            {passage ? (
              <>
                Passage: <del class="amend-del">{passage}</del>
              </>
            ) : (
              <>Insertion at the caret, after “{captured.text.slice(Math.max(0, captured.from - 30), captured.from)}”.</>
            )}
          </p>
          <div class="field">
            <label for={`${base}-text`}>{passage ? "Replacement (leave empty to delete the passage)" : "Words to insert"}</label>
            <textarea
              id={`${base}-text`}
              data-testid="amendment-text"
              rows={2}
              value={replacement}
              onInput={(e) => setReplacement((e.target as HTMLTextAreaElement).value)}
            />
          </div>
          <div class="field">
            <label for={`${base}-reason`}>Reason (required)</label>
            <textarea
              id={`${base}-reason`}
              data-testid="amendment-reason"
              rows={2}
              maxLength={2000}
              required
              value={reason}
              onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)}
            />
          </div>
          <div class="submit-row">
            <button type="submit" class="primary" data-testid="amendment-submit" disabled={busy}>
              {entity ? `Propose for ${entity}` : "Propose"}
            </button>
            <button type="button" class="secondary" data-testid="amendment-cancel" onClick={() => setCaptured(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {feedback && (
        <p class={`feedback feedback-${feedback.state}`} data-testid="propose-feedback" data-state={feedback.state} role="status">
          {feedback.message}
        </p>
      )}
    </div>
  );
}

/** A chair's choice of how delegates change an element's text. */
export function ModeSwitch(props: { session: DraftSession; elementId: string; label: string; mode: ElementMode }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const id = `mode-${props.elementId}`;
  return (
    <span class="mode-switch">
      <label for={id}>Delegates</label>{" "}
      <select
        id={id}
        data-testid="element-mode"
        value={props.mode}
        disabled={busy}
        onChange={async (e) => {
          const mode = (e.target as HTMLSelectElement).value as ElementMode;
          setBusy(true);
          setError(null);
          try {
            await api.updateElement(props.session.draft.id, props.elementId, { mode });
          } catch (err) {
            setError(err instanceof ApiError ? err.message : String(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <option value="open">type directly</option>
        <option value="amendments">propose amendments only</option>
      </select>
      {error && (
        <span class="feedback feedback-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
