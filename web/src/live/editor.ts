// The element editor: CodeMirror 6 bound to the element document's `text`
// by @automerge/automerge-codemirror, with square-bracketed passages
// highlighted, others' cursors and selections, and a read-only switch.

import { automergeSyncPlugin } from "@automerge/automerge-codemirror";
import { reconcileAnnotationType } from "@automerge/automerge-codemirror/dist/plugin.js";
import type { DocHandle } from "@automerge/automerge-repo/slim";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { Compartment, EditorState, StateEffect, StateField, Transaction, type Extension, type Text } from "@codemirror/state";
import { Decoration, EditorView, ViewPlugin, WidgetType, keymap, type DecorationSet, type ViewUpdate } from "@codemirror/view";
import type { ElementDoc } from "./model";

export interface CursorMark {
  from: number;
  to: number;
  name: string;
  colour: number;
}

// ---------------------------------------------------------------- brackets

const bracketed = Decoration.mark({ class: "cm-bracketed" });
const unmatched = Decoration.mark({ class: "cm-bracketed cm-bracket-unmatched" });

/** Outermost `[...]` passages; a bracket without its pair is marked alone. */
function bracketDecorations(doc: Text): DecorationSet {
  const text = doc.toString();
  const ranges = [];
  const open: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 /* [ */) open.push(i);
    else if (c === 93 /* ] */) {
      const start = open.pop();
      if (start === undefined) ranges.push(unmatched.range(i, i + 1));
      else if (open.length === 0) ranges.push(bracketed.range(start, i + 1));
    }
  }
  if (open.length > 0) {
    // Unclosed: the outermost open bracket up to the end is unresolved.
    ranges.push(unmatched.range(open[0], open[0] + 1));
    for (const start of open.slice(1)) ranges.push(unmatched.range(start, start + 1));
  }
  return Decoration.set(ranges, true);
}

const bracketHighlighter = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = bracketDecorations(view.state.doc);
    }
    update(update: ViewUpdate) {
      if (update.docChanged) this.decorations = bracketDecorations(update.state.doc);
    }
  },
  { decorations: (v) => v.decorations },
);

// ---------------------------------------------------------- remote cursors

class CursorWidget extends WidgetType {
  constructor(
    readonly name: string,
    readonly colour: number,
    readonly from: number,
    readonly to: number,
  ) {
    super();
  }
  eq(other: CursorWidget) {
    // A cursor that moved is a new caret (a new node), so that its name
    // shows again; one only repeated (or redrawn) keeps its node, and the
    // name stays faded.
    return other.name === this.name && other.colour === this.colour && other.from === this.from && other.to === this.to;
  }
  toDOM() {
    // The name is drawn by CSS from the attribute, so that it never becomes
    // part of the editor's text content. It shows for a few seconds when the
    // caret appears (CSS animation on a new node) and on hover, then fades.
    const caret = document.createElement("span");
    caret.className = `cm-remote-cursor cm-remote-c${this.colour}`;
    caret.setAttribute("aria-hidden", "true");
    caret.dataset.name = this.name;
    return caret;
  }
  ignoreEvent() {
    return true;
  }
}

const setCursors = StateEffect.define<CursorMark[]>();

function cursorDecorations(marks: CursorMark[], length: number): DecorationSet {
  const ranges = [];
  for (const m of marks) {
    const from = Math.min(Math.max(0, m.from), length);
    const to = Math.min(Math.max(0, m.to), length);
    const [a, b] = from <= to ? [from, to] : [to, from];
    if (a < b) ranges.push(Decoration.mark({ class: `cm-remote-selection cm-remote-c${m.colour}` }).range(a, b));
    ranges.push(Decoration.widget({ widget: new CursorWidget(m.name, m.colour, m.from, m.to), side: 1 }).range(to));
  }
  return Decoration.set(ranges, true);
}

const remoteCursors = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    let next = value.map(tr.changes);
    for (const effect of tr.effects) {
      if (effect.is(setCursors)) next = cursorDecorations(effect.value, tr.state.doc.length);
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});

// -------------------------------------------------------------- amendments

/** A pending amendment drawn in the text: its passage struck through and
 * the proposed words after it, in the proposing entity's colour. */
export interface AmendmentMark {
  id: number;
  from: number;
  to: number;
  entity: string;
  text: string;
  sponsors: string[];
  conflict: boolean;
  /** The entity's colours (text/lines, tint). */
  fg: string;
  bg: string;
}

class InsertionWidget extends WidgetType {
  constructor(readonly mark: AmendmentMark) {
    super();
  }
  eq(other: InsertionWidget) {
    return JSON.stringify(other.mark) === JSON.stringify(this.mark);
  }
  toDOM() {
    const m = this.mark;
    const wrap = document.createElement("span");
    wrap.className = `cm-amend-ins${m.conflict ? " cm-amend-conflict" : ""}`;
    wrap.style.setProperty("--c-fg", m.fg);
    wrap.style.setProperty("--c-bg", m.bg);
    wrap.dataset.amendment = String(m.id);
    wrap.dataset.entity = m.entity;
    const sponsors = m.sponsors.join(", ");
    const words = m.text ? `proposed insertion “${m.text}”` : "proposed deletion";
    wrap.title = `Amendment by ${m.entity}${m.sponsors.length > 1 ? `, sponsored by ${sponsors}` : ""}${m.conflict ? " — conflicting: the passage changed" : ""}`;
    wrap.setAttribute("aria-label", `${words}, amendment by ${m.entity}${m.sponsors.length > 1 ? ` sponsored by ${sponsors}` : ""}${m.conflict ? ", conflicting" : ""}`);
    if (m.text) {
      const ins = document.createElement("ins");
      ins.textContent = m.text;
      wrap.append(ins);
    }
    const tag = document.createElement("span");
    tag.className = "cm-amend-tag";
    tag.setAttribute("aria-hidden", "true");
    tag.textContent = `${m.conflict ? "⚠ " : ""}${sponsors}`;
    wrap.append(tag);
    return wrap;
  }
  ignoreEvent() {
    return true;
  }
}

