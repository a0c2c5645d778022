// The timeline: revisions, positions and procedural events in one
// chronological list (GET …/history), filtered by element, entity, user and
// time range (all in the URL), paged by cursor: the next page loads as the
// list's end comes near (an IntersectionObserver on a sentinel) or on
// "Load more". Named versions (and the adopted draft) are landmarks.
// Positions recorded close together on one element fold into one entry
// (`foldEntries`), across pages: a run that may still grow waits for the
// next page before it is shown.

import { Component } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type EventItem, type HistoryFilters, type HistoryItem, type NamedVersion, type Person, type PositionItem, type RevisionItem, type Stance } from "./api";
import type { Palette } from "./colours";
import { STANCE_LABEL } from "./format";
import {
  EntityChip,
  Link,
  Loading,
  ReviewError,
  TimeInput,
  clockTime,
  dayName,
  errorMessage,
  isoMs,
  parseTyped,
  reviewPath,
  typedValue,
  utcTime,
  type Navigate,
  type ReviewContext,
} from "./review";

const PAGE = 100;
/** How close (px) the end of the list comes before the next page loads. */
const NEAR = 1200;
/** Positions on one element recorded within this long of the first of
 *  them (nothing else about the element in between) fold into one entry.
 *  Measured from the first, so a run never stays open for long and the
 *  entries after it are not held back. */
const GROUP_SPAN_MS = 10 * 60_000;

function filtersOf(search: string): HistoryFilters {
  const p = new URLSearchParams(search);
  const get = (k: string) => p.get(k) || undefined;
  return { element: get("element"), entity: get("entity"), user: get("user"), from: get("from"), to: get("to") };
}

/** The time an item stands at (a revision: its end). */
export function itemAt(item: HistoryItem): string {
  return item.kind === "revision" ? item.end : item.at;
}

function itemKey(item: HistoryItem): string {
  return item.kind === "revision" ? `r${item.id}` : item.kind === "position" ? `p${item.seq}` : `e${item.seq}`;
}

function isLandmark(item: HistoryItem): item is EventItem {
  return item.kind === "event" && (item.type === "version_named" || item.type === "draft_adopted");
}

function versionName(item: EventItem): string {
  const name = item.data?.name;
  return typeof name === "string" ? name : "";
}

/** What the timeline shows: one item, or folded positions. */
type Block =
  | { kind: "item"; item: HistoryItem }
  /** Positions one silence recorded (same element, same moment). */
  | { kind: "silence"; items: PositionItem[] }
  /** Positions stated on one element close together. */
  | { kind: "positions"; items: PositionItem[] };

interface Run {
  element: string;
  silence: boolean;
  items: PositionItem[];
  /** When the run's first position was recorded (ms). */
  startMs: number;
  open: boolean;
  /** Index of its first item in the folded list. */
  head: number;
}

/** The time the server orders an item by (a revision: its start). */
function orderMs(item: HistoryItem): number {
  return Date.parse(item.kind === "revision" ? item.start : item.at);
}

/**
 * Folds `items` (in the server's order) into blocks: positions on one
 * element within GROUP_SPAN_MS of the run's first, all on the same text,
 * become one block, placed where the run starts, unless something else
 * about the element comes in
 * between (an edit — positions after it are on another text — a chair's
 * action, a stale notice) or a named version (runs never straddle one);
 * positions recorded by one silence fold by themselves. Without `done`,
 * the blocks from the first run that may still grow on are held back:
 * `pending` is the items to fold again with the next page (those of runs
 * already shown left out).
 */
