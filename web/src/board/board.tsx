// The chair's consensus board: the matrix of entities × elements, each
// element's status and who holds it, progress, the silence procedure,
// adoption, and the draft's structure. Live from the index document's
// consensus projection; GET …/consensus adds what the projection lacks (who
// started a silence or adopted an element, the consensus clock) and GET
// …/drafts/{id} the archived elements. Projector mode: the same board, large,
// high-contrast and without controls.

import { Fragment, type ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError, type ArchivedElement, type ConsensusReport, type Draft, type Entity, type Me, type SilenceRefusal, type StaleObjection } from "./api";
import {
  CELL_SYMBOL,
  CELL_WORDS,
  STANCE_LABEL,
  STATUS_WORDS,
  cellPosition,
  countWords,
  duration,
  isoSeconds,
  parseUtcInput,
  utc,
  utcInputValue,
  type CellPosition,
} from "./format";
import type { ConsensusElement, DraftSession, DraftState, ElementState, ElementStatus, EndedSilence, IndexEntry, ProjectedPosition } from "./model";
import { Signal, useSignal } from "./signal";

// ------------------------------------------------------------------ model

type Filter = "not-responded" | "objections" | "stale" | "ad-ref";
type RowSort = "order" | "code" | "name" | "problems";
type ColSort = "order" | "problems";

const FILTERS: { id: Filter; label: string; hint: string }[] = [
  { id: "not-responded", label: "Not responded", hint: "no current position: none yet, or stale" },
  { id: "objections", label: "Objections", hint: "current objections" },
  { id: "stale", label: "Stale", hint: "positions given on an earlier text" },
  { id: "ad-ref", label: "Ad ref", hint: "support ad referendum, pending confirmation" },
];

function matches(filter: Filter, pos: CellPosition): boolean {
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

const LEGEND: CellPosition[] = ["support", "support_ad_ref", "reservation", "abstain", "object", "stale", "none"];

const STATUS_SYMBOL: Record<ElementStatus, string> = {
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

function tally(entities: Entity[], c: ConsensusElement | undefined): Tally {
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

function statusOf(c: ConsensusElement | undefined, report: ConsensusReport | null, id: string): ElementStatus {
  return c?.status ?? report?.elements.find((e) => e.id === id)?.status ?? "open";
}

/** Why the server would refuse silence on an element (null: it may start). */
function silenceBlock(status: ElementStatus): string | null {
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
function notRespondedWords(missing: number, stale: number, on = ""): string {
  const where = on ? ` on ${on}` : "";
  if (stale === 0) return `${plural(missing, "entity has", "entities have")} not responded${where}`;
  if (missing === 0) return `${plural(stale, "entity", "entities")} responded${where} only on an earlier text (stale)`;
  return `${plural(missing, "entity has", "entities have")} not responded${where} and ${stale} responded on an earlier text (stale)`;
}

/** Why Adopt cannot act (null: it can), from the element's live status;
 * `deadlinePassed`: under silence whose deadline the server clock has passed. */
function adoptBlock(status: ElementStatus, t: Tally, deadlinePassed = false): string | null {
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

function list(items: string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "5 of 8 elements agreed; 3 entities have not responded on (c)". */
function progressSentence(
  elements: IndexEntry[],
  consensus: Record<string, ConsensusElement>,
  entities: Entity[],
  state: DraftState | null,
  adoptedAt: number | null,
  report: ConsensusReport | null,
): string {
  const n = elements.length;
  if (n === 0) return "This draft has no elements yet.";
  const statuses = elements.map((e) => statusOf(consensus[e.id], report, e.id));
  const adopted = statuses.filter((s) => s === "adopted").length;
  if (state === "adopted") return `The draft was adopted${adoptedAt ? ` on ${utc(adoptedAt)}` : ""}: all ${plural(n, "element", "elements")} adopted.`;
  const agreed = statuses.filter((s) => s === "adopted" || s === "agreed" || s === "agreed_ad_ref").length;
  const parts = [`${agreed} of ${plural(n, "element", "elements")} agreed${adopted > 0 ? ` (${adopted} adopted)` : ""}`];
  if (adopted === n) parts.push("every element is adopted: the draft can now be adopted");
  // Open elements waiting for answers, grouped by how many have not
  // responded and how many responded on an earlier text (stale).
  const waiting = new Map<string, { missing: number; stale: number; labels: string[] }>();
  elements.forEach((e, i) => {
    if (statuses[i] !== "open") return;
    const t = tally(entities, consensus[e.id]);
    if (t.notResponded.length === 0) return;
    const key = `${t.missing.length}/${t.stale.length}`;
    const group = waiting.get(key) ?? { missing: t.missing.length, stale: t.stale.length, labels: [] };
    group.labels.push(e.label);
    waiting.set(key, group);
  });
  for (const g of [...waiting.values()].sort((a, b) => a.missing + a.stale - (b.missing + b.stale) || a.stale - b.stale)) {
    parts.push(notRespondedWords(g.missing, g.stale, list(g.labels)));
  }
  elements.forEach((e, i) => {
    if (statuses[i] === "objected") {
      parts.push(`${e.label} objected by ${list(tally(entities, consensus[e.id]).objections.map(([code]) => code))}`);
    }
  });
  const silenced = elements.filter((_, i) => statuses[i] === "under_silence").map((e) => e.label);
  if (silenced.length > 0) parts.push(`${list(silenced)} under silence`);
  const bracketed = elements.filter((_, i) => statuses[i] === "bracketed").map((e) => e.label);
  if (bracketed.length > 0) parts.push(`${list(bracketed)} bracketed`);
  return `${parts.join("; ")}.`;
}

/** The bracketed passages of a text (outermost), and whether a bracket is unmatched. */
function brackets(text: string): { passages: string[]; unmatched: boolean } {
  const passages: string[] = [];
  let depth = 0;
  let start = -1;
  let unmatched = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "[") {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === "]") {
      if (depth === 0) unmatched = true;
      else if (--depth === 0) passages.push(text.slice(start, i + 1));
    }
  }
  return { passages, unmatched: unmatched || depth > 0 };
}

/** The text split into plain and bracketed runs. */
function bracketRuns(text: string): { text: string; bracket: boolean }[] {
  const runs: { text: string; bracket: boolean }[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "[") {
      if (depth === 0 && i > from) {
        runs.push({ text: text.slice(from, i), bracket: false });
        from = i;
      }
      depth++;
    } else if (text[i] === "]" && depth > 0 && --depth === 0) {
      runs.push({ text: text.slice(from, i + 1), bracket: true });
      from = i + 1;
    }
  }
  if (from < text.length) runs.push({ text: text.slice(from), bracket: depth > 0 });
  return runs;
}

/** The live text of an element (undefined until its document is ready). */
function useElementText(state: ElementState | undefined): string | undefined {
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
function useServerNow(offset: number, active = true): number {
  const [now, setNow] = useState(() => Date.now() + offset);
  useEffect(() => {
    setNow(Date.now() + offset);
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now() + offset), 1000);
    return () => clearInterval(timer);
  }, [offset, active]);
  return now;
}

// ----------------------------------------------------------------- actions

type FeedbackState = { state: "ok" | "error"; message: string; at: number } | null;

interface Actions {
  busy: string | null;
  /** Runs a chair command: clears the feedback, then reports the outcome in words. */
  run(key: string, action: () => Promise<string>, failure: string): Promise<boolean>;
  fail(message: string): void;
}

function errorWords(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === "silence_refused" && Array.isArray(e.body.refusals)) {
      // The server's message names each element and why; say it if it does not.
      const refusals = e.body.refusals as SilenceRefusal[];
      if (refusals.every((r) => e.message.includes(r.message))) return e.message;
      return refusals.map((r) => `${r.label}: ${r.message}`).join("; ");
    }
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** A button that stays focusable while it cannot act (aria-disabled), and
 * says why through `reason`. */
function ActionButton(props: {
  testid: string;
  elementId?: string;
  actions: Actions;
  disabledReason?: string | null;
  onClick: () => void;
  class?: string;
  label?: string;
  children: ComponentChildren;
  describedBy?: string;
}) {
  const off = !!props.disabledReason || props.actions.busy !== null;
  return (
    <button
      type="button"
      class={props.class ?? "compact"}
      data-testid={props.testid}
      data-element-id={props.elementId}
      aria-disabled={off ? "true" : undefined}
      aria-label={props.label}
      aria-describedby={props.describedBy}
      title={props.disabledReason ?? undefined}
      onClick={() => {
        if (!off) props.onClick();
      }}
    >
      {props.children}
    </button>
  );
}

// -------------------------------------------------------------------- board

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

  const progress = progressSentence(index.elements, index.consensus, entities, index.state, index.adoptedAt, report);
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
      <strong>{new Date(now).toISOString().slice(11, 19)} UTC</strong>
    </span>
  );
}

