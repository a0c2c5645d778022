// An element's pending amendments, live from the index document and located
// in this client's own copy of the text, with the actions the user's role
// allows: delegates sponsor, withdraw a sponsorship, object (with a reason)
// or, for their own entity's, withdraw and re-anchor; chairs accept or
// reject (with a reason). Shared by the board and the delegate's workspace.

import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError } from "../lib/api";
import { amendApi, codePoints } from "../lib/amendments";
import type { Palette } from "../lib/colours";
import { plural } from "../lib/format";
import { Signal, useSignal } from "../lib/signal";
import { utc } from "../lib/time";
import * as A from "@automerge/automerge/slim";
import { locate, type LiveAmendment, type Located } from "../live/amendments";
import type { DraftSession, ElementState } from "../live/model";

export interface Pending {
  a: LiveAmendment;
  /** Where its passage is in our copy (null: the text is not here yet). */
  loc: Located | null;
  /** Its passage no longer reads as proposed. */
  conflict: boolean;
}

const NO_HANDLE = new Signal<ElementState["handle"]["value"]>(undefined);
const NONE: LiveAmendment[] = [];
const NO_PENDING: Pending[] = [];

/** The element's open amendments, each located in the live text (again at
 * every change of the text). */
export function usePending(session: DraftSession, elementId: string): Pending[] {
  const index = useSignal(session.index);
  const state = session.element(elementId);
  const handle = useSignal(state?.handle ?? NO_HANDLE);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!handle) return;
    const onChange = () => setTick((t) => t + 1);
    handle.on("change", onChange);
    return () => {
      handle.off("change", onChange);
    };
  }, [handle]);
  const list = index.negotiation.amendments[elementId] ?? NONE;
  return useMemo(() => {
    if (list.length === 0) return NO_PENDING;
    const doc = handle?.isReady() ? handle.doc() : undefined;
    return list.map((a) => {
      const loc = doc ? locate(doc, a.original, a.start, a.end) : null;
      return { a, loc, conflict: !!loc && !loc.intact };
    });
  }, [list, handle, tick]);
}

/** The passage and the replacement in words. */
export function AmendmentWords(props: { a: LiveAmendment; current?: string | null }) {
  const { a } = props;
  if (!a.original) {
    return (
      <>
        insert <ins class="amend-ins">{a.text}</ins>
      </>
    );
  }
  return (
    <>
      {a.text ? "replace " : "delete "}
      <del class="amend-del">{a.original}</del>
      {a.text && (
        <>
          {" "}
          with <ins class="amend-ins">{a.text}</ins>
        </>
      )}
    </>
  );
}

type Busy = { id: number; what: string } | null;

