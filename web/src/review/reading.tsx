// Reading the draft at a moment (GET …/read): a named version, a time, or
// now — the title, the preamble, every element's label and text, and the
// consensus annex as the ledger stood then.

import { api, type AnnexElement, type AnnexPosition, type ElementStatus, type Reading as ReadingData, type VersionChoice } from "../lib/api";
import type { Palette } from "../lib/colours";
import { CELL_SYMBOL, STANCE_LABEL, STATUS_WORDS, type CellPosition } from "../lib/format";
import { isoAfter, utcTime } from "../lib/time";
import { PendingAmendments, usePendingAt } from "./pending";
import {
  EntityChip,
  Link,
  Loading,
  ReviewError,
  VersionPicker,
  choiceOf,
  choiceParams,
  choiceSpec,
  reviewPath,
  useLoaded,
  type ReviewContext,
} from "./kit";

export function Reading(props: { ctx: ReviewContext }) {
  const { ctx } = props;
  const { draftId, navigate } = ctx;
  const choice = choiceOf(new URLSearchParams(ctx.search));
  const key = JSON.stringify([draftId, choice]);
  const { result, loading, error, retry } = useLoaded(key, () => api.read(draftId, choice));

  const choose = (c: VersionChoice) => navigate(reviewPath(draftId, "read", choiceParams(c)));
  const reading = result?.key === key ? result.value : null;

  return (
    <div class="reading-view">
      <div class="review-toolbar">
        <VersionPicker versions={ctx.versions} choice={choice} onChoose={choose} submitLabel="Read at this time" idPrefix="pick" />
      </div>
      <ReviewError message={error} onRetry={retry} />
      {loading && <Loading>Reading the draft{choice.version ? ` at ${choice.version}` : choice.at ? ` at ${utcTime(choice.at)}` : ""}…</Loading>}
      {reading && !error && <ReadingBody ctx={ctx} reading={reading} choice={choice} stale={loading} />}
    </div>
  );
}