const setAmendments = StateEffect.define<AmendmentMark[]>();

function amendmentDecorations(marks: AmendmentMark[], length: number): DecorationSet {
  const ranges = [];
  for (const m of marks) {
    const from = Math.min(Math.max(0, m.from), length);
    const to = Math.min(Math.max(from, m.to), length);
    if (from < to) {
      ranges.push(
        Decoration.mark({
          class: `cm-amend-del${m.conflict ? " cm-amend-conflict" : ""}`,
          attributes: { style: `--c-fg: ${m.fg}; --c-bg: ${m.bg}`, "data-amendment": String(m.id), title: `Proposed for deletion or replacement by ${m.entity}` },
        }).range(from, to),
      );
    }
    ranges.push(Decoration.widget({ widget: new InsertionWidget(m), side: 1 }).range(to));
  }
  return Decoration.set(ranges, true);
}

const amendmentField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    let next = value.map(tr.changes);
    for (const effect of tr.effects) {
      if (effect.is(setAmendments)) next = amendmentDecorations(effect.value, tr.state.doc.length);
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});

// ------------------------------------------------------------------ editor

/** `selectable`: read-only, but with a caret and selection as in an
 * editable text (to choose a passage to amend). */
function readOnlyExtension(readOnly: boolean, selectable = false): Extension {
  return [
    EditorState.readOnly.of(readOnly),
    EditorView.editable.of(!readOnly || selectable),
    // Still reachable by keyboard (to read and select) when read-only.
    EditorView.contentAttributes.of(readOnly ? { tabindex: "0", "aria-readonly": "true" } : { "aria-readonly": "false" }),
  ];
}

/** Others' changes are not the user's to undo. */
const remoteNotInHistory = EditorState.transactionExtender.of((tr) =>
  tr.annotation(reconcileAnnotationType) !== undefined ? { annotations: Transaction.addToHistory.of(false) } : null,
);

export interface EditorOptions {
  handle: DocHandle<ElementDoc>;
  label: string;
  readOnly: boolean;
  /** Read-only with a caret (see `readOnlyExtension`). */
  selectable?: boolean;
  /** The user's selection while the editor has focus; null when it loses it. */
  onSelection: (range: { from: number; to: number } | null) => void;
}

export class ElementEditor {
  readonly view: EditorView;
  #readOnly = new Compartment();
  #label = new Compartment();
  #isReadOnly: boolean;
  #selectable: boolean;

  constructor(parent: HTMLElement, options: EditorOptions) {
    const { handle } = options;
    this.#isReadOnly = options.readOnly;
    this.#selectable = !!options.selectable;
    const text = handle.doc()?.text;
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: typeof text === "string" ? text : String(text ?? ""),
        extensions: [
          history(),
          keymap.of([...defaultKeymap, ...historyKeymap]),
          EditorView.lineWrapping,
          remoteNotInHistory,
          automergeSyncPlugin({ handle, path: ["text"] }),
          bracketHighlighter,
          remoteCursors,
          amendmentField,
          this.#readOnly.of(readOnlyExtension(options.readOnly, this.#selectable)),
          this.#label.of(EditorView.contentAttributes.of({ "aria-label": `Text of ${options.label}` })),
          EditorView.updateListener.of((update) => {
            // Only the user's own moves and typing (and focus) are news to
            // the others: they map cursors through remote changes themselves.
            const own = update.transactions.some((tr) => tr.annotation(reconcileAnnotationType) === undefined && (tr.selection || tr.docChanged));
            if (!own && !update.focusChanged) return;
            if (update.view.hasFocus) {
              const { anchor, head } = update.state.selection.main;
              options.onSelection({ from: anchor, to: head });
            } else if (update.focusChanged) {
              options.onSelection(null);
            }
          }),
        ],
      }),
    });
  }

  setReadOnly(readOnly: boolean, selectable = false) {
    if (readOnly === this.#isReadOnly && selectable === this.#selectable) return;
    this.#isReadOnly = readOnly;
    this.#selectable = selectable;
    this.view.dispatch({ effects: this.#readOnly.reconfigure(readOnlyExtension(readOnly, selectable)) });
  }

  setLabel(label: string) {
    this.view.dispatch({ effects: this.#label.reconfigure(EditorView.contentAttributes.of({ "aria-label": `Text of ${label}` })) });
  }

  setCursors(marks: CursorMark[]) {
    this.view.dispatch({ effects: setCursors.of(marks) });
  }

  setAmendments(marks: AmendmentMark[]) {
    this.view.dispatch({ effects: setAmendments.of(marks) });
  }

  /** Draws the eye to the text for a few seconds. */
  flash() {
    const dom = this.view.dom;
    dom.classList.remove("cm-attention");
    void dom.offsetWidth;
    dom.classList.add("cm-attention");
    setTimeout(() => dom.classList.remove("cm-attention"), 4000);
  }

  destroy() {
    this.view.destroy();
  }
}
