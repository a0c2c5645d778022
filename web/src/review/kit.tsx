// What the history views (timeline, reading at a moment, compare,
// attribution) share: the view's context (the draft's elements and
// entities, named versions, the people in the history), version pickers,
// typed UTC times, links that keep every choice in the URL, authorship,
// errors and waiting. The shell that holds them is review/shell.tsx.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, type Authored, type Draft, type Me, type NamedVersion, type Person, type VersionChoice } from "../lib/api";
import type { Palette } from "../lib/colours";
import { parseTyped, typedValue, utcTime } from "../lib/time";

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
