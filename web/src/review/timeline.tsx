// The timeline: revisions, positions and procedural events in one
// chronological list (GET …/history), filtered by element, entity, user and
// time range (all in the URL), paged by cursor: the next page loads as the
// list's end comes near (an IntersectionObserver on a sentinel) or on
// "Load more". Named versions (and the adopted draft) are landmarks.
// Positions recorded close together on one element fold into one entry
// (`foldEntries`), across pages: a run that may still grow waits for the
// next page before it is shown.

import { useEffect, useRef, useState } from "preact/hooks";
import { api, type HistoryFilters, type HistoryItem, type NamedVersion, type Person } from "../lib/api";
import { parseTyped, typedValue, utcTime } from "../lib/time";
import { TimelinePage } from "./entries";
import { blockItem, foldEntries, type Block } from "./fold";
import { Link, Loading, ReviewError, TimeInput, errorMessage, reviewPath, type ReviewContext } from "./kit";

const PAGE = 100;
/** How close (px) the end of the list comes before the next page loads. */
const NEAR = 1200;

function filtersOf(search: string): HistoryFilters {
  const p = new URLSearchParams(search);
  const get = (k: string) => p.get(k) || undefined;
  return { element: get("element"), entity: get("entity"), user: get("user"), from: get("from"), to: get("to") };
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
