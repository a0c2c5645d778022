// Comparing two versions (GET …/compare, word granularity): per element the
// insertions and deletions, each in the colour of the entity that made it,
// a legend of the entities that appear, unchanged elements folded away.
// Each side is now, a named version or a time; both are in the URL.

import { useEffect, useState } from "preact/hooks";
import { api, type CompareElement, type Comparison, type DiffPiece, type NamedVersion } from "../lib/api";
import type { Palette } from "../lib/colours";
import { isoMs, parseTyped, preciseTime, typedValue, utcTime } from "../lib/time";
import {
  Link,
  Loading,
  ReviewError,
  Swatch,
  TimeInput,
  authorWords,
  entityLabel,
  errorMessage,
  isOriginal,
  reviewPath,
  useLoaded,
  type ReviewContext,
} from "./kit";

/** A side as the pickers hold it: "now", "name:NAME" or "at" with a typed time. */
interface SideChoice {
  select: string;
  typed: string;
}

function normalSpec(spec: string): string {
  if (spec === "" || spec === "now") return "now";
  if (spec.startsWith("at:") || spec.startsWith("name:") || spec.startsWith("heads:")) return spec;
  return `name:${spec}`;
}

function sideOf(spec: string): SideChoice {
  const s = normalSpec(spec);
  if (s.startsWith("at:")) return { select: "at", typed: typedValue(s.slice(3)) };
  return { select: s, typed: "" };
}

/** Words in a piece of text (punctuation alone is no word; a piece inside
 * a word counts as one). */
function words(text: string): number {
  return (text.match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) ?? []).length;
}

/** Adjacent pieces of the same kind by the same author, as one (for
 * counting words: a word split between two pieces counts once). */
function merged(diff: DiffPiece[]): DiffPiece[] {
  const out: DiffPiece[] = [];
  for (const p of diff) {
    const last = out[out.length - 1];
    if (last && last.op === p.op && (p.op === "equal" || (last.user === p.user && last.entity === p.entity && last.user_name === p.user_name))) {
      out[out.length - 1] = { ...last, text: last.text + p.text };
    } else out.push(p);
  }
  return out;
}

function sideWords(label: string, versions: NamedVersion[] | null, precise: boolean): string {
  if (label === "current") return "now";
  if (versions?.some((v) => v.name === label)) return label;
  return Number.isFinite(Date.parse(label)) ? (precise ? preciseTime(label) : utcTime(label)) : label;
}

/** The draft's beginning: just before the first thing in its history. */
async function originSpec(draftId: string): Promise<string> {
  const page = await api.history(draftId, {}, null, 1);
  const first = page.items[0];
  if (!first) return "now";
  if (first.kind === "event" && first.type === "draft_created") return `at:${first.at}`;
  const at = first.kind === "revision" ? first.start : first.at;
  return `at:${isoMs(Date.parse(at) - 1)}`;
}

