// The chair's consensus board: the matrix of entities × elements, each
// element's status and who holds it, progress, the silence procedure,
// adoption, and the draft's structure. Live from the index document's
// consensus projection; GET …/consensus adds what the projection lacks (who
// started a silence or adopted an element, the consensus clock) and GET
// …/drafts/{id} the archived elements. Projector mode: the same board, large,
// high-contrast and without controls.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, type ArchivedElement, type ConsensusReport, type Draft, type DraftState, type Me } from "../lib/api";
import { useSignal } from "../lib/signal";
import { clockOf } from "../lib/time";
import type { DraftSession } from "../live/model";
import { errorWords, type Actions, type FeedbackState } from "./controls";
import { BoardElement } from "./element";
import { Matrix } from "./matrix";
import { useServerNow } from "./model";
import { ProcedurePanel } from "./procedure";
import { StructurePanel } from "./structure";

export function Board(props: {
  session: DraftSession;
  draft: Draft;
  me: Me;
  projector: boolean;
  onProjector: (on: boolean) => void;
  onBack: () => void;
}) {
  const { session, draft, projector } = props;
  const index = useSignal(session.index);
  const connection = useSignal(session.sync.connection);
  const isChair = props.me.user.role === "chair";
  const controls = isChair && !projector;
  const [report, setReport] = useState<ConsensusReport | null>(null);
  const [reportError, setReportError] = useState<string | null>(null);
  const [archived, setArchived] = useState<ArchivedElement[]>(draft.archived_elements ?? []);
  const [offset, setOffset] = useState(0);
  const [feedback, setFeedback] = useState<FeedbackState>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [refusals, setRefusals] = useState<Record<string, string>>({});
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const entities = report?.entities?.length ? report.entities : session.entities;

  // ---- the REST side: fetched at load, after every change of the index
  // (debounced) and every 15 s (the consensus clock can move on its own).
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const alive = useRef(true);
  const refreshReport = async () => {
    const sent = Date.now();
    try {
      const r = await api.consensus(draft.id);
      if (!alive.current) return;
      const received = Date.now();
      const server = Date.parse(r.server_time);
      if (Number.isFinite(server)) {
        const next = server - (sent + received) / 2;
        setOffset((before) => (Math.abs(before - next) > 1000 ? Math.round(next) : before));
      }
      setReport(r);
      setReportError(null);
    } catch (e) {
      if (alive.current) setReportError(errorWords(e));
    }
  };
  const refreshArchived = async () => {
    try {
      const d = await api.draft(draft.id);
      if (alive.current) setArchived(d.archived_elements ?? []);
    } catch {
      // kept as it was; the next change tries again
    }
  };
  const scheduleRefresh = () => {
    if (refreshTimer.current !== undefined) return;
    refreshTimer.current = setTimeout(() => {
      refreshTimer.current = undefined;
      void refreshReport();
    }, 400);
  };
  useEffect(() => {
    alive.current = true;
    void refreshReport();
    const timer = setInterval(() => void refreshReport(), 15_000);
    return () => {
      alive.current = false;
      clearInterval(timer);
      clearTimeout(refreshTimer.current);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [draft.id]);
  useEffect(() => {
    if (index.live) scheduleRefresh();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [index]);
  useEffect(() => {
    if (isChair) void refreshArchived();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [index.elements, isChair]);

  useEffect(() => {
    document.title = `${projector ? "Projector" : "Board"} — ${index.title} — Accord`;
  }, [index.title, projector]);
  useEffect(() => {
    document.body.classList.toggle("projector", projector);
    return () => document.body.classList.remove("projector");
  }, [projector]);

  // A selection keeps only elements that still exist.
  useEffect(() => {
    const ids = new Set(index.elements.map((e) => e.id));
    setSelected((s) => ([...s].every((id) => ids.has(id)) ? s : new Set([...s].filter((id) => ids.has(id)))));
  }, [index.elements]);

  const actions: Actions = {
    busy,
    async run(key, action, failure) {
      if (busy) return false;
      setBusy(key);
      setFeedback(null);
      try {
        const message = await action();
        setFeedback({ state: "ok", message, at: Date.now() });
        void refreshReport();
        return true;
      } catch (e) {
        setFeedback({ state: "error", message: `${failure}: ${errorWords(e)}`, at: Date.now() });
        if (e instanceof ApiError && e.status === 409) void refreshReport();
        return false;
      } finally {
        setBusy(null);
      }
    },
    fail(message) {
      setFeedback({ state: "error", message, at: Date.now() });
    },
  };

  // The server words the progress (the projection's summary); until the
  // index carries one (not synced yet, or an older projection), a neutral
  // line.
  const progress = index.summary ?? "Progress not available yet.";
  const draftState: DraftState | null = index.state ?? report?.state ?? null;

  return (
    <main class={`board${projector ? " board-projector" : ""}`} id="main" data-testid="board" data-projector={String(projector)} tabIndex={-1}>
      <header class="board-head">
        <div class="board-titles">
          {!projector && (
            <p class="back">
              <a
                href={`/drafts/${encodeURIComponent(draft.id)}`}
                onClick={(e) => {
                  e.preventDefault();
                  props.onBack();
                }}
              >
                ← Back to the draft
              </a>
            </p>
          )}
          <p class="board-kicker">Consensus board</p>
          <h1>{index.title}</h1>
        </div>
        <div class="board-head-side">
          <ServerClock offset={offset} />
          {connection !== "connected" && (
            <span class="pill conn-offline" role="status">
              {connection === "offline" ? "Offline: not live" : "Reconnecting: not live"}
            </span>
          )}
          <button
            type="button"
            class={projector ? "secondary compact" : "compact"}
            data-testid="projector-toggle"
            aria-pressed={projector}
            onClick={() => props.onProjector(!projector)}
          >
            {projector ? "Leave projector mode" : "Projector mode"}
          </button>
        </div>
      </header>
      <p class={`board-progress state-${draftState ?? "open"}`} data-testid="board-progress" aria-live="polite">
        {progress}
      </p>
      {reportError && !projector && (
        <p class="feedback feedback-error" role="alert">
          The consensus details could not be loaded: {reportError}
        </p>
      )}

      <div class="board-main">
        <Matrix entities={entities} elements={index.elements} consensus={index.consensus} report={report} projector={projector} />
        {/* The chair's side: the procedure (with its element choice) first,
            beside the matrix, then the elements. */}
        <Wrap when={controls} class="board-side">
        {controls && (
          <ProcedurePanel
            session={session}
            draftId={draft.id}
            elements={index.elements}
            consensus={index.consensus}
            report={report}
            state={draftState}
            selected={selected}
            setSelected={setSelected}
            offset={offset}
            actions={actions}
            setRefusals={setRefusals}
            entities={entities}
          />
        )}
        <section class="board-elements" aria-labelledby="board-elements-h">
          <h2 id="board-elements-h">{projector ? "Elements" : "Elements: status and who holds them"}</h2>
          {index.elements.length === 0 && <p>This draft has no elements yet.</p>}
          <div class="board-element-list">
            {index.elements.map((entry, i) => (
              <BoardElement
                key={entry.id}
                session={session}
                draft={draft}
                entry={entry}
                position={i}
                count={index.elements.length}
                consensus={index.consensus[entry.id]}
                report={report}
                entities={entities}
                controls={controls}
                projector={projector}
                offset={offset}
                actions={actions}
                draftAdopted={draftState === "adopted"}
                selected={selected.has(entry.id)}
                onSelect={(on) =>
                  setSelected((s) => {
                    const next = new Set(s);
                    if (on) next.add(entry.id);
                    else next.delete(entry.id);
                    return next;
                  })
                }
                refusal={refusals[entry.id] ?? null}
              />
            ))}
          </div>
        </section>
        </Wrap>
      </div>

      {controls && (
        <StructurePanel
          draftId={draft.id}
          title={index.title}
          preamble={index.preamble}
          elements={index.elements}
          archived={archived}
          actions={actions}
          afterChange={refreshArchived}
        />
      )}

      {!projector && (
        <div class="board-feedback-region" aria-live="polite">
          {feedback && (
            <div class={`board-feedback feedback-${feedback.state}`}>
              <p data-testid="board-feedback" data-state={feedback.state} role={feedback.state === "error" ? "alert" : undefined}>
                {feedback.message}
              </p>
              <button type="button" class="link" onClick={() => setFeedback(null)} aria-label="Dismiss this message">
                Dismiss
              </button>
            </div>
          )}
        </div>
      )}
    </main>
  );
}

/** Its children in a <div class> when `when`, else as they are (projector
 * mode keeps the matrix and the elements side by side, unwrapped). */
function Wrap(props: { when: boolean; class: string; children: ComponentChildren }) {
  return props.when ? <div class={props.class}>{props.children}</div> : <>{props.children}</>;
}

function ServerClock(props: { offset: number }) {
  const now = useServerNow(props.offset);
  return (
    <span class="server-clock" title="The server's clock, which deadlines follow">
      <span class="muted">Server time </span>
      <strong>{clockOf(now)} UTC</strong>
    </span>
  );
}