function ReadingBody(props: { ctx: ReviewContext; reading: ReadingData; choice: VersionChoice; stale: boolean }) {
  const { ctx, reading, choice } = props;
  const { draftId, navigate, palette } = ctx;
  const annexBy = new Map(reading.annex.elements.map((a) => [a.element, a]));
  const spec = choiceSpec(choice);
  const isNow = reading.version.label === "current";
  const pending = usePendingAt(draftId, reading.version.at, isNow);
  return (
    <article class={`reading${props.stale ? " is-stale" : ""}`} data-testid="reading" data-version-label={reading.version.label} data-at={reading.version.at} aria-busy={props.stale ? "true" : "false"}>
      <div class={`version-banner${isNow ? " version-now" : ""}`}>
        <p>
          {isNow ? (
            <>
              The draft <strong>now</strong> <span class="muted">({utcTime(reading.version.at)})</span>
            </>
          ) : choice.version ? (
            <>
              Version <strong>{reading.version.label}</strong>, as it stood when it was named on <strong>{utcTime(reading.version.at)}</strong>
            </>
          ) : (
            <>
              The draft as it stood at <strong>{utcTime(reading.version.at)}</strong>
            </>
          )}
        </p>
        <p class="banner-links">
          {!isNow && (
            <Link href={reviewPath(draftId, "compare", { from: spec, to: "now" })} navigate={navigate} testid="compare-with-now">
              Compare this version with now
            </Link>
          )}
          {isNow && ctx.versions && ctx.versions.length > 0 && (
            <Link href={reviewPath(draftId, "compare", { from: `name:${ctx.versions[ctx.versions.length - 1].name}`, to: "now" })} navigate={navigate} testid="compare-with-now">
              Compare {ctx.versions[ctx.versions.length - 1].name} with now
            </Link>
          )}
          {!isNow && (
            <Link href={reviewPath(draftId, "history", { to: isoAfter(reading.version.at) })} navigate={navigate}>
              The timeline up to then
            </Link>
          )}
        </p>
        <p class="banner-links" data-testid="export-links">
          Download {isNow ? "the draft now" : "this version"}:{" "}
          <a href={api.exportUrl(draftId, "md", choice)} download data-testid="export-md">
            Markdown
          </a>{" "}
          <a href={api.exportUrl(draftId, "html", choice)} target="_blank" rel="noopener" data-testid="export-html">
            Printable page
          </a>{" "}
          <a href={api.exportUrl(draftId, "akn", choice)} download data-testid="export-akn">
            Akoma Ntoso XML
          </a>
        </p>
        <p class="banner-links" data-testid="compilation-links">
          Compilation text (every pending amendment inline, with its sponsors):{" "}
          <a href={api.exportUrl(draftId, "compilation-md", choice)} download data-testid="export-compilation-md">
            Markdown
          </a>{" "}
          <a href={api.exportUrl(draftId, "compilation-html", choice)} target="_blank" rel="noopener" data-testid="export-compilation-html">
            Printable page
          </a>
        </p>
        {pending.error && <p class="feedback feedback-error">The pending amendments could not be read: {pending.error}</p>}
      </div>

      <h2 class="reading-title" data-testid="reading-title">
        {reading.title}
      </h2>
      <p class="preamble reading-preamble" data-testid="reading-preamble">
        {reading.preamble}
      </p>

      {reading.elements.length === 0 && <p class="empty-state">The draft had no elements then.</p>}
      <div class="reading-elements">
        {reading.elements.map((e) => {
          const annex = annexBy.get(e.id);
          const status = (annex?.status ?? "open") as ElementStatus;
          return (
            <section key={e.id} class={`element reading-element status-${status}`} data-testid="reading-element" data-element-id={e.id} aria-labelledby={`re-${e.id}`}>
              <div class="element-head">
                <h3 class="element-label" id={`re-${e.id}`} data-testid="reading-element-label">
                  {e.label}
                </h3>
                <span class={`badge badge-${status}`} data-testid="reading-element-status" data-status={status}>
                  {statusText(annex)}
                </span>
                <span class="spacer" />
                <Link href={reviewPath(draftId, "attribution", { element: e.id, ...choiceParams(choice) })} navigate={navigate} class="small-link">
                  Who wrote what
                </Link>
              </div>
              <div class="reading-text" data-testid="reading-element-text">
                {e.text}
              </div>
              <PendingAmendments list={pending.byElement?.get(e.id)} palette={palette} />
            </section>
          );
        })}
      </div>

      <section class="annex" data-testid="annex" aria-labelledby="annex-h">
        <h2 id="annex-h">Consensus annex</h2>
        <p class="muted">
          Each entity’s position on each element as the record stood at {utcTime(reading.annex.as_of)}. A stale position was given on an earlier
          text and does not count.
        </p>
        {reading.annex.elements.map((a) => (
          <AnnexTable key={a.element} annex={a} palette={palette} entities={reading.annex.entities} />
        ))}
      </section>
    </article>
  );
}

function statusText(annex: AnnexElement | undefined): string {
  if (!annex) return STATUS_WORDS.open;
  if (annex.status === "under_silence" && annex.deadline) return `Under silence until ${utcTime(annex.deadline, false)}`;
  return STATUS_WORDS[annex.status as ElementStatus] ?? annex.status;
}

const COUNT_WORDS: Record<CellPosition, [string, string]> = {
  support: ["support", "supports"],
  support_ad_ref: ["support ad ref", "supports ad ref"],
  reservation: ["reservation", "reservations"],
  abstain: ["abstention", "abstentions"],
  object: ["objection", "objections"],
  stale: ["stale position", "stale positions"],
  none: ["without a position", "without a position"],
};

function countWords(c: CellPosition, n: number): string {
  return `${n} ${COUNT_WORDS[c][n === 1 ? 0 : 1]}`;
}

