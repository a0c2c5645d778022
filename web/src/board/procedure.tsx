// The procedure: starting a silence on chosen elements (with a UTC
// deadline and the confirmation of stale objections), adopting the draft,
// naming a version.

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, type ConsensusElement, type ConsensusReport, type DraftState, type Entity, type SilenceRefusal, type StaleObjection } from "../lib/api";
import { STATUS_WORDS, plural } from "../lib/format";
import { duration, isoSeconds, parseUtcInput, roundUp, utc, utcInputValue, weekday } from "../lib/time";
import type { DraftSession, IndexEntry } from "../live/model";
import type { Actions } from "./controls";
import { STATUS_SYMBOL, list, notRespondedWords, silenceBlock, statusOf, tally, useServerNow } from "./model";

export function ProcedurePanel(props: {
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
