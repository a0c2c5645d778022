// Folding the timeline's entries: positions one silence recorded, and
// positions stated on one element close together, become one entry each
// (`foldEntries`), across pages.

import type { EventItem, HistoryItem, PositionItem } from "../lib/api";

/** Positions on one element recorded within this long of the first of
 *  them (nothing else about the element in between) fold into one entry.
 *  Measured from the first, so a run never stays open for long and the
 *  entries after it are not held back. */
const GROUP_SPAN_MS = 10 * 60_000;

/** The time an item stands at (a revision: its end). */
export function itemAt(item: HistoryItem): string {
  return item.kind === "revision" ? item.end : item.at;
}

export function itemKey(item: HistoryItem): string {
  return item.kind === "revision" ? `r${item.id}` : item.kind === "position" ? `p${item.seq}` : `e${item.seq}`;
}

export function isLandmark(item: HistoryItem): item is EventItem {
  return item.kind === "event" && (item.type === "version_named" || item.type === "draft_adopted");
}

export function versionName(item: EventItem): string {
  const name = item.data?.name;
  return typeof name === "string" ? name : "";
}

/** What the timeline shows: one item, or folded positions. */
export type Block =
  | { kind: "item"; item: HistoryItem }
  /** Positions one silence recorded (same element, same moment). */
  | { kind: "silence"; items: PositionItem[] }
  /** Positions stated on one element close together. */
  | { kind: "positions"; items: PositionItem[] };

interface Run {
  element: string;
  silence: boolean;
  items: PositionItem[];
  /** When the run's first position was recorded (ms). */
  startMs: number;
  open: boolean;
  /** Index of its first item in the folded list. */
  head: number;
}

/** The time the server orders an item by (a revision: its start). */
function orderMs(item: HistoryItem): number {
  return Date.parse(item.kind === "revision" ? item.start : item.at);
}

/**
 * Folds `items` (in the server's order) into blocks: positions on one
 * element within GROUP_SPAN_MS of the run's first, all on the same text,
 * become one block, placed where the run starts, unless something else
 * about the element comes in
 * between (an edit — positions after it are on another text — a chair's
 * action, a stale notice) or a named version (runs never straddle one);
 * positions recorded by one silence fold by themselves. Without `done`,
 * the blocks from the first run that may still grow on are held back:
 * `pending` is the items to fold again with the next page (those of runs
 * already shown left out).
 */
export function foldEntries(items: HistoryItem[], done: boolean): { blocks: Block[]; pending: HistoryItem[] } {
  const slots: ({ run: Run } | { item: HistoryItem; head: number })[] = [];
  const open = new Map<string, Run>();
  const close = (which: (run: Run) => boolean) => {
    for (const [key, run] of open)
      if (which(run)) {
        run.open = false;
        open.delete(key);
      }
  };
  items.forEach((item, index) => {
    const t = orderMs(item);
    close((run) => (run.silence ? t > run.startMs : t - run.startMs > GROUP_SPAN_MS));
    if (item.kind === "position" && item.element) {
      const key = item.by_silence ? `s ${item.element} ${item.at}` : `p ${item.element}`;
      const run = open.get(key);
      // All on one text: a position on another one (the edit in between
      // may be filtered out) starts a run of its own.
      if (run && run.items[0].text_hash === item.text_hash) {
        run.items.push(item);
        return;
      }
      if (run) close((r) => r === run);
      const started: Run = { element: item.element, silence: item.by_silence, items: [item], startMs: t, open: true, head: index };
      open.set(key, started);
      slots.push({ run: started });
      return;
    }
    if (isLandmark(item)) close(() => true);
    else if (item.element) close((run) => run.element === item.element);
    slots.push({ item, head: index });
  });
  if (done) close(() => true);
  const blocks: Block[] = [];
  const shown = new Set<HistoryItem>();
  let cut = slots.length;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    if ("item" in slot) {
      blocks.push({ kind: "item", item: slot.item });
      shown.add(slot.item);
      continue;
    }
    const { run } = slot;
    if (run.open) {
      cut = i;
      break;
    }
    for (const item of run.items) shown.add(item);
    blocks.push(run.items.length === 1 ? { kind: "item", item: run.items[0] } : { kind: run.silence ? "silence" : "positions", items: run.items });
  }
  if (cut === slots.length) return { blocks, pending: [] };
  const from = (slots[cut] as { run: Run }).run.head;
  return { blocks, pending: items.slice(from).filter((item) => !shown.has(item)) };
}

export function blockItem(block: Block): HistoryItem {
  return block.kind === "item" ? block.item : block.items[0];
}
