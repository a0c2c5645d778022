// The draft's outline: one line per element with its status and (for a
// delegate) the entity's own position, each a link that jumps to the
// element and focuses its label. It sits in the page flow (the side panel,
// which comes first on narrow screens), never over the text.

import type { ElementStatus } from "../lib/api";
import { CELL_SYMBOL, STANCE_LABEL, STATUS_WORDS, cellPosition, type CellPosition } from "../lib/format";
import type { IndexView } from "../live/model";
import { elementAnchor } from "./element";

const OWN_WORDS: Record<CellPosition, string> = {
  ...STANCE_LABEL,
  stale: "stale, reconfirm",
  none: "no position",
};

/** Scrolls element `id` into view and moves the focus to its label. */
export function jumpToElement(id: string) {
  const card = document.getElementById(elementAnchor(id));
  if (!card) return;
  const reduced = matchMedia("(prefers-reduced-motion: reduce)").matches;
  // Just below the sticky top bar, whatever its height (it wraps on phones).
  const bar = document.querySelector(".topbar")?.getBoundingClientRect().bottom ?? 0;
  const top = card.getBoundingClientRect().top + window.scrollY - Math.max(0, bar) - 8;
  window.scrollTo({ top: Math.max(0, top), behavior: reduced ? "auto" : "smooth" });
  card.querySelector<HTMLElement>(".element-label")?.focus({ preventScroll: true });
}

export function Outline(props: { index: IndexView; fallback: ReadonlyMap<string, string>; entity: string | null }) {
  const { index, entity } = props;
  if (index.elements.length === 0) return null;
  return (
    <nav class="outline" data-testid="outline" aria-labelledby="outline-h">
      <h2 id="outline-h">Elements ({index.elements.length})</h2>
      <ol class="outline-list">
        {index.elements.map((e) => {
          const c = index.consensus[e.id];
          const status: ElementStatus = c?.status ?? (/[[\]]/.test(props.fallback.get(e.id) ?? "") ? "bracketed" : "open");
          const own = entity ? cellPosition(c?.positions?.[entity]) : null;
          return (
            <li key={e.id} class="outline-item" data-testid="outline-item" data-element-id={e.id} data-status={status} data-own-position={own ?? ""}>
              <a
                href={`#${elementAnchor(e.id)}`}
                class="outline-link"
                data-testid="outline-link"
                onClick={(ev) => {
                  if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
                  ev.preventDefault();
                  jumpToElement(e.id);
                }}
              >
                <span class="outline-label">{e.label}</span>
                <span class={`badge badge-${status}`} data-testid="outline-status">
                  {STATUS_WORDS[status]}
                </span>
                {entity && own && (
                  <span class={`outline-own cell cell-${own}`} data-testid="outline-own">
                    <span aria-hidden="true">{CELL_SYMBOL[own]} </span>
                    {entity}: {OWN_WORDS[own]}
                  </span>
                )}
              </a>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}
