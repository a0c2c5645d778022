// The amendments pending at the moment a reading shows (GET …/amendments
// ?at=), listed under each element's text.

import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../lib/api";
import { amendApi, type Amendment } from "../lib/amendments";
import type { Palette } from "../lib/colours";
import { plural } from "../lib/format";

/** The open amendments at `at` (null: now), by element; an error in words. */
export function usePendingAt(draftId: string, at: string | null, isNow: boolean) {
  const [byElement, setByElement] = useState<Map<string, Amendment[]> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setError(null);
    amendApi.pendingAt(draftId, isNow ? null : at).then(
      (list) => {
        if (!live) return;
        const map = new Map<string, Amendment[]>();
        for (const a of list) map.set(a.element_id, [...(map.get(a.element_id) ?? []), a]);
        setByElement(map);
      },
      (e) => {
        // A server without amendments: nothing to show.
        if (live) setError(e instanceof ApiError && e.status === 404 ? null : e instanceof ApiError ? e.message : String(e));
      },
    );
    return () => {
      live = false;
    };
  }, [draftId, at, isNow]);
  return { byElement, error };
}

export function PendingAmendments(props: { list: Amendment[] | undefined; palette: Palette }) {
  const list = props.list ?? [];
  if (list.length === 0) return null;
  return (
    <div class="reading-amendments" data-testid="reading-amendments">
      <h4>{plural(list.length, "pending amendment", "pending amendments")} then</h4>
      <ul>
        {list.map((a) => {
          const c = props.palette.of(a.entity);
          return (
            <li
              key={a.id}
              class={`amend${a.state === "conflict" ? " amend-conflict" : ""}`}
              style={{ "--c-fg": c.fg, "--c-bg": c.bg }}
              data-testid="reading-amendment"
              data-amendment-id={String(a.id)}
              data-entity={a.entity}
              data-state={a.state}
            >
              <strong>{a.sponsors.join(", ")}</strong>:{" "}
              {a.original ? <del class="amend-del">{a.original}</del> : null}
              {a.original && a.text ? " → " : ""}
              {a.text ? <ins class="amend-ins">{a.text}</ins> : null}
              {a.state === "conflict" ? " (conflicting: the passage had changed)" : ""}
              <span class="muted"> — {a.reason}</span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