export function foldEntries(items: HistoryItem[], done: boolean): { blocks: Block[]; pending: HistoryItem[] } {
  const slots: ({ run: Run } | { item: HistoryItem; head: number })[] = [];
  const open = new Map<string, Run>();
  const close = (which: (run: Run) => boolean) => {
    for (const [key, run] of open)
      if (which(run)) {
        run.open = false;
        open.delete(key);
      }
  };
  items.forEach((item, index) => {
    const t = orderMs(item);
    close((run) => (run.silence ? t > run.startMs : t - run.startMs > GROUP_SPAN_MS));
    if (item.kind === "position" && item.element) {
      const key = item.by_silence ? `s ${item.element} ${item.at}` : `p ${item.element}`;
      const run = open.get(key);
      // All on one text: a position on another one (the edit in between
      // may be filtered out) starts a run of its own.
      if (run && run.items[0].text_hash === item.text_hash) {
        run.items.push(item);
        return;
      }
      if (run) close((r) => r === run);
      const started: Run = { element: item.element, silence: item.by_silence, items: [item], startMs: t, open: true, head: index };
      open.set(key, started);
      slots.push({ run: started });
      return;
    }
    if (isLandmark(item)) close(() => true);
    else if (item.element) close((run) => run.element === item.element);
    slots.push({ item, head: index });
  });
  if (done) close(() => true);
  const blocks: Block[] = [];
  const shown = new Set<HistoryItem>();
  let cut = slots.length;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    if ("item" in slot) {
      blocks.push({ kind: "item", item: slot.item });
      shown.add(slot.item);
      continue;
    }
    const { run } = slot;
    if (run.open) {
      cut = i;
      break;
    }
    for (const item of run.items) shown.add(item);
    blocks.push(run.items.length === 1 ? { kind: "item", item: run.items[0] } : { kind: run.silence ? "silence" : "positions", items: run.items });
  }
  if (cut === slots.length) return { blocks, pending: [] };
  const from = (slots[cut] as { run: Run }).run.head;
  return { blocks, pending: items.slice(from).filter((item) => !shown.has(item)) };
}

function blockItem(block: Block): HistoryItem {
  return block.kind === "item" ? block.item : block.items[0];
}

interface ListState {
  key: string;
  pages: HistoryItem[][];
  /** What is shown, a chunk per page load (each rendered once). */
  chunks: Block[][];
  /** Items loaded but not shown yet: from a run of positions that the
   *  next page may extend. */
  pending: HistoryItem[];
  next: string | null;
  done: boolean;
  loading: boolean;
  error: string | null;
}