export function Compare(props: { ctx: ReviewContext }) {
  const { ctx } = props;
  const { draftId, navigate, versions } = ctx;
  const params = new URLSearchParams(ctx.search);
  const fromParam = params.get("from");
  const toSpec = normalSpec(params.get("to") ?? "now");
  const fromSpec = fromParam ? normalSpec(fromParam) : null;
  const key = JSON.stringify([draftId, fromSpec, toSpec]);
  const { result, loading, error, setError, retry } = useLoaded(fromSpec ? key : null, () =>
    api.compare(draftId, fromSpec as string, toSpec),
  );

  // No `from`: the latest named version, else the draft's beginning; the URL
  // then says which, so the link shows the same comparison later.
  useEffect(() => {
    if (fromParam) return;
    if (versions === null) return;
    let live = true;
    const latest = versions[versions.length - 1];
    const resolve = latest ? Promise.resolve(`name:${latest.name}`) : originSpec(draftId);
    resolve
      .then((from) => {
        if (live) navigate(reviewPath(draftId, "compare", { from, to: params.get("to") }), true);
      })
      .catch((e) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fromParam, versions === null]);

  const go = (from: string, to: string) => navigate(reviewPath(draftId, "compare", { from, to }));

  return (
    <div class="compare-view">
      <ComparePickers
        versions={versions}
        fromSpec={fromSpec ?? ""}
        toSpec={toSpec}
        onCompare={go}
        onSwap={() => fromSpec && go(toSpec, fromSpec)}
        canSwap={!!fromSpec}
      />
      <ReviewError message={error} onRetry={retry} />
      {(loading || (!fromSpec && !error)) && <Loading>Comparing the two versions…</Loading>}
      {result && !error && <CompareBody ctx={ctx} data={result.value} stale={loading || result.key !== key} />}
    </div>
  );
}

function ComparePickers(props: {
  versions: NamedVersion[] | null;
  fromSpec: string;
  toSpec: string;
  onCompare: (from: string, to: string) => void;
  onSwap: () => void;
  canSwap: boolean;
}) {
  const [from, setFrom] = useState<SideChoice>(sideOf(props.fromSpec));
  const [to, setTo] = useState<SideChoice>(sideOf(props.toSpec));
  const [invalid, setInvalid] = useState<null | "from" | "to">(null);
  useEffect(() => {
    setFrom(sideOf(props.fromSpec));
    setTo(sideOf(props.toSpec));
    setInvalid(null);
  }, [props.fromSpec, props.toSpec]);

  const specOf = (side: SideChoice): string | null => {
    if (side.select !== "at") return side.select;
    const at = parseTyped(side.typed);
    return at ? `at:${at}` : null;
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const f = specOf(from);
    if (!f) return setInvalid("from");
    const t = specOf(to);
    if (!t) return setInvalid("to");
    setInvalid(null);
    props.onCompare(f, t);
  };

  const side = (which: "from" | "to", value: SideChoice, set: (v: SideChoice) => void) => {
    const names = (props.versions ?? []).map((v) => `name:${v.name}`);
    const extra = value.select !== "now" && value.select !== "at" && !names.includes(value.select) && value.select !== "";
    return (
      <fieldset class="compare-side">
        <legend>{which === "from" ? "From (older)" : "To (newer)"}</legend>
        <label class="visually-hidden" for={`compare-${which}`}>
          {which === "from" ? "Compare from" : "Compare to"}
        </label>
        <select
          id={`compare-${which}`}
          data-testid={`compare-${which}`}
          value={value.select}
          onChange={(e) => set({ ...value, select: (e.target as HTMLSelectElement).value })}
        >
          {value.select === "" && <option value="">…</option>}
          <option value="now">Now (the current text)</option>
          {(props.versions ?? []).map((v) => (
            <option key={v.name} value={`name:${v.name}`}>
              {v.name} — {utcTime(v.created_at, false)}
            </option>
          ))}
          {extra && <option value={value.select}>{value.select.replace(/^name:/, "")}</option>}
          <option value="at">A date and time…</option>
        </select>
        {value.select === "at" && (
          <span class="compare-at">
            <label for={`compare-${which}-at`}>
              Date and time <span class="muted">(UTC)</span>
            </label>
            <TimeInput id={`compare-${which}-at`} testid={`compare-${which}-at`} value={value.typed} invalid={invalid === which} onInput={(typed) => set({ ...value, typed })} />
          </span>
        )}
      </fieldset>
    );
  };

  return (
    <form class="compare-pickers review-toolbar" onSubmit={submit} aria-label="Which versions to compare">
      {side("from", from, setFrom)}
      <button type="button" class="compact secondary swap" data-testid="compare-swap" onClick={props.onSwap} disabled={!props.canSwap} title="Swap the two sides">
        ⇄ Swap
      </button>
      {side("to", to, setTo)}
      <div class="compare-go">
        <button type="submit" class="primary" data-testid="compare-submit">
          Compare
        </button>
      </div>
      {invalid && (
        <p class="field-error compare-invalid" role="alert">
          Type the {invalid === "from" ? "“From”" : "“To”"} time in UTC, like 2026-05-01T14:30 (seconds optional).
        </p>
      )}
    </form>
  );
}

interface LegendRow {
  entity: string;
  names: Set<string>;
  inserted: number;
  deleted: number;
}

function legendRows(elements: CompareElement[]): LegendRow[] {
  const rows = new Map<string, LegendRow>();
  for (const e of elements) {
    for (const p of merged(e.diff)) {
      if (p.op === "equal") continue;
      const code = p.entity ?? "";
      const row = rows.get(code) ?? { entity: code, names: new Set<string>(), inserted: 0, deleted: 0 };
      row.names.add(authorWords(p).replace(` (${code})`, ""));
      if (p.op === "insert") row.inserted += words(p.text);
      else row.deleted += words(p.text);
      rows.set(code, row);
    }
  }
  return [...rows.values()].sort((a, b) => (a.entity === "" ? 1 : b.entity === "" ? -1 : a.entity.localeCompare(b.entity)));
}

function CompareBody(props: { ctx: ReviewContext; data: Comparison; stale: boolean }) {
  const { ctx, data } = props;
  const { palette, versions, draftId, navigate } = ctx;
  const changed = data.elements.filter((e) => e.changed || !e.in_from || !e.in_to);
  const unchanged = data.elements.filter((e) => !(e.changed || !e.in_from || !e.in_to));
  const legend = legendRows(data.elements);
  const precise = utcTime(data.from.at) === utcTime(data.to.at);
  const fromWords = sideWords(data.from.label, versions, precise);
  const toWords = sideWords(data.to.label, versions, precise);
  // "Now" is the latest text whatever the clock says.
  const reversed =
    data.from.label === "current" ? data.to.label !== "current" : data.to.label === "current" ? false : Date.parse(data.from.at) > Date.parse(data.to.at);
  const toChoice = data.to.label === "current" ? {} : versions?.some((v) => v.name === data.to.label) ? { version: data.to.label } : { at: data.to.at };
  return (
    <section
      class={`compare${props.stale ? " is-stale" : ""}`}
      data-testid="compare"
      data-from-label={data.from.label}
      data-to-label={data.to.label}
      aria-busy={props.stale ? "true" : "false"}
      aria-labelledby="compare-summary"
    >
      <p class="compare-summary" id="compare-summary">
        From <strong>{fromWords}</strong>
        {data.from.label !== "current" && fromWords !== utcTime(data.from.at) && fromWords !== preciseTime(data.from.at) && (
          <span class="muted"> ({utcTime(data.from.at)})</span>
        )}{" "}
        to <strong>{toWords}</strong>
        {data.to.label !== "current" && toWords !== utcTime(data.to.at) && toWords !== preciseTime(data.to.at) && <span class="muted"> ({utcTime(data.to.at)})</span>}:{" "}
        {changed.length === 0 ? "no element changed." : `${changed.length} of ${data.elements.length} ${data.elements.length === 1 ? "element" : "elements"} changed.`}
      </p>
      {reversed && <p class="hint-box">“From” is later than “To”: what is shown as inserted was removed in the meantime, and the other way round.</p>}
      <div class="compare-layout">
        <div class="compare-main">
          {/* the elements' headings (h3) sit under a heading of their own */}
          <h2 class="visually-hidden">Elements compared</h2>
          {changed.map((e) => (
            <CompareElementView key={e.id} element={e} palette={palette} draftId={draftId} navigate={navigate} toChoice={toChoice} />
          ))}
          {unchanged.length > 0 && (
            <details class="compare-unchanged" data-testid="compare-unchanged">
              <summary>
                {unchanged.length} unchanged {unchanged.length === 1 ? "element" : "elements"}: {unchanged.map((e) => e.label).join(", ")}
              </summary>
              {unchanged.map((e) => (
                <CompareElementView key={e.id} element={e} palette={palette} draftId={draftId} navigate={navigate} toChoice={toChoice} />
              ))}
            </details>
          )}
        </div>
        <aside class="compare-side-panel">
          <section class="legend-box" aria-labelledby="compare-legend-h">
            <h2 id="compare-legend-h">Who changed what</h2>
            {legend.length === 0 ? (
              <p class="muted" data-testid="legend">
                No insertions or deletions.
              </p>
            ) : (
              <ul class="legend-list" data-testid="legend">
                {legend.map((row) => (
                  <li key={row.entity} class="legend-entry" data-testid="legend-entry" data-entity={row.entity} style={palette.style(row.entity)}>
                    <Swatch code={row.entity} palette={palette} />
                    <span class="legend-text">
                      <span class="legend-name">
                        {row.entity ? <strong>{row.entity}</strong> : <strong>No entity</strong>}{" "}
                        <span class="legend-full">{row.entity ? entityLabel(row.entity, palette) : ""}</span>
                      </span>
                      <span class="legend-people muted">{[...row.names].join(", ")}</span>
                      <span class="legend-counts">
                        {(row.inserted > 0 || row.deleted === 0) && (
                          <ins class="sample-ins" title={`${row.inserted} ${row.inserted === 1 ? "word" : "words"} inserted`}>
                            +{row.inserted} {row.inserted === 1 ? "word" : "words"}
                          </ins>
                        )}{" "}
                        {row.deleted > 0 && (
                          <del class="sample-del" title={`${row.deleted} ${row.deleted === 1 ? "word" : "words"} deleted`}>
                            −{row.deleted} {row.deleted === 1 ? "word" : "words"}
                          </del>
                        )}
                      </span>
                    </span>
                  </li>
                ))}
              </ul>
            )}
            <p class="legend-key muted">
              <ins class="sample-ins neutral">Underlined and tinted</ins>: inserted. <del class="sample-del neutral">Struck through</del>: deleted. Hover
              over a change to see who made it.
            </p>
          </section>
        </aside>
      </div>
    </section>
  );
}

function CompareElementView(props: {
  element: CompareElement;
  palette: Palette;
  draftId: string;
  navigate: ReviewContext["navigate"];
  toChoice: { version?: string; at?: string };
}) {
  const { element: e, palette } = props;
  const isChanged = e.changed || !e.in_from || !e.in_to;
  let inserted = 0;
  let deleted = 0;
  for (const p of merged(e.diff)) {
    if (p.op === "insert") inserted += words(p.text);
    else if (p.op === "delete") deleted += words(p.text);
  }
  return (
    <section
      class={`compare-element${isChanged ? "" : " compare-same"}`}
      data-testid="compare-element"
      data-element-id={e.id}
      data-changed={isChanged ? "true" : "false"}
      data-in-from={e.in_from ? "true" : "false"}
      data-in-to={e.in_to ? "true" : "false"}
      aria-labelledby={`ce-${e.id}`}
    >
      <div class="element-head">
        <h3 class="element-label" id={`ce-${e.id}`}>
          {e.label}
        </h3>
        {!e.in_from && (
          <span class="badge badge-added" data-testid="compare-added">
            Added
          </span>
        )}
        {!e.in_to && (
          <span class="badge badge-archived" data-testid="compare-archived">
            Archived since
          </span>
        )}
        {isChanged && (
          <span class="muted compare-counts">
            {inserted > 0 && `+${inserted} ${inserted === 1 ? "word" : "words"}`}
            {inserted > 0 && deleted > 0 && " · "}
            {deleted > 0 && `−${deleted} ${deleted === 1 ? "word" : "words"}`}
          </span>
        )}
        <span class="spacer" />
        {e.in_to && (
          <Link href={reviewPath(props.draftId, "attribution", { element: e.id, ...props.toChoice })} navigate={props.navigate} class="small-link">
            Who wrote what
          </Link>
        )}
      </div>
      <div class="diff-text">
        {e.diff.length === 0 ? <span class="muted">(empty)</span> : e.diff.map((p, i) => <Piece key={i} piece={p} palette={palette} />)}
      </div>
    </section>
  );
}

function Piece(props: { piece: DiffPiece; palette: Palette }) {
  const { piece: p, palette } = props;
  if (p.op === "equal") return <span data-testid="diff-equal">{p.text}</span>;
  const who = authorWords(p);
  const common = {
    "data-entity": p.entity ?? "",
    "data-user": p.user ?? "",
    style: palette.style(p.entity),
    class: isOriginal(p) ? "by-original" : undefined,
  };
  if (p.op === "insert")
    return (
      <ins data-testid="diff-insert" title={`Inserted by ${who}`} {...common}>
        {p.text}
      </ins>
    );
  return (
    <del data-testid="diff-delete" title={`Deleted by ${p.user_name || p.user || p.entity ? who : "an unknown author"}`} {...common}>
      {p.text}
    </del>
  );
}
