// One element's panel on the board: status, who holds it and why (the
// objections, reservations, stale and missing positions), its text with
// the bracketed passages, deadline and last silence, and its controls
// (cancel a silence, adopt, reopen, rename, move, archive).

import { Fragment, type ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, type ConsensusElement, type ConsensusReport, type Draft, type EndedSilence, type Entity } from "../lib/api";
import { bracketRuns, brackets } from "../lib/brackets";
import { CELL_SYMBOL, LEGEND, STATUS_WORDS, countWords, plural } from "../lib/format";
import { duration, utc } from "../lib/time";
import type { DraftSession, IndexEntry } from "../live/model";
import { Palette } from "../lib/colours";
import { AmendmentList, usePending } from "./amendments";
import { ActionButton, ByLine, ConfirmDialog, requestFocus, type Actions } from "./controls";
import { STATUS_SYMBOL, adoptBlock, silenceBlock, statusOf, tally, useElementText, useServerNow } from "./model";

export function BoardElement(props: {
  session: DraftSession;
  draft: Draft;
  entry: IndexEntry;
  position: number;
  count: number;
  consensus: ConsensusElement | undefined;
  report: ConsensusReport | null;
  entities: Entity[];
  controls: boolean;
  projector: boolean;
  offset: number;
  actions: Actions;
  draftAdopted: boolean;
  selected: boolean;
  onSelect: (on: boolean) => void;
  refusal: string | null;
}) {
  const { entry, consensus: c, entities, actions, controls, draft } = props;
  const state = props.session.element(entry.id);
  const liveText = useElementText(state);
  const text = liveText ?? draft.elements.find((e) => e.id === entry.id)?.text;
  const status = statusOf(c, props.report, entry.id);
  const t = useMemo(() => tally(entities, c), [entities, c]);
  const detail = props.report?.elements.find((e) => e.id === entry.id);
  const bracketed = c?.bracketed ?? detail?.bracketed ?? false;
  const found = text !== undefined ? brackets(text) : { passages: [], unmatched: false };
  const nameOf = (code: string) => entities.find((e) => e.code === code)?.name ?? code;
  const [renaming, setRenaming] = useState(false);
  const [label, setLabel] = useState(entry.label);
  const base = `be-${entry.id}`;
  const silenceReason = silenceBlock(status);
  const serverNow = useServerNow(props.offset, status === "under_silence");
  const adoptReason = adoptBlock(status, t, status === "under_silence" && c?.deadline != null && c.deadline <= serverNow);
  const [confirmArchive, setConfirmArchive] = useState(false);
  const renameRef = useRef<HTMLInputElement>(null);
  const pending = usePending(props.session, entry.id);
  const palette = useMemo(() => new Palette(entities), [entities]);

  useEffect(() => {
    if (renaming) renameRef.current?.focus();
  }, [renaming]);

  const move = (delta: number) =>
    void actions.run(
      `move-${entry.id}`,
      async () => {
        await api.updateElement(draft.id, entry.id, { position: props.position + delta });
        requestFocus(entry.id, delta < 0 ? "move-up" : "move-down");
        return `Moved ${entry.label} ${delta < 0 ? "up" : "down"}, to place ${props.position + delta + 1} of ${props.count}.`;
      },
      `Could not move ${entry.label}`,
    );

  const rename = async () => {
    const next = label.trim();
    if (!next) {
      actions.fail("A label cannot be empty.");
      return;
    }
    if (next === entry.label) {
      setRenaming(false);
      return;
    }
    const ok = await actions.run(
      `rename-${entry.id}`,
      async () => {
        await api.updateElement(draft.id, entry.id, { label: next });
        return `Renamed ${entry.label} to ${next}.`;
      },
      `Could not rename ${entry.label}`,
    );
    if (ok) {
      setRenaming(false);
      requestFocus(entry.id, "rename-element");
    }
  };

  const counts = LEGEND.filter((p) => t.counts[p] > 0);

  return (
    <article
      class={`board-element status-${status}${props.selected ? " is-selected" : ""}`}
      data-testid="board-element"
      data-element-id={entry.id}
      aria-labelledby={`${base}-h`}
    >
      <header class="be-head">
        <h3 id={`${base}-h`} class="be-label">
          {entry.label}
        </h3>
        <span class={`badge badge-${status}`} data-testid="board-status" data-status={status}>
          <span aria-hidden="true">{STATUS_SYMBOL[status]} </span>
          {STATUS_WORDS[status]}
        </span>
        {bracketed && status !== "bracketed" && <span class="badge badge-bracketed">Bracketed</span>}
      </header>

      <p class="be-counts">
        {counts.map((p, i) => (
          <Fragment key={p}>
            {i > 0 ? " · " : ""}
            <span class="be-count">
              <span class={`mcell-key cell-${p}`} aria-hidden="true">
                {CELL_SYMBOL[p]}
              </span>{" "}
              {countWords(p, t.counts[p])}
            </span>
          </Fragment>
        ))}
      </p>

      {status === "under_silence" && c?.deadline != null && (
        <Deadline deadline={c.deadline} offset={props.offset} startedBy={detail?.silence?.started_by ?? null} projector={props.projector} />
      )}
      {status === "adopted" && (
        <p class="be-adopted">
          Adopted{detail?.adopted ? ` by ${detail.adopted.by}, ${utc(Date.parse(detail.adopted.at))}` : ""}. The text is locked
          {props.draftAdopted ? "." : " until a chair reopens it."}
        </p>
      )}

      <div class="be-holds" data-testid="board-objections">
        {t.objections.length === 0 ? (
          <p class="muted be-none">No objections.</p>
        ) : (
          <>
            <h4>Held by {plural(t.objections.length, "objection", "objections")}</h4>
            <ul>
              {t.objections.map(([code, p]) => (
                <li key={code} class="be-objection" data-testid="board-objection" data-entity={code}>
                  <strong>{code}</strong>
                  {!props.projector && <span class="muted"> ({nameOf(code)})</span>} objects: “{p.note ?? "no reason given"}”
                  {p.wording && (
                    <span class="be-wording">
                      {" "}
                      Proposed wording: “{p.wording}”
                    </span>
                  )}
                  {!props.projector && <ByLine p={p} />}
                </li>
              ))}
            </ul>
          </>
        )}
      </div>

      <div class="be-reservations" data-testid="board-reservations">
        {t.reservations.length === 0 ? (
          !props.projector && <p class="muted be-none">No reservations on record.</p>
        ) : props.projector ? (
          <p>
            <strong>Reservations:</strong> {t.reservations.map(([code]) => code).join(", ")}
          </p>
        ) : (
          <>
            <h4>{plural(t.reservations.length, "reservation", "reservations")} on record</h4>
            <ul>
              {t.reservations.map(([code, p]) => (
                <li key={code}>
                  <strong>{code}</strong>: “{p.note ?? ""}”
                  <ByLine p={p} />
                </li>
              ))}
            </ul>
          </>
        )}
      </div>

      {t.adRef.length > 0 && (
        <p class="be-line">
          <strong>Ad referendum</strong> (awaiting confirmation): {t.adRef.join(", ")}
        </p>
      )}
      {t.missing.length > 0 && t.counts.none < entities.length && status !== "adopted" && (
        <p class="be-line" data-testid="board-not-responded">
          <strong>Not responded ({t.missing.length}):</strong>{" "}
          {props.projector && t.missing.length > 8 ? `${t.missing.slice(0, 6).join(", ")} and ${t.missing.length - 6} more` : t.missing.join(", ")}
        </p>
      )}
      {t.stale.length > 0 && status !== "adopted" && (
        <p class="be-line" data-testid="board-stale">
          <strong>Responded on an earlier text, stale ({t.stale.length}):</strong>{" "}
          {props.projector && t.stale.length > 8
            ? `${t.stale.slice(0, 6).join(", ")} and ${t.stale.length - 6} more`
            : t.stale.map((code) => (t.staleObjections.some(([x]) => x === code) ? `${code} (objection)` : code)).join(", ")}
        </p>
      )}
      {(bracketed || found.passages.length > 0) && (
        <div class="be-line be-brackets">
          <strong>Bracketed:</strong>{" "}
          {found.passages.length === 0 ? (
            found.unmatched ? "an unmatched bracket." : "yes."
          ) : (
            <ul class="inline-list">
              {found.passages.slice(0, 6).map((passage, i) => (
                <li key={i}>
                  <mark class="bracket">{passage.length > 160 ? `${passage.slice(0, 157)}…]` : passage}</mark>
                </li>
              ))}
              {found.passages.length > 6 && <li>and {found.passages.length - 6} more</li>}
            </ul>
          )}
        </div>
      )}

      {c?.last_silence && <LastSilence last={c.last_silence} nameOf={nameOf} running={status === "under_silence"} />}

      {pending.length > 0 &&
        (props.projector ? (
          <p class="be-line" data-testid="board-amendments">
            <strong>{plural(pending.length, "pending amendment", "pending amendments")}:</strong>{" "}
            {pending.map(({ a }) => `${a.entity} (${plural(a.sponsors.length, "sponsor", "sponsors")})`).join(", ")}
          </p>
        ) : (
          <div class="be-amendments" data-testid="board-amendments">
            <AmendmentList session={props.session} elementId={entry.id} label={entry.label} pending={pending} palette={palette} chair={controls} />
          </div>
        ))}

      {!props.projector && text !== undefined && (
        <details class="be-text">
          <summary>Text of {entry.label}</summary>
          <p class="be-text-body">
            {text === "" ? (
              <span class="muted">(empty)</span>
            ) : (
              bracketRuns(text).map((run, i) => (run.bracket ? <mark key={i} class="bracket">{run.text}</mark> : <span key={i}>{run.text}</span>))
            )}
          </p>
        </details>
      )}

      {controls && (
        <div class="be-controls">
          <div class="be-row" role="group" aria-label={`Procedure on ${entry.label}`}>
            {status === "under_silence" && (
              <ActionButton
                testid="silence-cancel"
                elementId={entry.id}
                actions={actions}
                class="compact danger"
                onClick={() =>
                  void actions.run(
                    `cancel-${entry.id}`,
                    async () => {
                      await api.cancelSilence(draft.id, [entry.id]);
                      return `Silence on ${entry.label} cancelled: the text is unlocked.`;
                    },
                    `Could not cancel the silence on ${entry.label}`,
                  )
                }
              >
                Cancel silence
              </ActionButton>
            )}
            {status === "adopted" ? (
              !props.draftAdopted && (
                <ActionButton
                  testid="reopen-element"
                  elementId={entry.id}
                  actions={actions}
                  onClick={() =>
                    void actions.run(
                      `reopen-${entry.id}`,
                      async () => {
                        await api.reopenElement(draft.id, entry.id);
                        return `${entry.label} reopened: its text can change again and its status follows the positions.`;
                      },
                      `Could not reopen ${entry.label}`,
                    )
                  }
                >
                  Reopen
                </ActionButton>
              )
            ) : (
              <ActionButton
                testid="adopt-element"
                elementId={entry.id}
                actions={actions}
                class="compact primary"
                disabledReason={adoptReason}
                describedBy={adoptReason ? `${base}-adopt-why` : undefined}
                onClick={() =>
                  void actions.run(
                    `adopt-${entry.id}`,
                    async () => {
                      await api.adoptElement(draft.id, entry.id);
                      return `${entry.label} adopted: its text is locked until a chair reopens it.`;
                    },
                    `Could not adopt ${entry.label}`,
                  )
                }
              >
                Adopt {entry.label}
              </ActionButton>
            )}
          </div>
          {silenceReason && status !== "under_silence" && (
            <p class="why" id={`${base}-silence-why`}>
              No silence: {silenceReason}
            </p>
          )}
          {silenceReason && status === "under_silence" && (
            <p class="visually-hidden" id={`${base}-silence-why`}>
              {silenceReason}
            </p>
          )}
          {adoptReason && status !== "adopted" && (
            <p class="why" id={`${base}-adopt-why`}>
              Adoption needs agreement. {adoptReason}
            </p>
          )}
          {props.refusal && (
            <p class="why why-refused" role="status">
              The server refused silence here: {props.refusal}
            </p>
          )}
          <div class="be-row" role="group" aria-label={`Structure: ${entry.label}`}>
            {renaming ? (
              <form
                class="rename"
                onSubmit={(e) => {
                  e.preventDefault();
                  void rename();
                }}
              >
                <label for={`${base}-rename`} class="inline">
                  New label
                </label>
                <input
                  id={`${base}-rename`}
                  ref={renameRef}
                  data-testid="rename-input"
                  data-element-id={entry.id}
                  value={label}
                  maxLength={100}
                  required
                  onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
                  onKeyDown={(e) => {
                    if (e.key === "Escape") {
                      setRenaming(false);
                      requestFocus(entry.id, "rename-element");
                    }
                  }}
                />
                <button type="submit" class="compact primary" data-testid="rename-submit" data-element-id={entry.id} aria-disabled={actions.busy ? "true" : undefined}>
                  Save label
                </button>
                <button
                  type="button"
                  class="compact secondary"
                  onClick={() => {
                    setRenaming(false);
                    requestFocus(entry.id, "rename-element");
                  }}
                >
                  Cancel
                </button>
              </form>
            ) : (
              <ActionButton
                testid="rename-element"
                elementId={entry.id}
                actions={actions}
                class="compact secondary"
                label={`Rename ${entry.label}`}
                onClick={() => {
                  setLabel(entry.label);
                  setRenaming(true);
                }}
              >
                Rename
              </ActionButton>
            )}
            <ActionButton
              testid="move-up"
              elementId={entry.id}
              actions={actions}
              class="compact secondary"
              label={`Move ${entry.label} up`}
              disabledReason={props.position === 0 ? "Already first." : null}
              onClick={() => move(-1)}
            >
              ↑ Up
            </ActionButton>
            <ActionButton
              testid="move-down"
              elementId={entry.id}
              actions={actions}
              class="compact secondary"
              label={`Move ${entry.label} down`}
              disabledReason={props.position === props.count - 1 ? "Already last." : null}
              onClick={() => move(1)}
            >
              ↓ Down
            </ActionButton>
            <ActionButton
              testid="archive-element"
              elementId={entry.id}
              actions={actions}
              class="compact danger"
              label={`Archive ${entry.label}`}
              onClick={() => setConfirmArchive(true)}
            >
              Archive
            </ActionButton>
          </div>
          {confirmArchive && (
            <ConfirmDialog
              testid="archive-dialog"
              title={`Archive ${entry.label}?`}
              confirm={`Archive ${entry.label}`}
              confirmTestid="archive-confirm"
              cancelTestid="archive-cancel"
              onClose={(ok) => {
                setConfirmArchive(false);
                if (!ok) {
                  requestFocus(entry.id, "archive-element");
                  return;
                }
                void actions.run(
                  `archive-${entry.id}`,
                  async () => {
                    await api.archiveElement(draft.id, entry.id);
                    return `${entry.label} archived: it left the draft; restore it from “Archived elements” below.`;
                  },
                  `Could not archive ${entry.label}`,
                );
              }}
            >
              {entry.label} leaves the draft for everyone: delegates no longer see it, and it no longer counts towards adopting the draft. Its text, history and positions are
              kept, and a chair can restore it from “Archived elements”.
            </ConfirmDialog>
          )}
        </div>
      )}
    </article>
  );
}