function cellOf(p: AnnexPosition): CellPosition {
  if (p.standing === "no_response" || !p.position) return "none";
  if (p.standing === "stale") return "stale";
  return p.position;
}

function AnnexTable(props: { annex: AnnexElement; palette: Palette; entities: { code: string; name: string }[] }) {
  const { annex, palette } = props;
  const names = new Map(props.entities.map((e) => [e.code, e.name]));
  const status = annex.status as ElementStatus;
  const counts = new Map<CellPosition, number>();
  for (const p of annex.positions) counts.set(cellOf(p), (counts.get(cellOf(p)) ?? 0) + 1);
  const given = annex.positions.filter((p) => p.standing !== "no_response" && p.position);
  const silent = annex.positions.filter((p) => !(p.standing !== "no_response" && p.position));
  return (
    <section class="annex-element" data-testid="annex-element" data-element-id={annex.element} aria-labelledby={`annex-h ax-${annex.element}`}>
      <div class="element-head">
        <h3 id={`ax-${annex.element}`}>{annex.label}</h3>
        <span class={`badge badge-${status}`} data-status={status}>
          {statusText(annex)}
        </span>
        <span class="muted annex-counts">
          {(["support", "support_ad_ref", "reservation", "abstain", "object", "stale", "none"] as CellPosition[])
            .filter((c) => counts.get(c))
            .map((c) => countWords(c, counts.get(c) ?? 0))
            .join(" · ")}
        </span>
      </div>
      {given.length > 0 && (
        <table class="annex-table">
          <colgroup>
            <col class="col-entity" />
            <col class="col-position" />
            <col />
            <col class="col-given" />
          </colgroup>
          <thead>
            <tr>
              <th scope="col">Entity</th>
              <th scope="col">Position</th>
              <th scope="col">Note or proposed wording</th>
              <th scope="col">Given</th>
            </tr>
          </thead>
          <tbody>
            {given.map((p) => {
              const cell = cellOf(p);
              return (
                <tr
                  key={p.entity}
                  class={`annex-row annex-${p.standing}`}
                  data-testid="annex-position"
                  data-entity={p.entity}
                  data-position={p.position ?? "none"}
                  data-standing={p.standing}
                >
                  <th scope="row">
                    <EntityChip code={p.entity} palette={palette} /> <span class="annex-entity-name">{names.get(p.entity) ?? ""}</span>
                  </th>
                  <td>
                    <span class={`cell cell-${cell}`} aria-hidden="true">
                      <span class="cell-symbol">{CELL_SYMBOL[cell]}</span>
                    </span>{" "}
                    {p.position ? STANCE_LABEL[p.position] ?? p.position : "No position"}
                    {p.standing === "stale" && <span class="annex-stale"> — stale (given on an earlier text)</span>}
                    {p.by_silence && <span class="by-silence"> — by silence</span>}
                  </td>
                  <td class="annex-note">
                    {p.note && (
                      <span class="annex-note-text">
                        {p.position === "object" ? "Reason: " : "Note: "}
                        {p.note}
                      </span>
                    )}
                    {p.wording && (
                      <span class="annex-wording">
                        Proposed wording: <q>{p.wording}</q>
                      </span>
                    )}
                  </td>
                  <td class="annex-when">{p.at ? utcTime(p.at, false) : ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {silent.length > 0 && (
        <p class="annex-silent">
          <span class="annex-silent-head">
            No position{given.length > 0 ? " from the other" : " from any of the"} {silent.length} {silent.length === 1 ? "entity" : "entities"}:
          </span>{" "}
          {silent.map((p) => (
            <span
              key={p.entity}
              class="annex-none"
              data-testid="annex-position"
              data-entity={p.entity}
              data-position="none"
              data-standing={p.standing}
              title={`${p.entity}${names.get(p.entity) ? ` (${names.get(p.entity)})` : ""}: no position`}
            >
              {p.entity}
            </span>
          ))}
        </p>
      )}
    </section>
  );
}
