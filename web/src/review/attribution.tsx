// Who wrote what (GET …/elements/{eid}/attribution): an element's text,
// now or at a version, with each span shaded by the entity that wrote it,
// a legend with each entity's share, and — on request — the deletions each
// author made.

import { useEffect } from "preact/hooks";
import { api, type Attribution as AttributionData, type VersionChoice } from "../lib/api";
import { utcTime } from "../lib/time";
import {
  Link,
  Loading,
  ReviewError,
  Swatch,
  VersionPicker,
  authorWords,
  choiceOf,
  choiceParams,
  choiceSpec,
  entityLabel,
  isOriginal,
  reviewPath,
  useLoaded,
  type ReviewContext,
} from "./kit";

function chars(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

export function Attribution(props: { ctx: ReviewContext }) {
  const { ctx } = props;
  const { draftId, draft, navigate } = ctx;
  const params = new URLSearchParams(ctx.search);
  const elementParam = params.get("element");
  const choice = choiceOf(params);
  const showDeletions = params.get("deletions") === "1";
  const elementId = elementParam ?? draft.elements[0]?.id ?? null;
  const key = JSON.stringify([draftId, elementId, choice]);
  const { result: data, loading, error, retry } = useLoaded(elementId ? key : null, () =>
    api.attribution(draftId, elementId as string, choice),
  );

  const url = (patch: { element?: string | null; choice?: VersionChoice; deletions?: boolean }) =>
    reviewPath(draftId, "attribution", {
      element: patch.element !== undefined ? patch.element : elementId,
      ...choiceParams(patch.choice ?? choice),
      deletions: (patch.deletions ?? showDeletions) ? "1" : undefined,
    });

  // No element named: the first, written into the URL (it is what a shared link shows).
  useEffect(() => {
    if (!elementParam && elementId) navigate(url({}), true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [elementParam, elementId]);

  const archived = draft.archived_elements ?? [];
  const known = !elementId || draft.elements.some((e) => e.id === elementId) || archived.some((e) => e.id === elementId);

  return (
    <div class="attribution-view">
      <div class="review-toolbar attribution-toolbar">
        <div class="picker-field">
          <label for="pick-element">Element</label>
          <select id="pick-element" data-testid="pick-element" value={elementId ?? ""} onChange={(e) => navigate(url({ element: (e.target as HTMLSelectElement).value }))}>
            {draft.elements.map((e) => (
              <option key={e.id} value={e.id}>
                {e.label}
              </option>
            ))}
            {archived.length > 0 && (
              <optgroup label="Archived">
                {archived.map((e) => (
                  <option key={e.id} value={e.id}>
                    {e.label} (archived)
                  </option>
                ))}
              </optgroup>
            )}
            {!known && elementId && <option value={elementId}>{elementId}</option>}
          </select>
        </div>
        <VersionPicker versions={ctx.versions} choice={choice} onChoose={(c) => navigate(url({ choice: c }))} submitLabel="Show at this time" idPrefix="pick" />
      </div>
      {!elementId && <p class="empty-state">This draft has no elements.</p>}
      <ReviewError message={error} onRetry={retry} />
      {loading && <Loading>Finding who wrote what…</Loading>}
      {data && !error && (
        <AttributionBody
          ctx={ctx}
          data={data.value}
          choice={choice}
          stale={loading || data.key !== key}
          showDeletions={showDeletions}
          onToggleDeletions={() => navigate(url({ deletions: !showDeletions }), true)}
        />
      )}
    </div>
  );
}

const ORIGINAL = "Accord (original text)";

interface Share {
  entity: string;
  count: number;
  names: Set<string>;
}

function shares(data: AttributionData): Share[] {
  const by = new Map<string, Share>();
  for (const s of data.spans) {
    const code = s.entity ?? "";
    const share = by.get(code) ?? { entity: code, count: 0, names: new Set<string>() };
    share.count += chars(s.text);
    share.names.add(isOriginal(s) ? ORIGINAL : authorWords(s).replace(` (${code})`, ""));
    by.set(code, share);
  }
  return [...by.values()].sort((a, b) => b.count - a.count || a.entity.localeCompare(b.entity));
}

function AttributionBody(props: {
  ctx: ReviewContext;
  data: AttributionData;
  choice: VersionChoice;
  stale: boolean;
  showDeletions: boolean;
  onToggleDeletions: () => void;
}) {
  const { ctx, data, choice } = props;
  const { palette, draftId, navigate } = ctx;
  const total = chars(data.text);
  const legend = shares(data);
  const isNow = data.version.label === "current";
  const deletedTotal = data.deletions.reduce((n, d) => n + d.count, 0);
  return (
    <section
      class={`attribution${props.stale ? " is-stale" : ""}`}
      data-testid="attribution"
      data-element-id={data.element}
      data-version-label={data.version.label}
      aria-busy={props.stale ? "true" : "false"}
      aria-labelledby="attr-h"
    >
      <div class="version-banner">
        <h2 id="attr-h">
          {data.label}{" "}
          <span class="muted attr-when">
            {isNow ? `now (${utcTime(data.version.at)})` : choice.version ? `at ${data.version.label} (named ${utcTime(data.version.at)})` : `at ${utcTime(data.version.at)}`}
          </span>
        </h2>
        <p class="banner-links">
          {!isNow && (
            <Link href={reviewPath(draftId, "compare", { from: choiceSpec(choice), to: "now" })} navigate={navigate}>
              Compare this version with now
            </Link>
          )}
          <Link href={reviewPath(draftId, "read", choiceParams(choice))} navigate={navigate}>
            Read the whole draft {isNow ? "now" : "then"}
          </Link>
          <Link href={reviewPath(draftId, "history", { element: data.element })} navigate={navigate}>
            Timeline of {data.label}
          </Link>
        </p>
      </div>
      <div class="attribution-layout">
        <div class="attribution-main">
          <div class="attribution-text" data-testid="attribution-text">
            {data.spans.length === 0 && <span class="muted">(This element was empty.)</span>}
            {data.spans.map((s, i) => {
              const original = isOriginal(s);
              return (
                <span
                  key={i}
                  class={`attr-span${original ? " by-original" : ""}`}
                  data-testid="attr-span"
                  data-entity={s.entity ?? ""}
                  data-user={s.user ?? ""}
                  style={palette.style(s.entity)}
                  title={original ? "Original text" : `Written by ${authorWords(s)}`}
                >
                  {s.text}
                </span>
              );
            })}
          </div>
          <div class="deletions-block">
            <button
              type="button"
              class="compact secondary"
              data-testid="show-deletions"
              aria-pressed={props.showDeletions ? "true" : "false"}
              aria-controls={props.showDeletions ? "deletions" : undefined}
              onClick={props.onToggleDeletions}
            >
              {props.showDeletions ? "Hide deletions" : `Show deletions (${deletedTotal} ${deletedTotal === 1 ? "character" : "characters"})`}
            </button>
            {props.showDeletions && (
              <div id="deletions" class="deletions">
                <h3>What each author deleted{isNow ? "" : " up to this version"}</h3>
                {data.deletions.length === 0 ? (
                  <p class="muted" data-testid="deletions">
                    Nobody has deleted anything from this element.
                  </p>
                ) : (
                  <ul data-testid="deletions" class="deletion-list">
                    {data.deletions.map((d, i) => (
                      <li key={i} data-testid="deletion" data-entity={d.entity ?? ""} data-user={d.user ?? ""} style={palette.style(d.entity)}>
                        <p class="deletion-who">
                          <Swatch code={d.entity} palette={palette} /> <strong>{authorWords(d)}</strong> deleted {d.count}{" "}
                          {d.count === 1 ? "character" : "characters"}:
                        </p>
                        <del class="deleted-text">{d.text}</del>
                      </li>
                    ))}
                  </ul>
                )}
                <p class="muted hint">Deleted characters are listed in the order they stood in the text, run together.</p>
              </div>
            )}
          </div>
        </div>
        <aside class="attribution-side">
          <section class="legend-box" aria-labelledby="attr-legend-h">
            <h2 id="attr-legend-h">Written by</h2>
            <ul class="legend-list" data-testid="legend">
              {legend.map((s) => (
                <li key={s.entity} class="legend-entry" data-testid="legend-entry" data-entity={s.entity} data-count={s.count} style={palette.style(s.entity)}>
                  <Swatch code={s.entity} palette={palette} />
                  <span class="legend-text">
                    <span class="legend-name">
                      <strong>{s.entity || (s.names.size === 1 && s.names.has(ORIGINAL) ? "Original text" : "No entity")}</strong>{" "}
                      <span class="legend-full">{s.entity ? entityLabel(s.entity, palette) : ""}</span>
                    </span>
                    <span class="legend-people muted">{[...s.names].join(", ")}</span>
                    <span class="legend-counts">
                      {s.count} {s.count === 1 ? "character" : "characters"}
                      {total > 0 && <span class="muted"> · {Math.round((s.count / total) * 100)}%</span>}
                    </span>
                  </span>
                </li>
              ))}
            </ul>
            <p class="legend-key muted">Hover over the text to see who wrote each part.</p>
          </section>
        </aside>
      </div>
    </section>
  );
}