function Deadline(props: { deadline: number; offset: number; startedBy: string | null; projector: boolean }) {
  const now = useServerNow(props.offset);
  const left = props.deadline - now;
  return (
    <p class={`be-deadline${left < 3600_000 ? " soon" : ""}`} data-testid="board-deadline" role="timer" aria-live="off">
      <strong>Under silence until {utc(props.deadline)}</strong>
      {" — "}
      {left > 0 ? <span class="countdown">{duration(left)} left</span> : <span class="countdown">deadline reached; closing…</span>}
      {props.startedBy && !props.projector && <span class="muted"> (started by {props.startedBy})</span>}
    </p>
  );
}

function LastSilence(props: { last: EndedSilence; nameOf: (code: string) => string; running: boolean }) {
  const { last } = props;
  const when = last.ended_at != null ? `, ${utc(last.ended_at)}` : "";
  let words: ComponentChildren;
  if (last.state === "broken") {
    const who = last.entity ? `${last.entity}${last.ended_by ? ` (${last.ended_by})` : ""}` : (last.ended_by ?? "an objection");
    words = (
      <>
        <strong>Silence broken</strong> by {who}
        {when}: “{last.reason ?? "no reason given"}”
      </>
    );
  } else if (last.state === "fired") {
    words = (
      <>
        <strong>Silence ended</strong> at its deadline{last.deadline != null ? ` (${utc(last.deadline)})` : ""} without objection: missing and stale positions were
        recorded as support (stale objections only where the chair confirmed them).
      </>
    );
  } else {
    words = (
      <>
        <strong>Silence cancelled</strong>
        {last.ended_by ? ` by ${last.ended_by}` : ""}
        {when}.
      </>
    );
  }
  return (
    <p class={`be-last-silence last-${last.state}`} data-testid="board-last-silence" data-state={last.state} aria-live="polite">
      {props.running ? "Previous procedure: " : ""}
      {words}
    </p>
  );
}