// ------------------------------------------------------------------- matrix

function Matrix(props: {
  entities: Entity[];
  elements: IndexEntry[];
  consensus: Record<string, ConsensusElement>;
  report: ConsensusReport | null;
  projector: boolean;
}) {
  const { entities, elements, consensus, projector } = props;
  const [filter, setFilter] = useState<Filter | null>(null);
  const [rowSort, setRowSort] = useState<RowSort>("order");
  const [colSort, setColSort] = useState<ColSort>("order");
  const [tip, setTip] = useState<{ entity: string; element: string; cell: HTMLElement } | null>(null);
  const [focus, setFocus] = useState<{ entity: string; element: string } | null>(null);
  const tableRef = useRef<HTMLTableElement>(null);
  const sectionRef = useRef<HTMLElement>(null);
  const activeFilter = projector ? null : filter;
  const activeRowSort = projector ? "order" : rowSort;
  const activeColSort = projector ? "order" : colSort;

  const grid = useMemo(() => {
    const g = new Map<string, Map<string, { pos: CellPosition; p: ProjectedPosition | undefined }>>();
    for (const en of entities) {
      const row = new Map<string, { pos: CellPosition; p: ProjectedPosition | undefined }>();
      for (const el of elements) {
        const p = consensus[el.id]?.positions?.[en.code];
        row.set(el.id, { pos: cellPosition(p), p });
      }
      g.set(en.code, row);
    }
    return g;
  }, [entities, elements, consensus]);

  const problems = (cells: CellPosition[]) => {
    const objections = cells.filter((p) => p === "object").length;
    const missing = cells.filter((p) => p === "none" || p === "stale").length;
    return { objections, missing };
  };

  const columns = useMemo(() => {
    const cols = [...elements];
    if (activeColSort === "problems") {
      const score = new Map(cols.map((el) => [el.id, problems(entities.map((en) => grid.get(en.code)!.get(el.id)!.pos))]));
      cols.sort((a, b) => {
        const x = score.get(a.id)!;
        const y = score.get(b.id)!;
        return y.objections - x.objections || y.missing - x.missing;
      });
    }
    return cols;
  }, [elements, entities, grid, activeColSort]);

  const rows = useMemo(() => {
    let list = [...entities];
    if (activeRowSort === "code") list.sort((a, b) => a.code.localeCompare(b.code, "en", { sensitivity: "base" }));
    else if (activeRowSort === "name") list.sort((a, b) => a.name.localeCompare(b.name, "en", { sensitivity: "base" }));
    else if (activeRowSort === "problems") {
      const score = new Map(list.map((en) => [en.code, problems(columns.map((el) => grid.get(en.code)!.get(el.id)!.pos))]));
      list.sort((a, b) => {
        const x = score.get(a.code)!;
        const y = score.get(b.code)!;
        return y.objections - x.objections || y.missing - x.missing || a.code.localeCompare(b.code);
      });
    }
    if (activeFilter) list = list.filter((en) => columns.some((el) => matches(activeFilter, grid.get(en.code)!.get(el.id)!.pos)));
    return list;
  }, [entities, columns, grid, activeRowSort, activeFilter]);

  // The one cell in the tab order (roving tabindex): the last focused, or the first.
  const focusCell =
    focus && rows.some((r) => r.code === focus.entity) && columns.some((c) => c.id === focus.element)
      ? focus
      : rows[0] && columns[0]
        ? { entity: rows[0].code, element: columns[0].id }
        : null;

  const moveFocus = (e: KeyboardEvent) => {
    if (!focusCell) return;
    if (e.key === "Escape") {
      setTip(null);
      return;
    }
    let r = rows.findIndex((x) => x.code === focusCell.entity);
    let c = columns.findIndex((x) => x.id === focusCell.element);
    if (e.key === "ArrowUp") r--;
    else if (e.key === "ArrowDown") r++;
    else if (e.key === "ArrowLeft") c--;
    else if (e.key === "ArrowRight") c++;
    else if (e.key === "Home") c = e.ctrlKey ? ((r = 0), 0) : 0;
    else if (e.key === "End") c = e.ctrlKey ? ((r = rows.length - 1), columns.length - 1) : columns.length - 1;
    else if (e.key === "PageUp") r = Math.max(0, r - 10);
    else if (e.key === "PageDown") r = Math.min(rows.length - 1, r + 10);
    else return;
    e.preventDefault();
    r = Math.max(0, Math.min(rows.length - 1, r));
    c = Math.max(0, Math.min(columns.length - 1, c));
    const next = { entity: rows[r].code, element: columns[c].id };
    setFocus(next);
    const td = tableRef.current?.querySelector<HTMLElement>(
      `td[data-entity="${CSS.escape(next.entity)}"][data-element-id="${CSS.escape(next.element)}"]`,
    );
    td?.focus();
  };

  // The tooltip follows its cell when the page scrolls or resizes.
  const [, relayout] = useState(0);
  useEffect(() => {
    if (!tip) return;
    const follow = () => relayout((n) => n + 1);
    window.addEventListener("scroll", follow, { passive: true, capture: true });
    window.addEventListener("resize", follow);
    return () => {
      window.removeEventListener("scroll", follow, { capture: true });
      window.removeEventListener("resize", follow);
    };
  }, [tip]);

  // Projector: size the cells so that every row fits the screen's height.
  useLayoutEffect(() => {
    const section = sectionRef.current;
    if (!projector || !section) {
      section?.style.removeProperty("--cell");
      return;
    }
    // The rows share the height below the column heads (each row is a cell
    // and the 3px spacing); the matrix takes at most 62% of the width, the
    // elements the rest. Column heads grow with the cells: a few passes.
    const fit = () => {
      const table = tableRef.current;
      if (!table) return;
      const n = Math.max(rows.length, 1);
      for (let pass = 0; pass < 4; pass++) {
        const box = table.getBoundingClientRect();
        const top = box.top + window.scrollY;
        const head = table.tHead?.getBoundingClientRect().height ?? 0;
        const available = window.innerHeight - top - head - 12;
        let cell = Math.floor((available - 3) / n) - 3;
        const now = parseFloat(section.style.getPropertyValue("--cell"));
        const wide = window.innerWidth * 0.62;
        if (now > 0 && box.width > wide) cell = Math.min(cell, Math.floor((now * wide) / box.width));
        const next = `${Math.max(14, Math.min(64, cell))}px`;
        if (section.style.getPropertyValue("--cell") !== next) section.style.setProperty("--cell", next);
      }
    };
    fit();
    // Again whenever the page's layout changes: the top bar goes (the body's
    // projector class comes after this first fit), fonts load, the title wraps.
    const observer = new ResizeObserver(() => fit());
    observer.observe(document.body);
    window.addEventListener("resize", fit);
    return () => {
      observer.disconnect();
      window.removeEventListener("resize", fit);
    };
  }, [projector, rows.length, columns.length]);

  const nameOf = (code: string) => entities.find((e) => e.code === code)?.name ?? code;
  const labelOf = (id: string) => elements.find((e) => e.id === id)?.label ?? id;
  const statusAt = (id: string) => statusOf(consensus[id], props.report, id);

  return (
    <section class="matrix-section" aria-labelledby="matrix-h" ref={sectionRef} style={{ "--rows": String(Math.max(rows.length, 1)) }}>
      <h2 id="matrix-h">{projector ? "Positions" : "Positions: entities × elements"}</h2>
      {!projector && (
        <div class="matrix-tools">
          <div class="filters" role="group" aria-label="Show only entities with">
            <span class="tools-label" aria-hidden="true">
              Show:
            </span>
            <button type="button" class="compact filter" data-testid="filter-none" aria-pressed={filter === null} onClick={() => setFilter(null)}>
              All entities
            </button>
            {FILTERS.map((f) => (
              <button
                key={f.id}
                type="button"
                class={`compact filter filter-${f.id}`}
                data-testid={`filter-${f.id}`}
                aria-pressed={filter === f.id}
                title={`Entities with ${f.hint}; their cells are outlined`}
                onClick={() => setFilter(filter === f.id ? null : f.id)}
              >
                {f.label}
              </button>
            ))}
          </div>
          <div class="sorts">
            <label class="inline">
              Entities by{" "}
              <select value={rowSort} onChange={(e) => setRowSort((e.target as HTMLSelectElement).value as RowSort)}>
                <option value="order">draft order</option>
                <option value="code">code</option>
                <option value="name">name</option>
                <option value="problems">most problems first</option>
              </select>
            </label>
            <label class="inline">
              Elements by{" "}
              <select value={colSort} onChange={(e) => setColSort((e.target as HTMLSelectElement).value as ColSort)}>
                <option value="order">draft order</option>
                <option value="problems">most problems first</option>
              </select>
            </label>
          </div>
        </div>
      )}
      {activeFilter && (
        <p class="filter-note" role="status">
          {rows.length === 0
            ? `No entity has ${FILTERS.find((f) => f.id === activeFilter)!.hint}.`
            : `${plural(rows.length, "entity has", "entities have")} ${FILTERS.find((f) => f.id === activeFilter)!.hint}; those cells are outlined.`}
        </p>
      )}
      <div class="matrix-scroll">
        <table class="matrix" data-testid="matrix" ref={tableRef} onKeyDown={moveFocus} data-filter={activeFilter ?? "none"}>
          <caption class="visually-hidden">
            Positions of {plural(entities.length, "entity", "entities")} (rows) on {plural(elements.length, "element", "elements")} (columns).
            {projector ? "" : " Use the arrow keys to move between cells; each cell's details are read with it."}
          </caption>
          <thead>
            <tr>
              <th scope="col" class="corner">
                Entity
              </th>
              {columns.map((el) => {
                const status = statusAt(el.id);
                return (
                  <th key={el.id} scope="col" class={`col-head colstatus-${status}`} data-element-id={el.id}>
                    <span class="col-label">{el.label}</span>
                    <span class={`col-status badge-${status}`}>
                      <span aria-hidden="true">{STATUS_SYMBOL[status]}</span>
                      <span class="visually-hidden">{STATUS_WORDS[status]}</span>
                    </span>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr>
                <td colSpan={columns.length + 1} class="matrix-empty">
                  No entity matches this filter.
                </td>
              </tr>
            )}
            {rows.map((en) => (
              <tr key={en.code} data-testid="matrix-row" data-entity={en.code}>
                <th scope="row" class="row-head">
                  <span class="row-code">{en.code}</span>
                  {!projector && en.name !== en.code && <span class="row-name">{en.name}</span>}
                </th>
                {columns.map((el) => {
                  const { pos, p } = grid.get(en.code)!.get(el.id)!;
                  const highlight = activeFilter !== null && matches(activeFilter, pos);
                  const isFocus = focusCell?.entity === en.code && focusCell.element === el.id;
                  const tipOn = tip?.entity === en.code && tip.element === el.id;
                  const show = (target: EventTarget | null) => {
                    if (target instanceof HTMLElement) setTip({ entity: en.code, element: el.id, cell: target });
                  };
                  return (
                    <td
                      key={el.id}
                      class={`mcell cell-${pos}${highlight ? " mcell-hit" : ""}`}
                      data-testid="matrix-cell"
                      data-entity={en.code}
                      data-element-id={el.id}
                      data-position={pos}
                      data-highlight={highlight ? "true" : undefined}
                      tabIndex={projector ? undefined : isFocus ? 0 : -1}
                      aria-describedby={tipOn ? "matrix-tip" : undefined}
                      onMouseEnter={(e) => show(e.currentTarget)}
                      onMouseLeave={() => setTip((t) => (t?.entity === en.code && t.element === el.id ? null : t))}
                      onFocus={(e) => {
                        setFocus({ entity: en.code, element: el.id });
                        show(e.currentTarget);
                      }}
                      onBlur={() => setTip((t) => (t?.entity === en.code && t.element === el.id ? null : t))}
                    >
                      <span class="cell-symbol" aria-hidden="true">
                        {CELL_SYMBOL[pos]}
                      </span>
                      <span class="visually-hidden">
                        {en.code} on {el.label}: {CELL_WORDS[pos]}
                        {p?.note ? `. ${p.position === "object" ? "Reason" : "Note"}: ${p.note}` : ""}
                      </span>
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {tip && tip.cell.isConnected && (
        <CellTip
          rect={tip.cell.getBoundingClientRect()}
          code={tip.entity}
          name={nameOf(tip.entity)}
          label={labelOf(tip.element)}
          p={consensus[tip.element]?.positions?.[tip.entity]}
        />
      )}
      <ul class="matrix-legend" aria-label="Key to the cells">
        {LEGEND.map((pos) => (
          <li key={pos}>
            <span class={`mcell-key cell-${pos}`} aria-hidden="true">
              {CELL_SYMBOL[pos]}
            </span>{" "}
            {CELL_WORDS[pos].charAt(0).toUpperCase() + CELL_WORDS[pos].slice(1)}
          </li>
        ))}
      </ul>
    </section>
  );
}

function CellTip(props: { rect: DOMRect; code: string; name: string; label: string; p: ProjectedPosition | undefined }) {
  const { rect, p } = props;
  const below = rect.bottom + 220 < window.innerHeight;
  const width = Math.min(400, window.innerWidth - 16);
  const left = Math.max(8, Math.min(rect.left + rect.width / 2 - width / 2, window.innerWidth - width - 8));
  const style = below ? { top: `${rect.bottom + 6}px`, left: `${left}px`, width: `${width}px` } : { bottom: `${window.innerHeight - rect.top + 6}px`, left: `${left}px`, width: `${width}px` };
  const pos = cellPosition(p);
  return (
    <div id="matrix-tip" class="matrix-tip" role="tooltip" style={style}>
      <p class="tip-head">
        <strong>{props.code}</strong>
        {props.name !== props.code && <span class="muted"> — {props.name}</span>}
      </p>
      <p>
        On <strong>{props.label}</strong>:{" "}
        {!p || p.standing === "no_response" ? (
          "no position yet."
        ) : (
          <>
            <strong>{STANCE_LABEL[p.position] ?? p.position}</strong>
            {p.standing === "stale" ? " — stale: given on an earlier text, it does not count." : " (on the current text)."}
          </>
        )}
      </p>
      {p?.note && (
        <p>
          {p.position === "object" ? "Reason" : "Note"}: “{p.note}”
        </p>
      )}
      {p?.wording && <p>Proposed wording: “{p.wording}”</p>}
      {p && p.standing !== "no_response" && (
        <p class="muted">
          {p.by_silence ? "Recorded by silence" : p.user_name ? `Given by ${p.user_name}` : "Given"}
          {p.at ? `, ${utc(p.at)}` : ""}
        </p>
      )}
      <span class="visually-hidden">{CELL_WORDS[pos]}</span>
    </div>
  );
}

// ------------------------------------------------------------ one element

function BoardElement(props: {
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

/** A modal confirmation (the native <dialog>: focus moves in and is kept
 * there, Escape cancels, the page behind is inert). Named by its title;
 * the cancel button has the focus first, so Enter does not destroy. */
function ConfirmDialog(props: {
  testid: string;
  title: string;
  confirm: string;
  confirmTestid: string;
  cancelTestid: string;
  onClose: (confirmed: boolean) => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useMemo(() => `confirm-${Math.random().toString(36).slice(2, 9)}`, []);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    dialog?.querySelector<HTMLElement>(`[data-testid="${props.cancelTestid}"]`)?.focus();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <dialog
      ref={ref}
      class="confirm-dialog"
      data-testid={props.testid}
      aria-labelledby={`${id}-h`}
      aria-describedby={`${id}-d`}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose(false);
      }}
    >
      <h2 id={`${id}-h`}>{props.title}</h2>
      <p id={`${id}-d`}>{props.children}</p>
      <div class="form-buttons">
        <button type="button" class="compact secondary" data-testid={props.cancelTestid} onClick={() => props.onClose(false)}>
          Cancel
        </button>
        <button type="button" class="compact danger" data-testid={props.confirmTestid} onClick={() => props.onClose(true)}>
          {props.confirm}
        </button>
      </div>
    </dialog>
  );
}

/** Focuses a control of an element once the board has re-rendered (its
 * card may have moved). */
function requestFocus(elementId: string, testid: string) {
  let tries = 0;
  const attempt = () => {
    const card = document.querySelector(`[data-testid="board-element"][data-element-id="${CSS.escape(elementId)}"]`);
    const target = card?.querySelector<HTMLElement>(`[data-testid="${testid}"]`);
    if (target && target.getAttribute("aria-disabled") !== "true") {
      target.focus();
      return;
    }
    if (++tries < 20) setTimeout(attempt, 100);
    else (card as HTMLElement | null)?.querySelector<HTMLElement>("button:not([aria-disabled='true'])")?.focus();
  };
  setTimeout(attempt, 50);
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

// ---------------------------------------------------------------- procedure

function ProcedurePanel(props: {
  session: DraftSession;
  draftId: string;
  elements: IndexEntry[];
  consensus: Record<string, ConsensusElement>;
  report: ConsensusReport | null;
  state: DraftState | null;
  selected: ReadonlySet<string>;
  setSelected: (s: ReadonlySet<string>) => void;
  offset: number;
  actions: Actions;
  setRefusals: (r: Record<string, string>) => void;
  entities: Entity[];
}) {
  const { elements, consensus, actions, draftId } = props;
  const [deadline, setDeadlineValue] = useState<string>(() => utcInputValue(roundUp(Date.now() + props.offset + 65 * 60_000)));
  const edited = useRef(false);
  const setDeadline = (value: string) => {
    edited.current = true;
    setDeadlineValue(value);
  };
  // Until the chair types one, the suggestion follows the server's clock.
  useEffect(() => {
    if (!edited.current) setDeadlineValue(utcInputValue(roundUp(Date.now() + props.offset + 65 * 60_000)));
  }, [props.offset]);
  const [name, setName] = useState("");
  const [versionName, setVersionName] = useState("");
  const now = useServerNow(props.offset);
  const statusAt = (id: string) => statusOf(consensus[id], props.report, id);
  const chosen = elements.filter((e) => props.selected.has(e.id) && !silenceBlock(statusAt(e.id)));
  // The stale objections silence would turn into support on the chosen
  // elements: the chair must see them and confirm (the server insists too).
  const staleObjections = chosen.flatMap((e) =>
    tally(props.entities, consensus[e.id]).staleObjections.map(([entity, p]) => ({ element: e, entity, p })),
  );
  const staleKey = staleObjections.map((o) => `${o.element.id}:${o.entity}:${o.p.at}`).join("|");
  // A confirmation holds for the objections it was given on, no others.
  const [confirmedKey, setConfirmedKey] = useState<string | null>(null);
  const staleConfirmed = staleObjections.length > 0 && confirmedKey === staleKey;
  const [serverStale, setServerStale] = useState<StaleObjection[]>([]);
  const nameOf = (code: string) => props.entities.find((x) => x.code === code)?.name ?? code;
  const eligible = elements.filter((e) => !silenceBlock(statusAt(e.id)));
  const underSilence = elements.filter((e) => statusAt(e.id) === "under_silence");
  const parsed = parseUtcInput(deadline);
  const adoptedCount = elements.filter((e) => statusAt(e.id) === "adopted").length;
  const allAdopted = elements.length > 0 && adoptedCount === elements.length;
  const draftAdopted = props.state === "adopted";

  const preset = (minutes: number) => setDeadline(utcInputValue(roundUp(Date.now() + props.offset + minutes * 60_000)));

  const start = async () => {
    if (chosen.length === 0) {
      actions.fail(
        eligible.length === 0
          ? "No element can go under silence now: objected, bracketed, adopted elements and those already under silence cannot."
          : "Choose the elements first: tick them in the list of elements of this form.",
      );
      return;
    }
    if (!Number.isFinite(parsed)) {
      actions.fail("The deadline is not a date and time: write it as YYYY-MM-DDTHH:MM, in UTC (for example 2026-05-01T12:00).");
      return;
    }
    if (parsed <= Date.now() + props.offset) {
      actions.fail(`The deadline ${utc(parsed)} has already passed (server time now ${utc(Date.now() + props.offset)}). Choose a later one.`);
      return;
    }
    if (staleObjections.length > 0 && !staleConfirmed) {
      actions.fail(
        `Confirm the stale objections first: ${list(staleObjections.map((o) => `${o.entity} on ${o.element.label}`))} objected on an earlier text, and silence would record them as support.`,
      );
      document.querySelector<HTMLElement>('[data-testid="silence-confirm-stale"]')?.focus();
      return;
    }
    props.setRefusals({});
    setServerStale([]);
    const labels = list(chosen.map((e) => e.label));
    let refused: Record<string, string> = {};
    const ok = await actions.run(
      "silence",
      async () => {
        try {
          const r = await api.startSilence(
            draftId,
            chosen.map((e) => e.id),
            isoSeconds(parsed),
            staleConfirmed,
          );
          const until = r.silences[0]?.deadline ? utc(Date.parse(r.silences[0].deadline)) : utc(parsed);
          const confirmed = r.silences.flatMap((x) => x.confirmed_stale_objections ?? []).map((o) => o.entity);
          return (
            `Silence procedure started on ${labels} until ${until}: the text is locked, and entities without a current position will be recorded as supporting unless someone objects first.` +
            (confirmed.length > 0 ? ` The stale objections you confirmed (${list(confirmed)}) are on record.` : "")
          );
        } catch (e) {
          if (e instanceof ApiError && Array.isArray(e.body.refusals)) {
            refused = Object.fromEntries((e.body.refusals as SilenceRefusal[]).map((r) => [r.element, r.message]));
          }
          if (e instanceof ApiError && e.code === "stale_objections" && Array.isArray(e.body.stale_objections)) {
            // New ones since the board last heard: show the server's list
            // and ask again.
            setServerStale(e.body.stale_objections as StaleObjection[]);
            setConfirmedKey(null);
          }
          throw e;
        }
      },
      `Silence was not started on ${labels}`,
    );
    props.setRefusals(refused);
    if (ok) {
      props.setSelected(new Set());
      setConfirmedKey(null);
    }
  };
  const toggle = (id: string, on: boolean) => {
    const next = new Set(props.selected);
    if (on) next.add(id);
    else next.delete(id);
    props.setSelected(next);
  };

  return (
    <section class="procedure" aria-labelledby="procedure-h">
      <h2 id="procedure-h" class="visually-hidden">
        Procedure
      </h2>
      <div class="procedure-grid">
        <form
          class="silence-form"
          data-testid="silence-form"
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          <h3>Start a silence procedure</h3>
          <fieldset class="silence-choice">
            <legend>Elements to put under silence</legend>
            <ul class="silence-choice-list">
              {elements.map((e) => {
                const status = statusAt(e.id);
                const why = silenceBlock(status);
                const t = tally(props.entities, consensus[e.id]);
                const id = `silence-choice-${e.id}`;
                return (
                  <li key={e.id} class={why ? "check-off" : undefined}>
                    <input
                      type="checkbox"
                      id={id}
                      data-testid="silence-select"
                      data-element-id={e.id}
                      checked={props.selected.has(e.id) && !why}
                      disabled={!!why}
                      aria-describedby={`${id}-why`}
                      onChange={(ev) => toggle(e.id, (ev.target as HTMLInputElement).checked)}
                    />
                    <label for={id}>{e.label}</label>
                    <span class={`badge badge-${status}`}>
                      <span aria-hidden="true">{STATUS_SYMBOL[status]} </span>
                      {STATUS_WORDS[status]}
                    </span>
                    <span class="muted silence-choice-why" id={`${id}-why`}>
                      {why ??
                        (t.notResponded.length > 0
                          ? `${notRespondedWords(t.missing.length, t.stale.length)}${t.staleObjections.length > 0 ? `, ${plural(t.staleObjections.length, "stale objection", "stale objections")}` : ""}`
                          : "everyone has a current position")}
                    </span>
                  </li>
                );
              })}
            </ul>
          </fieldset>
          <p class="muted">
            {chosen.length === 0 ? "Tick the elements above (open or agreed, not objected, bracketed or adopted)." : `Chosen: ${list(chosen.map((e) => e.label))}.`}
            {eligible.length > 0 && chosen.length < eligible.length && (
              <>
                {" "}
                <button type="button" class="link" onClick={() => props.setSelected(new Set(eligible.map((e) => e.id)))}>
                  Choose all {eligible.length} that can
                </button>
              </>
            )}
            {chosen.length > 0 && (
              <>
                {" "}
                <button type="button" class="link" onClick={() => props.setSelected(new Set())}>
                  Clear
                </button>
              </>
            )}
          </p>
          <div class="deadline-row">
            <label for="silence-deadline" class="inline">
              Deadline (UTC, YYYY-MM-DDTHH:MM)
            </label>
            <input
              id="silence-deadline"
              data-testid="silence-deadline"
              type="text"
              inputMode="numeric"
              autoComplete="off"
              spellcheck={false}
              placeholder="2026-05-01T12:00"
              value={deadline}
              aria-describedby="silence-deadline-hint"
              aria-invalid={deadline !== "" && !Number.isFinite(parsed) ? "true" : undefined}
              onInput={(e) => setDeadline((e.target as HTMLInputElement).value)}
            />
            <span class="presets" role="group" aria-label="Set the deadline">
              <button type="button" class="compact secondary" onClick={() => preset(65)}>
                in 1 h
              </button>
              <button type="button" class="compact secondary" onClick={() => preset(24 * 60)}>
                in 24 h
              </button>
              <button type="button" class="compact secondary" onClick={() => preset(72 * 60)}>
                in 3 days
              </button>
            </span>
            <button
              type="submit"
              class="primary"
              data-testid="silence-start"
              aria-disabled={actions.busy ? "true" : undefined}
              aria-describedby={staleObjections.length > 0 ? "silence-stale-h" : undefined}
            >
              Start silence{chosen.length > 0 ? ` on ${list(chosen.map((e) => e.label))}` : ""}
            </button>
          </div>
          <p id="silence-deadline-hint" class="hint">
            {Number.isFinite(parsed) ? (
              parsed > now ? (
                <>
                  {weekday(parsed)} {utc(parsed)}, {duration(parsed - now)} from now.
                </>
              ) : (
                <>That time has passed (server time now {utc(now)}).</>
              )
            ) : (
              <>Not a date and time yet: write it as YYYY-MM-DDTHH:MM, in UTC.</>
            )}{" "}
            The server sets the minimum notice.
          </p>
          {underSilence.length > 0 && <p class="muted">Under silence now: {list(underSilence.map((e) => e.label))} (cancel on each element).</p>}
          {(staleObjections.length > 0 || serverStale.length > 0) && (
            <div class="silence-stale" data-testid="silence-stale" role="group" aria-labelledby="silence-stale-h">
              <p id="silence-stale-h">
                <strong>
                  {plural(staleObjections.length || serverStale.length, "objection was", "objections were")} given on an earlier text.
                </strong>{" "}
                The text has changed since, so {staleObjections.length === 1 ? "it does" : "they do"} not count now; at the deadline silence records{" "}
                {staleObjections.length === 1 ? "it" : "them"} as support unless the entity objects again on the locked text.
              </p>
              <ul>
                {staleObjections.map((o) => (
                  <li key={`${o.element.id}:${o.entity}`} data-testid="silence-stale-objection" data-entity={o.entity} data-element-id={o.element.id}>
                    <strong>{o.entity}</strong>
                    {nameOf(o.entity) !== o.entity && <span class="muted"> ({nameOf(o.entity)})</span>} on {o.element.label}: “{o.p.note ?? "no reason given"}”
                    <span class="muted">
                      {" "}
                      — {o.p.user_name ?? "a delegate"}
                      {o.p.at ? `, ${utc(o.p.at)}` : ""}
                    </span>
                  </li>
                ))}
                {serverStale
                  .filter((x) => !staleObjections.some((o) => o.element.id === x.element && o.entity === x.entity))
                  .map((x) => (
                    <li key={`${x.element}:${x.entity}`} data-testid="silence-stale-objection" data-entity={x.entity} data-element-id={x.element}>
                      <strong>{x.entity}</strong> on {x.label}: “{x.note ?? "no reason given"}”
                    </li>
                  ))}
              </ul>
              <label class="check">
                <input
                  type="checkbox"
                  data-testid="silence-confirm-stale"
                  checked={staleConfirmed}
                  disabled={staleObjections.length === 0}
                  onChange={(ev) => setConfirmedKey((ev.target as HTMLInputElement).checked ? staleKey : null)}
                />{" "}
                I confirm: record {staleObjections.length === 1 ? "this objection" : "these objections"} as support by silence at the deadline unless{" "}
                {staleObjections.length === 1 ? "its entity objects" : "their entities object"} again.
              </label>
            </div>
          )}
        </form>

        <form
          class="adopt-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (!allAdopted || draftAdopted) return;
            void actions.run(
              "adopt-draft",
              async () => {
                const r = await api.adoptDraft(draftId, name.trim() || null);
                return `The draft is adopted. Final version recorded as “${r.version.name}”.`;
              },
              "Could not adopt the draft",
            );
          }}
        >
          <h3>Adopt the draft</h3>
          {draftAdopted ? (
            <p class="be-adopted">The draft is adopted; its final version is recorded.</p>
          ) : (
            <>
              <p class="muted" id="adopt-draft-why">
                {allAdopted
                  ? "Every element is adopted: the draft can be adopted, recording a named final version."
                  : `Possible once every element is adopted: ${adoptedCount} of ${plural(elements.length, "element", "elements")} adopted so far.`}
              </p>
              <div class="deadline-row">
                <label for="adopt-draft-name" class="inline">
                  Name of the final version
                </label>
                <input
                  id="adopt-draft-name"
                  data-testid="adopt-draft-name"
                  value={name}
                  placeholder="Adopted text"
                  maxLength={200}
                  onInput={(e) => setName((e.target as HTMLInputElement).value)}
                />
                <button
                  type="submit"
                  class="primary"
                  data-testid="adopt-draft"
                  aria-disabled={!allAdopted || actions.busy ? "true" : undefined}
                  aria-describedby="adopt-draft-why"
                >
                  Adopt the draft
                </button>
              </div>
            </>
          )}
        </form>

        <form
          class="adopt-form"
          onSubmit={(e) => {
            e.preventDefault();
            const wanted = versionName.trim();
            if (!wanted) return;
            void actions.run(
              "name-version",
              async () => {
                const v = await api.nameVersion(draftId, wanted);
                setVersionName("");
                return `The draft as it stands now is recorded as “${v.name}”: reviewers find it on the timeline.`;
              },
              "Could not name the version",
            );
          }}
        >
          <h3>Name this version</h3>
          <p class="muted" id="name-version-why">
            Records the whole draft as it stands now (for instance “Rev.2”), to read, compare and export later.
          </p>
          <div class="deadline-row">
            <label for="name-version-input" class="inline">
              Version name
            </label>
            <input
              id="name-version-input"
              data-testid="name-version-input"
              value={versionName}
              placeholder="Rev.2"
              maxLength={200}
              onInput={(e) => setVersionName((e.target as HTMLInputElement).value)}
            />
            <button
              type="submit"
              data-testid="name-version-submit"
              aria-disabled={!versionName.trim() || actions.busy ? "true" : undefined}
              aria-describedby="name-version-why"
            >
              Name the version
            </button>
          </div>
        </form>
      </div>
    </section>
  );
}

/** "— who, when" after a position on an element's panel. */
function ByLine(props: { p: { user_name: string | null; at: number | null } }) {
  return (
    <span class="muted be-by">
      {" "}
      — {props.p.user_name ?? "a delegate"}
      {props.p.at ? `, ${utc(props.p.at)}` : ""}
    </span>
  );
}

function roundUp(ms: number, minutes = 5): number {
  const step = minutes * 60_000;
  return Math.ceil(ms / step) * step;
}

function weekday(ms: number): string {
  return ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"][new Date(ms).getUTCDay()];
}

// ---------------------------------------------------------------- structure

/** The draft's title or preamble, shown, and edited in place on request. */
function DraftTextField(props: { draftId: string; field: "title" | "preamble"; value: string; actions: Actions }) {
  const { draftId, field, value, actions } = props;
  const name = field === "title" ? "Title" : "Preamble";
  const [editing, setEditing] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (editing !== null) inputRef.current?.focus();
  }, [editing !== null]);

  const save = async () => {
    const next = field === "title" ? (editing ?? "").trim() : (editing ?? "");
    if (field === "title" && !next) {
      actions.fail("A title cannot be empty.");
      return;
    }
    const ok = await actions.run(
      field,
      async () => {
        await api.updateDraft(draftId, { [field]: next });
        return `${name} saved: everyone sees it now.`;
      },
      `Could not save the ${field}`,
    );
    if (ok) {
      setEditing(null);
      setTimeout(() => editButton.current?.focus(), 0);
    }
  };

  if (editing === null) {
    const edit = (
      <button type="button" class="compact secondary" data-testid={`edit-${field}`} ref={editButton} onClick={() => setEditing(value)}>
        Edit {field}
      </button>
    );
    return field === "title" ? (
      <p class="current">
        <span class="muted">Title: </span>
        {value} {edit}
      </p>
    ) : (
      <div class="current">
        <p class="preamble-small">
          <span class="muted">Preamble: </span>
          {value || <span class="muted">(none)</span>}
        </p>
        {edit}
      </div>
    );
  }
  const input = {
    id: `${field}-input`,
    ref: inputRef,
    "data-testid": `${field}-input`,
    value: editing,
    onInput: (e: Event) => setEditing((e.target as HTMLInputElement).value),
    onKeyDown: (e: KeyboardEvent) => e.key === "Escape" && setEditing(null),
  };
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <label for={`${field}-input`}>{name}</label>
      {field === "title" ? <input {...input} maxLength={500} required /> : <textarea {...input} rows={4} />}
      <div class="form-buttons">
        <button type="submit" class="compact primary" data-testid={`${field}-submit`} aria-disabled={actions.busy ? "true" : undefined}>
          Save {field}
        </button>
        <button type="button" class="compact secondary" onClick={() => setEditing(null)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function StructurePanel(props: {
  draftId: string;
  title: string;
  preamble: string;
  elements: IndexEntry[];
  archived: ArchivedElement[];
  actions: Actions;
  afterChange: () => Promise<void>;
}) {
  const { draftId, actions, elements } = props;
  const [label, setLabel] = useState("");
  const [text, setText] = useState("");
  const [where, setWhere] = useState("end");
  const add = async () => {
    const l = label.trim();
    if (!l) {
      actions.fail("The new element needs a label, for example “(i)”.");
      return;
    }
    const position = where === "end" ? null : Number(where);
    const ok = await actions.run(
      "add",
      async () => {
        const created = await api.addElement(draftId, { label: l, text, position });
        return `Added ${created.label} ${position === null ? "at the end" : `at place ${created.position + 1}`}.`;
      },
      `Could not add ${l}`,
    );
    if (ok) {
      setLabel("");
      setText("");
      setWhere("end");
    }
  };

  return (
    <section class="structure" data-testid="structure" aria-labelledby="structure-h">
      <h2 id="structure-h">Structure</h2>
      <div class="structure-grid">
        <div class="structure-box">
          <h3>Title and preamble</h3>
          <DraftTextField draftId={draftId} field="title" value={props.title} actions={actions} />
          <DraftTextField draftId={draftId} field="preamble" value={props.preamble} actions={actions} />
        </div>

        <form
          class="structure-box"
          onSubmit={(e) => {
            e.preventDefault();
            void add();
          }}
        >
          <h3>Add an element</h3>
          <label for="add-element-label">Label (for example “(i)”)</label>
          <input
            id="add-element-label"
            data-testid="add-element-label"
            value={label}
            maxLength={100}
            onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
          />
          <label for="add-element-text">Text (optional)</label>
          <textarea id="add-element-text" data-testid="add-element-text" rows={3} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          <label for="add-element-where">Place</label>
          <select id="add-element-where" value={where} onChange={(e) => setWhere((e.target as HTMLSelectElement).value)}>
            <option value="end">At the end</option>
            {elements.map((e, i) => (
              <option key={e.id} value={String(i)}>
                Before {e.label}
              </option>
            ))}
          </select>
          <div class="form-buttons">
            <button type="submit" class="primary" data-testid="add-element-submit" aria-disabled={actions.busy ? "true" : undefined}>
              Add element
            </button>
          </div>
        </form>

        <div class="structure-box" data-testid="archived">
          <h3>Archived elements</h3>
          {props.archived.length === 0 ? (
            <p class="muted">None. An archived element leaves the draft, keeps its history and positions, and can be restored here.</p>
          ) : (
            <ul class="archived-list">
              {props.archived.map((a) => (
                <li key={a.id}>
                  <span>{a.label}</span>{" "}
                  <ActionButton
                    testid="restore-element"
                    elementId={a.id}
                    actions={actions}
                    class="compact secondary"
                    label={`Restore ${a.label}`}
                    onClick={() =>
                      void actions.run(
                        `restore-${a.id}`,
                        async () => {
                          const r = await api.restoreElement(draftId, a.id, null);
                          await props.afterChange();
                          return `${r.label} restored, at place ${r.position + 1}.`;
                        },
                        `Could not restore ${a.label}`,
                      )
                    }
                  >
                    Restore
                  </ActionButton>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </section>
  );
}
