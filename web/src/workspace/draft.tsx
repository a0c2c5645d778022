// The draft view: the title and preamble, every element, and the side
// panel (the outline, who is here, the key to the positions).

import { useEffect, useMemo } from "preact/hooks";
import type { Draft, Me, Present } from "../lib/api";
import { colourOf } from "../lib/colours";
import { CELL_SYMBOL, LEGEND, ROLE_WORDS, cellKeyWords } from "../lib/format";
import { useSignal } from "../lib/signal";
import type { DraftSession } from "../live/model";
import { ElementCard } from "./element";
import { Outline } from "./outline";

export function DraftView(props: { session: DraftSession; draft: Draft; me: Me; onOpenBoard?: () => void; onOpenHistory: () => void }) {
  const { session, draft, me } = props;
  const index = useSignal(session.index);
  const presence = useSignal(session.presence);
  useSignal(session.cursorTick);
  const fallback = useMemo(() => new Map(draft.elements.map((e) => [e.id, e.text])), [draft]);
  const entityCodes = useMemo(() => new Set(session.entities.map((e) => e.code)), [session]);
  const user = me.user;
  const canEdit = user.role === "delegate" || user.role === "chair";
  const positionEntity = user.role === "delegate" && user.entity && entityCodes.has(user.entity) ? user.entity : null;
  const myPeer = session.sync.repo.peerId;
  const connection = useSignal(session.sync.connection);

  useEffect(() => {
    document.title = `${index.title} — Accord`;
  }, [index.title]);

  // One line per person, with the elements their cursor is in.
  const people = useMemo(() => {
    const byUser = new Map<string, { p: Present; me: boolean; elements: Set<string> }>();
    for (const p of presence) {
      const entry = byUser.get(p.userId) ?? { p, me: false, elements: new Set<string>() };
      if (p.peerId === myPeer || p.userId === user.id) entry.me = true;
      // Where their cursor is; or a client that opened only some elements.
      const partial = p.elements.length > 0 && p.elements.length < index.elements.length;
      for (const e of index.elements) {
        if (session.element(e.id)?.cursors.value.has(p.peerId) || (partial && p.elements.includes(e.id))) entry.elements.add(e.label);
      }
      byUser.set(p.userId, entry);
    }
    return [...byUser.values()].sort((a, b) => Number(b.me) - Number(a.me) || a.p.name.localeCompare(b.p.name));
    // cursorTick re-renders this view; the memo keys on what it reads
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [presence, index.elements, session.cursorTick.value, myPeer, user.id]);

  return (
    <main class="draft" id="main" data-testid="draft" tabIndex={-1}>
      <section class="draft-head">
        <div class="draft-head-row">
          <h1 data-testid="draft-title">{index.title}</h1>
          {user.role === "chair" && props.onOpenBoard && (
            <a
              class="button-link"
              data-testid="open-board"
              href={`/drafts/${encodeURIComponent(draft.id)}/board`}
              onClick={(e) => {
                if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
                e.preventDefault();
                props.onOpenBoard?.();
              }}
            >
              Consensus board
            </a>
          )}
          <a
            class="button-link secondary"
            data-testid="open-history"
            href={`/drafts/${encodeURIComponent(draft.id)}/history`}
            onClick={(e) => {
              if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
              e.preventDefault();
              props.onOpenHistory();
            }}
          >
            History
          </a>
        </div>
        <p class="preamble" data-testid="draft-preamble">
          {index.preamble}
        </p>
      </section>
      <div class="draft-columns">
        <div class="elements">
          {index.elements.length === 0 && <p>This draft has no elements yet.</p>}
          {index.elements.map((entry) => (
            <ElementCard
              key={entry.id}
              session={session}
              entry={entry}
              consensus={index.consensus[entry.id]}
              fallbackText={fallback.get(entry.id) ?? ""}
              presence={presence}
              elementCount={index.elements.length}
              canEdit={canEdit}
              positionEntity={positionEntity}
            />
          ))}
        </div>
        <aside class="side">
          <Outline index={index} fallback={fallback} entity={positionEntity} />
          <section class="presence" data-testid="presence" aria-labelledby="presence-h">
            <h2 id="presence-h">Online now ({people.length})</h2>
            {connection !== "connected" && <p class="muted">You are not connected: this is who was online when you last were.</p>}
            {people.length === 0 ? (
              <p class="muted">Nobody is connected.</p>
            ) : (
              <ul>
                {people.map(({ p, me: self, elements }) => (
                  <li key={p.userId} data-testid="presence-user" data-user={p.name} data-entity={p.entity ?? ""}>
                    <span class={`avatar here-c${colourOf(p.userId)}`} aria-hidden="true">
                      ●
                    </span>{" "}
                    <strong>{p.name}</strong>
                    {p.entity ? ` (${p.entity})` : ` (${ROLE_WORDS[p.role] ?? p.role})`}
                    {self ? " — you" : ""}
                    {elements.size > 0 && <span class="muted"> — in {[...elements].join(", ")}</span>}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section class="legend" aria-labelledby="legend-h">
            <h2 id="legend-h">Positions</h2>
            <ul>
              {LEGEND.map((pos) => (
                <li key={pos}>
                  <span class={`cell cell-${pos}`} aria-hidden="true">
                    <span class="cell-symbol">{CELL_SYMBOL[pos]}</span>
                  </span>{" "}
                  {cellKeyWords(pos)}
                </li>
              ))}
            </ul>
            {user.role === "reviewer" && <p class="muted">As a reviewer you read everything and change nothing.</p>}
            {user.role === "chair" && <p class="muted">Chairs edit the text; positions are stated by the delegates.</p>}
          </section>
        </aside>
      </div>
    </main>
  );
}
