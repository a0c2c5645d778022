// The reviewer's history views (timeline, reading at a moment, compare,
// attribution): the shell they share — the navigation between them, the
// data they all need (the draft's elements and entities, named versions,
// the people in the history), version pickers, times in UTC, links that
// keep every choice in the URL. Read-only, for every role that sees the
// draft.

import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError, type Authored, type Draft, type Me, type NamedVersion, type Person, type VersionChoice } from "./api";
import { Attribution } from "./attribution";
import { Palette } from "./colours";
import { Compare } from "./compare";
import { Reading } from "./reading";
import { Timeline } from "./timeline";

export type ReviewView = "history" | "read" | "compare" | "attribution";

export const REVIEW_VIEWS: readonly ReviewView[] = ["history", "read", "compare", "attribution"];

export type Navigate = (to: string, replace?: boolean) => void;

/** What every review view gets. */
export interface ReviewContext {
  draftId: string;
  /** The draft as the server has it now (elements, archived elements, entities). */
  draft: Draft;
  palette: Palette;
  /** Named versions, oldest first (null while loading). */
  versions: NamedVersion[] | null;
  /** Everyone in the draft's history (null while loading or unavailable). */
  people: Person[] | null;
  me: Me;
  search: string;
  navigate: Navigate;
}

// ------------------------------------------------------------------ times