export function Timeline(props: { ctx: ReviewContext }) {
  const { ctx } = props;
  const { draftId, draft, navigate, search } = ctx;
  const filters = filtersOf(search);
  const key = JSON.stringify(filters);
  const [state, setList] = useState<ListState>({ key, pages: [], chunks: [], pending: [], next: null, done: false, loading: true, error: null });
  const listRef = useRef(state);
  listRef.current = state;
  const generation = useRef(0);
  const sentinel = useRef<HTMLDivElement>(null);
  const sentinelVisible = useRef(false);

  const loadPage = async (reset: boolean) => {
    const current = listRef.current;
    if (!reset && (current.key !== key || current.loading || current.done || current.error)) return;
    const gen = reset ? ++generation.current : generation.current;
    const cursor = reset ? null : current.next;
    const base: ListState = reset ? { key, pages: [], chunks: [], pending: [], next: null, done: false, loading: true, error: null } : { ...current, loading: true, error: null };
    listRef.current = base;
    setList(base);
    try {
      const page = await api.history(draftId, filters, cursor, PAGE);
      if (gen !== generation.current) return;
      const before = listRef.current;
      const folded = foldEntries([...before.pending, ...page.items], !page.next);
      const next: ListState = {
        ...before,
        pages: page.items.length ? [...before.pages, page.items] : before.pages,
        chunks: folded.blocks.length ? [...before.chunks, folded.blocks] : before.chunks,
        pending: folded.pending,
        next: page.next,
        done: !page.next,
        loading: false,
      };
      listRef.current = next;
      setList(next);
    } catch (e) {
      if (gen !== generation.current) return;
      const failed = { ...listRef.current, loading: false, error: errorMessage(e) };
      listRef.current = failed;
      setList(failed);
    }
  };
  const loadRef = useRef(loadPage);
  loadRef.current = loadPage;

  // New filters: start over.
  useEffect(() => {
    void loadRef.current(true);
  }, [draftId, key]);

  // Near the end of the list: the next page. rootMargin loads it well before
  // the sentinel shows.
  useEffect(() => {
    const node = sentinel.current;
    if (!node || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver(
      (entries) => {
        sentinelVisible.current = entries.some((e) => e.isIntersecting);
        if (sentinelVisible.current) void loadRef.current(false);
      },
      { rootMargin: `0px 0px ${NEAR}px 0px` },
    );
    observer.observe(node);
    return () => observer.disconnect();
  }, []);
  // A page that did not push the sentinel out of reach: the next one too
  // (measured now: the observer reports only changes).
  useEffect(() => {
    const node = sentinel.current;
    if (!node || state.key !== key || state.loading || state.done || state.error || !sentinelVisible.current) return;
    if (node.getBoundingClientRect().top < window.innerHeight + NEAR) void loadRef.current(false);
  }, [state.pages.length, state.loading]);

  const setFilter = (patch: HistoryFilters) => {
    const next = { ...filters, ...patch };
    navigate(reviewPath(draftId, "history", { ...next }), true);
  };

  // Until the effect starts over, a list of other filters is not shown.
  const list = state.key === key ? state : { ...state, key, pages: [], chunks: [], pending: [], next: null, done: false, loading: true, error: null };
  const count = list.chunks.reduce((n, p) => n + p.length, 0);
  const filtered = Object.values(filters).some(Boolean);
  const elements = [...draft.elements.map((e) => ({ id: e.id, label: e.label, archived: false })), ...(draft.archived_elements ?? []).map((e) => ({ id: e.id, label: e.label, archived: true }))];
  const labelOf = new Map(elements.map((e) => [e.id, e.label]));

  return (
    <div class="timeline-layout">
      <div class="timeline-main">
        <Filters ctx={ctx} filters={filters} elements={elements} people={ctx.people} pages={list.pages} onChange={setFilter} />
        <p class="timeline-count muted" role="status" aria-live="polite">
          {list.loading && count === 0
            ? ""
            : `${count} ${count === 1 ? "entry" : "entries"}${list.done ? "" : " so far"}${filtered ? " matching the filters" : ""}, oldest first.`}
        </p>
        <ol class="timeline" data-testid="timeline" aria-busy={list.loading ? "true" : "false"} aria-label="History, oldest first">
          {list.chunks.map((blocks, i) => (
            <TimelinePage
              key={`${list.key}-${i}`}
              blocks={blocks}
              previous={i > 0 ? blockItem(list.chunks[i - 1][list.chunks[i - 1].length - 1]) : null}
              draftId={draftId}
              palette={ctx.palette}
              labels={labelOf}
              navigate={navigate}
            />
          ))}
        </ol>
        <div ref={sentinel} class="timeline-sentinel" aria-hidden="true" />
        {list.error && <ReviewError message={list.error} onRetry={() => void loadRef.current(list.pages.length === 0)} />}
        {list.loading && <Loading>{count === 0 ? "Loading the history…" : "Loading more…"}</Loading>}
        {!list.error && !list.done && !(list.loading && count === 0) && (
          <p class="timeline-more-row">
            <button
              type="button"
              class="secondary"
              data-testid="timeline-more"
              aria-busy={list.loading ? "true" : undefined}
              onClick={() => void loadRef.current(false)}
            >
              {list.loading ? "Loading more…" : "Load more"}
            </button>
          </p>
        )}
        {list.done && !list.loading && !list.error && (
          <p class={count === 0 ? "empty-state" : "timeline-end"} data-testid="timeline-end">
            {count === 0
              ? filtered
                ? "No revisions or events match these filters."
                : "Nothing has happened in this draft yet."
              : `End of the history${filtered ? " for these filters" : ""}: ${count} ${count === 1 ? "entry" : "entries"}.`}
          </p>
        )}
      </div>
      <aside class="timeline-side">
        <VersionsList ctx={ctx} />
      </aside>
    </div>
  );
}

// ---------------------------------------------------------------- filters

function Filters(props: {
  ctx: ReviewContext;
  filters: HistoryFilters;
  elements: { id: string; label: string; archived: boolean }[];
  people: Person[] | null;
  pages: HistoryItem[][];
  onChange: (patch: HistoryFilters) => void;
}) {
  const { filters, ctx } = props;
  const [from, setFrom] = useState(typedValue(filters.from));
  const [to, setTo] = useState(typedValue(filters.to));
  const [invalid, setInvalid] = useState<null | "from" | "to" | "order">(null);
  useEffect(() => {
    setFrom(typedValue(filters.from));
    setTo(typedValue(filters.to));
    setInvalid(null);
  }, [filters.from, filters.to]);

  // The people to pick from: the server's list, or, until it arrives (or
  // if it fails), those seen in the pages loaded so far.
  let people = props.people;
  if (!people) {
    const seen = new Map<string, Person>();
    for (const page of props.pages)
      for (const item of page) if (item.user && !seen.has(item.user)) seen.set(item.user, { user: item.user, name: item.user_name ?? item.user, entity: item.entity });
    people = [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
  if (filters.user && !people.some((p) => p.user === filters.user)) people = [...people, { user: filters.user, name: filters.user, entity: null }];
  const elements = props.elements;
  const unknownElement = filters.element && !elements.some((e) => e.id === filters.element);
  const entities = ctx.draft.entities ?? [];
  const unknownEntity = filters.entity && !entities.some((e) => e.code === filters.entity);

  const apply = (e: Event) => {
    e.preventDefault();
    const f = from.trim() ? parseTyped(from) : undefined;
    const t = to.trim() ? parseTyped(to) : undefined;
    if (f === null) return setInvalid("from");
    if (t === null) return setInvalid("to");
    if (f && t && Date.parse(f) >= Date.parse(t)) return setInvalid("order");
    setInvalid(null);
    props.onChange({ from: f, to: t });
  };
  const anything = Object.values(filters).some(Boolean) || from.trim() !== "" || to.trim() !== "";

  return (
    <form class="timeline-filters" onSubmit={apply} aria-label="Filter the history">
      <div class="filter-field">
        <label for="filter-element">Element</label>
        <select id="filter-element" data-testid="filter-element" value={filters.element ?? ""} onChange={(e) => props.onChange({ element: (e.target as HTMLSelectElement).value || undefined })}>
          <option value="">All elements and the draft</option>
          {elements
            .filter((e) => !e.archived)
            .map((e) => (
              <option key={e.id} value={e.id}>
                {e.label}
              </option>
            ))}
          {elements.some((e) => e.archived) && (
            <optgroup label="Archived">
              {elements
                .filter((e) => e.archived)
                .map((e) => (
                  <option key={e.id} value={e.id}>
                    {e.label} (archived)
                  </option>
                ))}
            </optgroup>
          )}
          {unknownElement && <option value={filters.element}>{filters.element}</option>}
        </select>
      </div>
      <div class="filter-field">
        <label for="filter-entity">Entity</label>
        <select id="filter-entity" data-testid="filter-entity" value={filters.entity ?? ""} onChange={(e) => props.onChange({ entity: (e.target as HTMLSelectElement).value || undefined })}>
          <option value="">All entities</option>
          {entities.map((e) => (
            <option key={e.code} value={e.code}>
              {e.code} — {e.name}
            </option>
          ))}
          {unknownEntity && <option value={filters.entity}>{filters.entity}</option>}
        </select>
      </div>
      <div class="filter-field">
        <label for="filter-user">Person</label>
        <select id="filter-user" data-testid="filter-user" value={filters.user ?? ""} onChange={(e) => props.onChange({ user: (e.target as HTMLSelectElement).value || undefined })}>
          <option value="">Everyone</option>
          {people.map((p) => (
            <option key={p.user} value={p.user}>
              {p.name}
              {p.entity ? ` (${p.entity})` : ""}
            </option>
          ))}
        </select>
      </div>
      <div class="filter-field filter-time">
        <label for="filter-from">
          From <span class="muted">(UTC)</span>
        </label>
        <TimeInput id="filter-from" testid="filter-from" value={from} invalid={invalid === "from" || invalid === "order"} describedBy="filter-time-hint" onInput={setFrom} />
      </div>
      <div class="filter-field filter-time">
        <label for="filter-to">
          Until <span class="muted">(UTC, not included)</span>
        </label>
        <TimeInput id="filter-to" testid="filter-to" value={to} invalid={invalid === "to" || invalid === "order"} describedBy="filter-time-hint" onInput={setTo} />
      </div>
      <div class="filter-buttons">
        <button type="submit" class="compact" data-testid="filter-apply">
          Apply times
        </button>
        <button
          type="button"
          class="compact secondary"
          data-testid="filter-clear"
          aria-disabled={anything ? undefined : "true"}
          onClick={() => {
            setFrom("");
            setTo("");
            setInvalid(null);
            props.onChange({ element: undefined, entity: undefined, user: undefined, from: undefined, to: undefined });
          }}
        >
          Clear filters
        </button>
      </div>
      <p id="filter-time-hint" class={`filter-hint ${invalid ? "field-error" : "hint"}`} role={invalid ? "alert" : undefined}>
        {invalid === "from" || invalid === "to"
          ? `“${invalid === "from" ? "From" : "Until"}” is not a UTC date and time like 2026-05-01T14:30.`
          : invalid === "order"
            ? "“From” must come before “Until”."
            : "Times like 2026-05-01T14:30 (seconds optional). The element, entity and person filters apply at once."}
      </p>
    </form>
  );
}

// ------------------------------------------------------------ the entries

interface PageProps {
  blocks: Block[];
  previous: HistoryItem | null;
  draftId: string;
  palette: Palette;
  labels: Map<string, string>;
  navigate: Navigate;
}

/** One page of entries; rendered once (pages loaded later leave it alone). */
class TimelinePage extends Component<PageProps> {
  shouldComponentUpdate(next: PageProps) {
    return next.blocks !== this.props.blocks || next.previous !== this.props.previous || next.palette !== this.props.palette || next.labels.size !== this.props.labels.size;
  }

  render() {
    const { blocks, previous } = this.props;
    const out = [];
    let lastDay = previous ? dayName(itemAt(previous)) : null;
    for (const block of blocks) {
      const item = blockItem(block);
      const day = dayName(itemAt(item));
      if (day !== lastDay) {
        out.push(
          <li key={`day-${itemKey(item)}`} class="tl-day">
            <h2>{day}</h2>
          </li>,
        );
        lastDay = day;
      }
      if (block.kind === "silence") out.push(<SilenceGroup key={`group-${itemKey(item)}`} {...this.props} group={block.items} />);
      else if (block.kind === "positions") out.push(<PositionGroup key={`group-${itemKey(item)}`} {...this.props} group={block.items} />);
      else out.push(<Entry key={itemKey(item)} item={item} {...this.props} />);
    }
    return <>{out}</>;
  }
}

/** Chair actions on an element that read "<chair> <verb> <element>". */
const CHAIR_ACTS: Record<string, string> = {
  element_archived: "archived",
  element_restored: "restored",
  silence_started: "started the silence procedure on",
  silence_cancelled: "cancelled the silence procedure on",
  element_adopted: "adopted",
  element_reopened: "reopened",
};

/** Positions recorded by one silence, folded: who, then each on request. */
function SilenceGroup(props: PageProps & { group: PositionItem[] }) {
  const items = props.group;
  const first = items[0];
  const label = (first.element && (first.label ?? props.labels.get(first.element))) || first.element || "";
  return (
    <li class="tl-group" data-testid="timeline-silence-group">
      <details>
        <summary>
          <span class="tl-when">
            <time dateTime={first.at} title={utcTime(first.at)}>
              {clockTime(first.at)}
            </time>
          </span>
          <span class="tl-marker tl-fold" aria-hidden="true">
            ▸
          </span>
          <span>
            Support recorded by silence for {plural(items.length, "entity", "entities")} on <strong class="tl-label">{label}</strong>:{" "}
            {items.map((i) => i.entity).join(", ")}
          </span>
        </summary>
        <ol class="tl-list tl-group-list">
          {items.map((item) => (
            <Entry key={itemKey(item)} item={item} {...props} />
          ))}
        </ol>
      </details>
    </li>
  );
}

/** The order stances are counted in. */
const STANCES: Stance[] = ["support", "support_ad_ref", "reservation", "abstain", "object"];

/** Positions stated on one element close together, folded: how many of
 *  each stance and by whom, then each on request. */
function PositionGroup(props: PageProps & { group: PositionItem[] }) {
  const items = props.group;
  const first = items[0];
  const last = items[items.length - 1];
  const label = (first.element && (first.label ?? props.labels.get(first.element))) || first.element || "";
  const tally = new Map<string, number>();
  for (const item of items) tally.set(item.position, (tally.get(item.position) ?? 0) + 1);
  const order = [...STANCES.filter((s) => tally.has(s)), ...[...tally.keys()].filter((s) => !STANCES.includes(s as Stance))];
  const counts = order.map((s) => `${tally.get(s)} ${(STANCE_LABEL[s as Stance] ?? s).toLowerCase()}`).join(", ");
  const entities = [...new Set(items.map((i) => i.entity))];
  const range = clockTime(first.at) === clockTime(last.at) ? clockTime(first.at) : `${clockTime(first.at)}–${clockTime(last.at)}`;
  return (
    <li
      class="tl-group tl-position-group"
      data-testid="timeline-position-group"
      data-element-id={first.element ?? ""}
      data-count={items.length}
      data-counts={order.map((s) => `${s}:${tally.get(s)}`).join(" ")}
      data-at={first.at}
    >
      <details>
        <summary>
          <span class="tl-when">
            <time dateTime={first.at} title={`${utcTime(first.at)} to ${utcTime(last.at)}`}>
              {range}
            </time>
          </span>
          <span class="tl-marker tl-fold" aria-hidden="true">
            ▸
          </span>
          <span class="tl-group-text">
            <span class="tl-group-summary" data-testid="position-group-summary">
              {plural(items.length, "position")} on <strong class="tl-label">{label}</strong>: {counts}
            </span>
            <span class="tl-group-who muted">
              {" "}
              — {entities.length === 1 ? "by " : `${entities.length} entities: `}
              {entities.join(", ")}
            </span>
          </span>
        </summary>
        <ol class="tl-list tl-group-list">
          {items.map((item) => (
            <Entry key={itemKey(item)} item={item} {...props} />
          ))}
        </ol>
      </details>
    </li>
  );
}

function Entry(props: PageProps & { item: HistoryItem }) {
  const { item, draftId, palette, navigate } = props;
  const at = itemAt(item);
  const landmark = isLandmark(item);
  const type = item.kind === "revision" ? "revision" : item.kind === "position" ? item.position : item.type;
  const name = landmark ? versionName(item) : "";
  const label = (item.element && (item.label ?? props.labels.get(item.element))) || item.element || "";
  return (
    <li
      class={`tl-item tl-${item.kind}${landmark ? " tl-landmark" : ""}`}
      data-testid="timeline-item"
      data-kind={item.kind}
      data-type={type}
      data-entity={item.entity ?? ""}
      data-user={item.user ?? ""}
      data-element-id={item.element ?? ""}
      data-at={at}
      data-version={landmark ? name : undefined}
      style={palette.style(item.entity)}
    >
      <div class="tl-when">
        <time dateTime={at} title={utcTime(at)}>
          {item.kind === "revision" && clockTime(item.start) !== clockTime(item.end) ? `${clockTime(item.start)}–${clockTime(item.end)}` : clockTime(at)}
        </time>
      </div>
      <div class="tl-marker" aria-hidden="true">
        {landmark ? "⚑" : item.kind === "revision" ? "✎" : item.kind === "position" ? "●" : "◆"}
      </div>
      <div class="tl-body">
        {item.kind === "revision" && <RevisionEntry item={item} label={label} palette={palette} />}
        {item.kind === "position" && <PositionEntry item={item} label={label} palette={palette} />}
        {item.kind === "event" && <EventEntry item={item} label={label} />}
        <p class="tl-links">
          {landmark && name && (
            <>
              <Link href={reviewPath(draftId, "read", { version: name })} navigate={navigate} testid="read-version">
                Read {name}
              </Link>
              <Link href={reviewPath(draftId, "compare", { from: `name:${name}`, to: "now" })} navigate={navigate} testid="compare-version-now">
                Compare {name} with now
              </Link>
            </>
          )}
          {item.kind === "revision" && (
            <Link
              href={reviewPath(draftId, "compare", { from: `at:${isoMs(Date.parse(item.start) - 1)}`, to: `at:${item.end}` })}
              navigate={navigate}
              testid="compare-revision"
            >
              See this change
            </Link>
          )}
          <Link href={reviewPath(draftId, "read", { at })} navigate={navigate} testid="read-at">
            Read the draft then
          </Link>
        </p>
      </div>
    </li>
  );
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function Who(props: { name: string | null; entity: string | null; palette: Palette }) {
  return (
    <>
      <strong>{props.name ?? "Someone"}</strong>
      {props.entity && (
        <>
          {" "}
          <EntityChip code={props.entity} palette={props.palette} />
        </>
      )}
    </>
  );
}

function RevisionEntry(props: { item: RevisionItem; label: string; palette: Palette }) {
  const { item } = props;
  const counts = [item.inserted > 0 ? `+${plural(item.inserted, "character")} inserted` : "", item.deleted > 0 ? `−${plural(item.deleted, "character")} deleted` : ""].filter(Boolean);
  return (
    <>
      <p class="tl-summary">
        <Who name={item.user_name} entity={item.entity} palette={props.palette} /> edited <strong class="tl-label">{props.label}</strong>
      </p>
      <p class="tl-detail">
        {counts.length ? counts.join(", ") : "No characters changed"} · {plural(item.changes, "change")}
        {item.start.slice(0, 10) !== item.end.slice(0, 10) && (
          <span class="muted">
            {" "}
            · from {utcTime(item.start)} to {utcTime(item.end)}
          </span>
        )}
      </p>
    </>
  );
}

function PositionEntry(props: { item: PositionItem; label: string; palette: Palette }) {
  const { item } = props;
  return (
    <>
      <p class="tl-summary">
        <EntityChip code={item.entity} palette={props.palette} />{" "}
        <span class={`cell cell-${item.position}`}>{STANCE_LABEL[item.position] ?? item.position}</span> on <strong class="tl-label">{props.label}</strong>
        <span class="muted">
          {" "}
          — {item.by_silence ? "by silence (no objection before the deadline)" : `stated by ${item.user_name ?? "a delegate"}`}
        </span>
      </p>
      {item.note && (
        <p class="tl-detail">
          {item.position === "object" ? "Reason" : "Note"}: {item.note}
        </p>
      )}
      {item.wording && (
        <p class="tl-detail">
          Proposed wording: <q class="tl-wording">{item.wording}</q>
        </p>
      )}
    </>
  );
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : null;
}

function EventEntry(props: { item: EventItem; label: string }) {
  const { item, label } = props;
  const d = item.data ?? {};
  const who = item.user_name ?? (item.user ? item.user : null);
  const by = who ? (
    <>
      <strong>{who}</strong>
      {item.entity ? ` (${item.entity})` : ""}
    </>
  ) : null;
  const el = <strong class="tl-label">{label || str(d.label) || "an element"}</strong>;
  let sentence;
  let detail: string | null = null;
  switch (item.type) {
    case "draft_created":
      sentence = <>The draft was created{str(d.title) ? <>: “{str(d.title)}”</> : ""}</>;
      break;
    case "draft_updated": {
      const what = [d.title !== undefined ? "title" : "", d.preamble !== undefined ? "preamble" : ""].filter(Boolean).join(" and ") || "title or preamble";
      sentence = <>{by ?? "A chair"} changed the draft’s {what}</>;
      if (str(d.title)) detail = `New title: ${str(d.title)}`;
      break;
    }
    case "element_added":
      sentence = (
        <>
          {by ?? "A chair"} added the element <strong class="tl-label">{str(d.label) ?? label}</strong>
        </>
      );
      break;
    case "element_renamed":
      sentence = (
        <>
          {by ?? "A chair"} renamed <strong class="tl-label">{str(d.from) ?? "an element"}</strong> to <strong class="tl-label">{str(d.to) ?? label}</strong>
        </>
      );
      break;
    case "element_moved": {
      const from = typeof d.from === "number" ? d.from + 1 : null;
      const to = typeof d.to === "number" ? d.to + 1 : null;
      sentence = (
        <>
          {by ?? "A chair"} moved {el}
          {from && to ? ` from position ${from} to ${to}` : ""}
        </>
      );
      break;
    }
    case "element_archived":
    case "element_restored":
    case "silence_started":
    case "silence_cancelled":
    case "element_adopted":
    case "element_reopened":
      sentence = (
        <>
          {by ?? "A chair"} {CHAIR_ACTS[item.type]} {el}
        </>
      );
      if (item.type === "silence_started" && (typeof d.deadline === "number" || typeof d.deadline === "string")) detail = `Deadline: ${utcTime(d.deadline)}`;
      break;
    case "silence_broken":
      sentence = (
        <>
          {item.entity ? <strong>{item.entity}</strong> : by ?? "Someone"} broke the silence on {el}
          {who && item.entity ? <span class="muted"> (by {who})</span> : ""}
        </>
      );
      if (str(d.reason)) detail = `Reason: ${str(d.reason)}`;
      break;
    case "silence_fired":
      sentence = <>The silence on {el} ended with no objection: agreed by silence</>;
      if (typeof d.recorded === "number") detail = `${plural(d.recorded, "position")} recorded by silence`;
      break;
    case "positions_stale": {
      const stale = Array.isArray(d.stale) ? d.stale.filter((e): e is string => typeof e === "string") : [];
      sentence = (
        <>
          {by ? <>Edit by {by}</> : "An edit"} made the {stale.length === 1 ? "position" : "positions"} of <strong data-testid="stale-entities">{stale.join(", ")}</strong> on {el} stale
        </>
      );
      detail = `Positions given on the earlier text no longer count until ${stale.length === 1 ? "it is" : "they are"} stated again.`;
      break;
    }
    case "version_named":
      sentence = (
        <>
          Version <strong class="tl-version">{str(d.name) ?? ""}</strong> named{who ? <> by {by}</> : ""}
        </>
      );
      break;
    case "draft_adopted":
      sentence = (
        <>
          The draft was adopted{str(d.name) ? <> as <strong class="tl-version">{str(d.name)}</strong></> : ""}
          {who ? <> by {by}</> : ""}
        </>
      );
      break;
    default:
      sentence = (
        <>
          {String(item.type).replace(/_/g, " ")}
          {label ? <> — {el}</> : ""}
          {by ? <> — {by}</> : ""}
        </>
      );
  }
  return (
    <>
      <p class="tl-summary">{sentence}</p>
      {detail && <p class="tl-detail">{detail}</p>}
    </>
  );
}

// ---------------------------------------------------------- named versions

function VersionsList(props: { ctx: ReviewContext }) {
  const { ctx } = props;
  const versions: NamedVersion[] | null = ctx.versions;
  return (
    <section class="versions" aria-labelledby="versions-h">
      <h2 id="versions-h">Named versions</h2>
      {versions === null ? (
        <p class="muted">Loading…</p>
      ) : versions.length === 0 ? (
        <p class="muted" data-testid="versions-list">
          No version has been named yet. The chair names versions (“Rev.1”) on the consensus board.
        </p>
      ) : (
        <ol class="versions-list" data-testid="versions-list">
          {versions.map((v) => (
            <li key={v.name} class={v.final ? "version-final" : undefined}>
              <Link href={reviewPath(ctx.draftId, "read", { version: v.name })} navigate={ctx.navigate} testid="version-link" data-version={v.name} class="version-name">
                {v.final ? "⚑ " : ""}
                {v.name}
              </Link>
              <span class="muted version-when">
                {utcTime(v.created_at, false)}
                {v.created_by ? ` · ${v.created_by}` : ""}
                {v.final ? " · adopted text" : ""}
              </span>
              <span class="version-actions">
                <Link href={reviewPath(ctx.draftId, "history", { from: v.created_at })} navigate={ctx.navigate} replace title={`The timeline from ${v.name} on`}>
                  Timeline from here
                </Link>
                <Link href={reviewPath(ctx.draftId, "compare", { from: `name:${v.name}`, to: "now" })} navigate={ctx.navigate}>
                  Compare with now
                </Link>
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