export function AmendmentList(props: {
  session: DraftSession;
  elementId: string;
  label: string;
  pending: Pending[];
  palette: Palette;
  /** Chairs' controls (accept, reject) rather than delegates'. */
  chair: boolean;
}) {
  const { session, elementId, label, pending, palette } = props;
  const user = session.user;
  const entity = user.role === "delegate" ? user.entity : null;
  const state = session.element(elementId);
  const [busy, setBusy] = useState<Busy>(null);
  const [feedback, setFeedback] = useState<{ state: "ok" | "error"; message: string } | null>(null);
  const [reasonFor, setReasonFor] = useState<{ id: number; kind: "object" | "reject" } | null>(null);
  const [reason, setReason] = useState("");
  const draft = session.draft.id;

  const run = async (id: number, what: string, call: () => Promise<unknown>, done: string) => {
    if (busy) return;
    setBusy({ id, what });
    setFeedback(null);
    try {
      await call();
      setFeedback({ state: "ok", message: done });
      setReasonFor(null);
      setReason("");
    } catch (e) {
      setFeedback({ state: "error", message: e instanceof ApiError ? e.message : String(e) });
    } finally {
      setBusy(null);
    }
  };

  /** Re-anchors at the user's current selection in the editor. */
  const reanchor = (a: LiveAmendment) => {
    const sel = state?.selection.value;
    const handle = state?.handle.value;
    if (!sel || !handle?.isReady()) {
      setFeedback({ state: "error", message: "Select the passage in the text first, then re-anchor." });
      return;
    }
    const doc = handle.doc();
    const text = String(doc.text ?? "");
    const [f, t] = sel.from <= sel.to ? [sel.from, sel.to] : [sel.to, sel.from];
    void run(
      a.id,
      "reanchor",
      () => amendApi.reanchor(draft, a.id, { from: codePoints(text, f), to: codePoints(text, t), heads: A.getHeads(doc) }),
      `Amendment re-anchored on “${text.slice(f, t)}”.`,
    );
  };

  if (pending.length === 0) {
    return (
      <p class="muted amend-none" data-testid="amendments-none">
        No pending amendments on {label}.
      </p>
    );
  }

  return (
    <div class="amendments" data-testid="amendments">
      <h3 class="amend-title">{plural(pending.length, "pending amendment", "pending amendments")}</h3>
      <ul class="amend-list">
        {pending.map(({ a, loc, conflict }) => {
          const colour = palette.of(a.entity);
          const own = entity === a.entity;
          const sponsored = !!entity && a.sponsors.includes(entity);
          const objected = !!entity && a.objections.some((o) => o.entity === entity);
          const askReason = reasonFor?.id === a.id ? reasonFor.kind : null;
          const off = busy !== null;
          return (
            <li
              key={a.id}
              class={`amend${conflict ? " amend-conflict" : ""}`}
              style={{ "--c-fg": colour.fg, "--c-bg": colour.bg }}
              data-testid="amendment"
              data-amendment-id={String(a.id)}
              data-entity={a.entity}
              data-state={conflict ? "conflict" : "open"}
              data-sponsors={a.sponsors.join(" ")}
            >
              <p class="amend-what">
                <span class="swatch" aria-hidden="true" />
                <strong>{palette.name(a.entity)}</strong> proposes to <AmendmentWords a={a} />.
              </p>
              {conflict && (
                <p class="amend-warning" data-testid="amendment-conflict">
                  Conflicting: the passage was changed since this amendment was proposed
                  {loc ? (loc.current ? <> and now reads “{loc.current}”</> : " and is gone") : ""}. It cannot be accepted until its proposer re-anchors it.
                </p>
              )}
              <p class="amend-reason">
                <span class="comment-key">Reason:</span> {a.reason}
              </p>
              <p class="amend-meta muted">
                <span data-testid="amendment-sponsors">
                  {plural(a.sponsors.length, "sponsor", "sponsors")}: {a.sponsors.join(", ")}
                </span>
                {a.user_name ? ` · proposed by ${a.user_name}` : ""}
                {a.created_at != null ? `, ${utc(a.created_at)}` : ""}
              </p>
              {a.objections.length > 0 && (
                <ul class="amend-objections" aria-label="Objections">
                  {a.objections.map((o) => (
                    <li key={o.entity} data-testid="amendment-objection" data-entity={o.entity}>
                      <strong>{o.entity}</strong> objects: {o.reason}
                    </li>
                  ))}
                </ul>
              )}
              <div class="amend-actions">
                {props.chair && user.role === "chair" && (
                  <>
                    <button
                      type="button"
                      class="compact"
                      data-testid="amendment-accept"
                      aria-disabled={conflict || off ? "true" : undefined}
                      title={conflict ? "The passage changed: the proposer must re-anchor it first." : undefined}
                      onClick={() => {
                        if (conflict || off) return;
                        void run(a.id, "accept", () => amendApi.accept(draft, a.id), `Accepted ${a.entity}’s amendment on ${label}: the text now reads with it.`);
                      }}
                    >
                      Accept
                    </button>
                    <button type="button" class="compact danger" data-testid="amendment-reject" disabled={off} onClick={() => setReasonFor({ id: a.id, kind: "reject" })}>
                      Reject…
                    </button>
                  </>
                )}
                {!props.chair && entity && !own && (
                  <>
                    {sponsored ? (
                      <button
                        type="button"
                        class="compact secondary"
                        data-testid="amendment-unsponsor"
                        disabled={off}
                        onClick={() => void run(a.id, "unsponsor", () => amendApi.unsponsor(draft, a.id), `${entity} no longer sponsors this amendment.`)}
                      >
                        Withdraw sponsorship
                      </button>
                    ) : (
                      <button
                        type="button"
                        class="compact"
                        data-testid="amendment-sponsor"
                        disabled={off}
                        onClick={() => void run(a.id, "sponsor", () => amendApi.sponsor(draft, a.id), `${entity} now sponsors this amendment.`)}
                      >
                        Sponsor for {entity}
                      </button>
                    )}
                    {objected ? (
                      <button
                        type="button"
                        class="compact secondary"
                        data-testid="amendment-unobject"
                        disabled={off}
                        onClick={() => void run(a.id, "unobject", () => amendApi.unobject(draft, a.id), `${entity}’s objection withdrawn.`)}
                      >
                        Withdraw objection
                      </button>
                    ) : (
                      <button type="button" class="compact secondary" data-testid="amendment-object" disabled={off} onClick={() => setReasonFor({ id: a.id, kind: "object" })}>
                        Object…
                      </button>
                    )}
                  </>
                )}
                {!props.chair && own && (
                  <>
                    {conflict && (
                      <button type="button" class="compact" data-testid="amendment-reanchor" disabled={off} onClick={() => reanchor(a)}>
                        Re-anchor on the selection
                      </button>
                    )}
                    <button
                      type="button"
                      class="compact danger"
                      data-testid="amendment-withdraw"
                      disabled={off}
                      onClick={() => void run(a.id, "withdraw", () => amendApi.withdraw(draft, a.id), `${entity} withdrew its amendment.`)}
                    >
                      Withdraw
                    </button>
                  </>
                )}
              </div>
              {askReason && (
                <form
                  class="amend-reason-form"
                  onSubmit={(e) => {
                    e.preventDefault();
                    const why = reason.trim();
                    if (!why) {
                      setFeedback({ state: "error", message: askReason === "reject" ? "A rejection needs a reason." : "An objection needs a reason." });
                      return;
                    }
                    if (askReason === "reject") void run(a.id, "reject", () => amendApi.reject(draft, a.id, why), `Rejected ${a.entity}’s amendment on ${label}.`);
                    else void run(a.id, "object", () => amendApi.object(draft, a.id, why), `${entity} objects to this amendment.`);
                  }}
                >
                  <label for={`amend-reason-${a.id}`}>{askReason === "reject" ? "Reason for rejecting (required)" : "Reason for objecting (required)"}</label>
                  <textarea
                    id={`amend-reason-${a.id}`}
                    data-testid={askReason === "reject" ? "amendment-reject-reason" : "amendment-object-reason"}
                    rows={2}
                    maxLength={2000}
                    required
                    value={reason}
                    onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)}
                  />
                  <div class="submit-row">
                    <button type="submit" class="compact" data-testid={askReason === "reject" ? "amendment-reject-submit" : "amendment-object-submit"} disabled={off}>
                      {askReason === "reject" ? "Reject" : "Object"}
                    </button>
                    <button type="button" class="compact secondary" onClick={() => setReasonFor(null)}>
                      Cancel
                    </button>
                  </div>
                </form>
              )}
            </li>
          );
        })}
      </ul>
      {feedback && (
        <p class={`feedback feedback-${feedback.state}`} data-testid="amendment-feedback" data-state={feedback.state} role="status">
          {feedback.message}
        </p>
      )}
    </div>
  );
}
