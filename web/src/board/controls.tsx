// The board's controls and their outcome: the actions every panel is given
// (commands, feedback), buttons that stay focusable while they cannot act,
// the confirmation dialog, focus that survives a re-render, by-lines.

import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef } from "preact/hooks";
import { ApiError, type SilenceRefusal } from "../lib/api";
import { utc } from "../lib/time";

export type FeedbackState = { state: "ok" | "error"; message: string; at: number } | null;

export interface Actions {
  busy: string | null;
  /** Runs a chair command: clears the feedback, then reports the outcome in words. */
  run(key: string, action: () => Promise<string>, failure: string): Promise<boolean>;
  fail(message: string): void;
}

export function errorWords(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === "silence_refused" && Array.isArray(e.body.refusals)) {
      // The server's message names each element and why; say it if it does not.
      const refusals = e.body.refusals as SilenceRefusal[];
      if (refusals.every((r) => e.message.includes(r.message))) return e.message;
      return refusals.map((r) => `${r.label}: ${r.message}`).join("; ");
    }
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** A button that stays focusable while it cannot act (aria-disabled), and
 * says why through `reason`. */
export function ActionButton(props: {
  testid: string;
  elementId?: string;
  actions: Actions;
  disabledReason?: string | null;
  onClick: () => void;
  class?: string;
  label?: string;
  children: ComponentChildren;
  describedBy?: string;
}) {
  const off = !!props.disabledReason || props.actions.busy !== null;
  return (
    <button
      type="button"
      class={props.class ?? "compact"}
      data-testid={props.testid}
      data-element-id={props.elementId}
      aria-disabled={off ? "true" : undefined}
      aria-label={props.label}
      aria-describedby={props.describedBy}
      title={props.disabledReason ?? undefined}
      onClick={() => {
        if (!off) props.onClick();
      }}
    >
      {props.children}
    </button>
  );
}

/** A modal confirmation (the native <dialog>: focus moves in and is kept
 * there, Escape cancels, the page behind is inert). Named by its title;
 * the cancel button has the focus first, so Enter does not destroy. */
export function ConfirmDialog(props: {
  testid: string;
  title: string;
  confirm: string;
  confirmTestid: string;
  cancelTestid: string;
  onClose: (confirmed: boolean) => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useMemo(() => `confirm-${Math.random().toString(36).slice(2, 9)}`, []);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    dialog?.querySelector<HTMLElement>(`[data-testid="${props.cancelTestid}"]`)?.focus();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <dialog
      ref={ref}
      class="confirm-dialog"
      data-testid={props.testid}
      aria-labelledby={`${id}-h`}
      aria-describedby={`${id}-d`}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose(false);
      }}
    >
      <h2 id={`${id}-h`}>{props.title}</h2>
      <p id={`${id}-d`}>{props.children}</p>
      <div class="form-buttons">
        <button type="button" class="compact secondary" data-testid={props.cancelTestid} onClick={() => props.onClose(false)}>
          Cancel
        </button>
        <button type="button" class="compact danger" data-testid={props.confirmTestid} onClick={() => props.onClose(true)}>
          {props.confirm}
        </button>
      </div>
    </dialog>
  );
}

/** Focuses a control of an element once the board has re-rendered (its
 * card may have moved). */
export function requestFocus(elementId: string, testid: string) {
  let tries = 0;
  const attempt = () => {
    const card = document.querySelector(`[data-testid="board-element"][data-element-id="${CSS.escape(elementId)}"]`);
    const target = card?.querySelector<HTMLElement>(`[data-testid="${testid}"]`);
    if (target && target.getAttribute("aria-disabled") !== "true") {
      target.focus();
      return;
    }
    if (++tries < 20) setTimeout(attempt, 100);
    else (card as HTMLElement | null)?.querySelector<HTMLElement>("button:not([aria-disabled='true'])")?.focus();
  };
  setTimeout(attempt, 50);
}

/** "— who, when" after a position on an element's panel. */
export function ByLine(props: { p: { user_name: string | null; at: number | null } }) {
  return (
    <span class="muted be-by">
      {" "}
      — {props.p.user_name ?? "a delegate"}
      {props.p.at ? `, ${utc(props.p.at)}` : ""}
    </span>
  );
}