/** "2026-05-01 12:00:05 UTC" from an RFC 3339 time (or Unix ms). */
export function utcTime(at: string | number | null | undefined, seconds = true): string {
  if (at == null || at === "") return "";
  const ms = typeof at === "number" ? at : Date.parse(at);
  if (!Number.isFinite(ms)) return String(at);
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)} UTC`;
}

/** "12:00:05" (UTC). */
export function clockTime(at: string): string {
  const ms = Date.parse(at);
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 19) : at;
}

const DAY = new Intl.DateTimeFormat("en-GB", { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });

/** "Friday 1 May 2026" (UTC). */
export function dayName(at: string): string {
  const ms = Date.parse(at);
  return Number.isFinite(ms) ? DAY.format(ms) : at;
}

/** Unix ms → RFC 3339 UTC with milliseconds, as the API writes times. */
export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A UTC time typed as `YYYY-MM-DDTHH:MM`, with seconds and a fraction if
 * wanted (a space for the T, a trailing Z or "UTC" are accepted) → RFC 3339
 * UTC (milliseconds kept); null when it is not one.
 */
export function parseTyped(value: string): string | null {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})[T\s](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?\s*(?:Z|UTC|\+00:?00)?\s*$/i.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? "0"].map(Number);
  const frac = Number((m[7] ?? "0").padEnd(3, "0"));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s, frac);
  // Reject dates that roll over (31 February).
  if (new Date(ms).getUTCDate() !== d) return null;
  return isoMs(ms);
}

/** RFC 3339 → the text field's form: `YYYY-MM-DDTHH:MM:SS` (and `.mmm`
 * when there are milliseconds); "" for none. */
export function typedValue(at: string | null | undefined): string {
  if (!at) return "";
  const ms = Date.parse(at);
  if (!Number.isFinite(ms)) return at;
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? iso.slice(0, 19) : iso.slice(0, 23);
}

// ------------------------------------------------------------------ links

/** A query string whose values keep `:` readable (`at=2026-05-01T12:00:00.000Z`,
 * `from=name:Rev.1`); empty values are left out. */
export function queryString(params: Record<string, string | null | undefined | false>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "" || v === false) continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v).replace(/%3A/gi, ":")}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

export function draftPath(draftId: string): string {
  return `/drafts/${encodeURIComponent(draftId)}`;
}

export function reviewPath(draftId: string, view: ReviewView, params: Record<string, string | null | undefined | false> = {}): string {
  return `${draftPath(draftId)}/${view}${queryString(params)}`;
}

/** `read?…` / `attribution?…` parameters of a version choice. */
export function choiceParams(choice: VersionChoice): { version?: string; at?: string } {
  if (choice.version) return { version: choice.version };
  if (choice.at) return { at: choice.at };
  return {};
}

/** The compare API's side for a version choice: `name:NAME`, `at:ISO` or `now`. */
export function choiceSpec(choice: VersionChoice): string {
  if (choice.version) return `name:${choice.version}`;
  if (choice.at) return `at:${choice.at}`;
  return "now";
}

/** The version choice of a URL (`version=` or `at=`; neither: now). */
export function choiceOf(params: URLSearchParams): VersionChoice {
  const version = params.get("version");
  if (version) return { version };
  const at = params.get("at");
  if (at) return { at };
  return {};
}

/** An in-app link: a real `href` (new tabs, copying), client-side navigation on a plain click. */
export function Link(props: {
  href: string;
  navigate: Navigate;
  replace?: boolean;
  class?: string;
  testid?: string;
  children: ComponentChildren;
  title?: string;
  "aria-current"?: "page" | undefined;
  "data-version"?: string;
}) {
  const { href, navigate, replace, testid, children, ...rest } = props;
  return (
    <a
      {...rest}
      href={href}
      data-testid={testid}
      onClick={(e: MouseEvent) => {
        if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || e.button !== 0) return;
        e.preventDefault();
        navigate(href, replace);
      }}
    >
      {children}
    </a>
  );
}

// ------------------------------------------------------------- authorship

/** "Ana (IOM)", "Accord (original text)", "Lee (no entity)". */
export function authorWords(a: Authored): string {
  if (isOriginal(a)) return "Accord (original text)";
  const name = a.user_name ?? a.user ?? "someone";
  return a.entity ? `${name} (${a.entity})` : name;
}

/** Written by the server: the draft's initial text (or text a chair's
 * structure edit brought). */
export function isOriginal(a: Authored): boolean {
  return !a.entity && (!a.user || a.user === "server");
}

/** An entity's legend name: "International Organization for Migration". */
export function entityLabel(code: string, palette: Palette): string {
  return code ? palette.name(code) : "No entity";
}

/** An entity code chip in the entity's colour. */
export function EntityChip(props: { code: string | null; palette: Palette; title?: string }) {
  const code = props.code ?? "";
  return (
    <span class="entity-chip" style={props.palette.style(code)} title={props.title ?? (code ? props.palette.name(code) : undefined)}>
      {code || "—"}
    </span>
  );
}

/** A colour swatch (decorative: the entity is named next to it). */
export function Swatch(props: { code: string | null; palette: Palette }) {
  return <span class="swatch" style={props.palette.style(props.code)} aria-hidden="true" />;
}

// ------------------------------------------------------------- components

export function ReviewError(props: { message: string | null; onRetry?: () => void }) {
  if (!props.message) return null;
  return (
    <div class="error-box review-error" data-testid="review-error" role="alert">
      <span>{props.message}</span>
      {props.onRetry && (
        <button type="button" class="compact secondary" onClick={props.onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/** What a view loaded for its choices (`key`): the last answer (for
 *  whatever key; compare `result.key` with the current one to know whether
 *  it is stale), whether a load is under way, its error, and a retry. No key:
 *  nothing to load. `load` runs whenever the key changes or on retry. */
export function useLoaded<T>(key: string | null, load: () => Promise<T>) {
  const [result, setResult] = useState<{ key: string; value: T } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(key !== null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (key === null) {
      setLoading(false);
      return;
    }
    let live = true;
    setLoading(true);
    setError(null);
    load()
      .then((value) => live && setResult({ key, value }))
      .catch((e) => live && setError(errorMessage(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, attempt]);
  return { result, loading, error, setError, retry: () => setAttempt((n) => n + 1) };
}

/** A UTC date and time typed as text (a browser's picker shows local time). */
export function TimeInput(props: { id: string; testid: string; value: string; invalid: boolean; describedBy?: string; onInput: (value: string) => void }) {
  return (
    <input
      id={props.id}
      data-testid={props.testid}
      class="time-input"
      type="text"
      inputMode="numeric"
      autoComplete="off"
      spellcheck={false}
      placeholder="YYYY-MM-DDTHH:MM"
      value={props.value}
      aria-invalid={props.invalid ? "true" : undefined}
      aria-describedby={props.describedBy}
      onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
    />
  );
}

export function Loading(props: { children: ComponentChildren }) {
  return (
    <p class="review-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {props.children}
    </p>
  );
}

/**
 * A version choice: a named version, or a typed UTC time, or now. The
 * select applies at once; the time applies on submit.
 */
export function VersionPicker(props: {
  versions: NamedVersion[] | null;
  choice: VersionChoice;
  onChoose: (choice: VersionChoice) => void;
  submitLabel: string;
  idPrefix: string;
}) {
  const { versions, choice } = props;
  const [typed, setTyped] = useState(typedValue(choice.at));
  const [invalid, setInvalid] = useState(false);
  useEffect(() => {
    setTyped(typedValue(choice.at));
    setInvalid(false);
  }, [choice.at]);
  const known = !choice.version || (versions ?? []).some((v) => v.name === choice.version);
  const selectValue = choice.version ?? (choice.at ? AT_OPTION : "");
  const submit = (e: Event) => {
    e.preventDefault();
    const at = parseTyped(typed);
    if (!at) {
      setInvalid(true);
      return;
    }
    setInvalid(false);
    // The field shows the chosen time to the millisecond: unchanged, it is the same time.
    props.onChoose({ at });
  };
  const id = props.idPrefix;
  return (
    <form class="picker" onSubmit={submit} aria-label="Which version">
      <div class="picker-field">
        <label for={`${id}-version`}>Version</label>
        <select
          id={`${id}-version`}
          data-testid="pick-version"
          value={selectValue}
          onChange={(e) => {
            const v = (e.target as HTMLSelectElement).value;
            if (v === AT_OPTION) return;
            props.onChoose(v ? { version: v } : {});
          }}
        >
          <option value="">Now (the current text)</option>
          {(versions ?? []).map((v) => (
            <option key={v.name} value={v.name}>
              {v.name} — {utcTime(v.created_at, false)}
            </option>
          ))}
          {!known && choice.version && <option value={choice.version}>{choice.version}</option>}
          {choice.at && <option value={AT_OPTION}>At {utcTime(choice.at)}</option>}
        </select>
      </div>
      <div class="picker-field">
        <label for={`${id}-at`}>
          or a date and time <span class="muted">(UTC)</span>
        </label>
        <span class="picker-row">
          <TimeInput id={`${id}-at`} testid="pick-at" value={typed} invalid={!!invalid} describedBy={`${id}-at-hint`} onInput={setTyped} />
          <button type="submit" class="compact" data-testid="pick-at-submit">
            {props.submitLabel}
          </button>
        </span>
        <span id={`${id}-at-hint`} class={invalid ? "field-error" : "hint"}>
          {invalid ? "Type a UTC date and time like 2026-05-01T14:30 (seconds optional)." : "Like 2026-05-01T14:30 or 2026-05-01T14:30:15"}
        </span>
      </div>
    </form>
  );
}

/** The select's entry for "the time typed below" (a version name is
 * trimmed by the server, so it never starts with a space). */
const AT_OPTION = " at";

/** A version's words: "Rev.1 (named 2026-05-01 12:00 UTC)", "now", "2026-… UTC". */
export function versionWords(label: string, at: string, versions: NamedVersion[] | null): string {
  if (label === "current") return `now (${utcTime(at)})`;
  const named = versions?.find((v) => v.name === label);
  if (named) return `${label} (named ${utcTime(named.created_at)})`;
  if (Number.isFinite(Date.parse(label))) return utcTime(label);
  return label;
}

// ------------------------------------------------------------------ shell

const VIEW_TITLES: Record<ReviewView, string> = {
  history: "History",
  read: "Read the draft at a moment",
  compare: "Compare two versions",
  attribution: "Who wrote what",
};

const NAV: { view: ReviewView; label: string; testid: string }[] = [
  { view: "history", label: "Timeline", testid: "nav-timeline" },
  { view: "read", label: "Read at a moment", testid: "nav-read" },
  { view: "compare", label: "Compare", testid: "nav-compare" },
  { view: "attribution", label: "Who wrote what", testid: "nav-attribution" },
];

/** The review views of one draft: navigation, shared data, the view. */
export function Review(props: { draft: Draft; me: Me; view: ReviewView; search: string; navigate: Navigate }) {
  const { view, navigate } = props;
  const draftId = props.draft.id;
  const [draft, setDraft] = useState<Draft>(props.draft);
  const [versions, setVersions] = useState<NamedVersion[] | null>(null);
  const [people, setPeople] = useState<Person[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const firstView = useRef(true);

  // The draft as it is now (elements added or archived since sign-in) and
  // the named versions: at the start and on each change of view.
  useEffect(() => {
    let live = true;
    api
      .draft(draftId)
      .then((d) => live && setDraft(d))
      .catch((e) => live && setLoadError(errorMessage(e)));
    api
      .versions(draftId)
      .then((v) => {
        if (!live) return;
        setVersions([...v.versions].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at)));
        setLoadError(null);
      })
      .catch((e) => {
        if (!live) return;
        setVersions((before) => before ?? []);
        setLoadError(errorMessage(e));
      });
    return () => {
      live = false;
    };
  }, [draftId, view]);

  useEffect(() => {
    let live = true;
    api
      .historyPeople(draftId)
      .then((p) => live && setPeople([...p.people].sort((a, b) => a.name.localeCompare(b.name))))
      .catch(() => live && setPeople(null));
    return () => {
      live = false;
    };
  }, [draftId]);

  const palette = useMemo(() => new Palette(draft.entities ?? []), [draft.entities]);

  useEffect(() => {
    document.title = `${VIEW_TITLES[view]} — ${draft.title} — Accord`;
  }, [view, draft.title]);

  // A new view: its heading takes the focus (not on the first page load).
  useEffect(() => {
    if (firstView.current) {
      firstView.current = false;
      return;
    }
    heading.current?.focus({ preventScroll: true });
  }, [view]);

  const ctx: ReviewContext = { draftId, draft, palette, versions, people, me: props.me, search: props.search, navigate };

  return (
    <main class="review" id="main" data-view={view}>
      <div class="review-head">
        <p class="back">
          <Link href={draftPath(draftId)} navigate={navigate} testid="back-to-draft">
            ← Back to the draft
          </Link>
        </p>
        <p class="review-kicker">
          <span class="review-kicker-tag">Review</span> {draft.title}
        </p>
        <nav class="review-nav" data-testid="review-nav" aria-label="History views">
          <ul>
            {NAV.map((n) => (
              <li key={n.view}>
                <Link href={reviewPath(draftId, n.view)} navigate={navigate} testid={n.testid} aria-current={n.view === view ? "page" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <h1 ref={heading} tabIndex={-1}>
          {VIEW_TITLES[view]}
        </h1>
        <p class="review-note muted">Read-only: nothing here changes the draft. All times are UTC.</p>
      </div>
      <ReviewError message={loadError} />
      {view === "history" && <Timeline ctx={ctx} />}
      {view === "read" && <Reading ctx={ctx} />}
      {view === "compare" && <Compare ctx={ctx} />}
      {view === "attribution" && <Attribution ctx={ctx} />}
    </main>
  );
}
