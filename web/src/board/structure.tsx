// The draft's structure: its title and preamble, adding elements, and the
// archived ones to restore.

import { useEffect, useRef, useState } from "preact/hooks";
import { api, type ArchivedElement } from "../lib/api";
import type { IndexEntry } from "../live/model";
import { ActionButton, type Actions } from "./controls";

/** The draft's title or preamble, shown, and edited in place on request. */
function DraftTextField(props: { draftId: string; field: "title" | "preamble"; value: string; actions: Actions }) {
  const { draftId, field, value, actions } = props;
  const name = field === "title" ? "Title" : "Preamble";
  const [editing, setEditing] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (editing !== null) inputRef.current?.focus();
  }, [editing !== null]);

  const save = async () => {
    const next = field === "title" ? (editing ?? "").trim() : (editing ?? "");
    if (field === "title" && !next) {
      actions.fail("A title cannot be empty.");
      return;
    }
    const ok = await actions.run(
      field,
      async () => {
        await api.updateDraft(draftId, { [field]: next });
        return `${name} saved: everyone sees it now.`;
      },
      `Could not save the ${field}`,
    );
    if (ok) {
      setEditing(null);
      setTimeout(() => editButton.current?.focus(), 0);
    }
  };

  if (editing === null) {
    const edit = (
      <button type="button" class="compact secondary" data-testid={`edit-${field}`} ref={editButton} onClick={() => setEditing(value)}>
        Edit {field}
      </button>
    );
    return field === "title" ? (
      <p class="current">
        <span class="muted">Title: </span>
        {value} {edit}
      </p>
    ) : (
      <div class="current">
        <p class="preamble-small">
          <span class="muted">Preamble: </span>
          {value || <span class="muted">(none)</span>}
        </p>
        {edit}
      </div>
    );
  }
  const input = {
    id: `${field}-input`,
    ref: inputRef,
    "data-testid": `${field}-input`,
    value: editing,
    onInput: (e: Event) => setEditing((e.target as HTMLInputElement).value),
    onKeyDown: (e: KeyboardEvent) => e.key === "Escape" && setEditing(null),
  };
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <label for={`${field}-input`}>{name}</label>
      {field === "title" ? <input {...input} maxLength={500} required /> : <textarea {...input} rows={4} />}
      <div class="form-buttons">
        <button type="submit" class="compact primary" data-testid={`${field}-submit`} aria-disabled={actions.busy ? "true" : undefined}>
          Save {field}
        </button>
        <button type="button" class="compact secondary" onClick={() => setEditing(null)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function StructurePanel(props: {
  draftId: string;
  title: string;
  preamble: string;
  elements: IndexEntry[];
  archived: ArchivedElement[];
  actions: Actions;
  afterChange: () => Promise<void>;
}) {
  const { draftId, actions, elements } = props;
  const [label, setLabel] = useState("");
  const [text, setText] = useState("");
  const [where, setWhere] = useState("end");
  const add = async () => {
    const l = label.trim();
    if (!l) {
      actions.fail("The new element needs a label, for example “(i)”.");
      return;
    }
    const position = where === "end" ? null : Number(where);
    const ok = await actions.run(
      "add",
      async () => {
        const created = await api.addElement(draftId, { label: l, text, position });
        return `Added ${created.label} ${position === null ? "at the end" : `at place ${created.position + 1}`}.`;
      },
      `Could not add ${l}`,
    );
    if (ok) {
      setLabel("");
      setText("");
      setWhere("end");
    }
  };

  return (
    <section class="structure" data-testid="structure" aria-labelledby="structure-h">
      <h2 id="structure-h">Structure</h2>
      <div class="structure-grid">
        <div class="structure-box">
          <h3>Title and preamble</h3>
          <DraftTextField draftId={draftId} field="title" value={props.title} actions={actions} />
          <DraftTextField draftId={draftId} field="preamble" value={props.preamble} actions={actions} />
        </div>

        <form
          class="structure-box"
          onSubmit={(e) => {
            e.preventDefault();
            void add();
          }}
        >
          <h3>Add an element</h3>
          <label for="add-element-label">Label (for example “(i)”)</label>
          <input
            id="add-element-label"
            data-testid="add-element-label"
            value={label}
            maxLength={100}
            onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
          />
          <label for="add-element-text">Text (optional)</label>
          <textarea id="add-element-text" data-testid="add-element-text" rows={3} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          <label for="add-element-where">Place</label>
          <select id="add-element-where" value={where} onChange={(e) => setWhere((e.target as HTMLSelectElement).value)}>
            <option value="end">At the end</option>
            {elements.map((e, i) => (
              <option key={e.id} value={String(i)}>
                Before {e.label}
              </option>
            ))}
          </select>
          <div class="form-buttons">
            <button type="submit" class="primary" data-testid="add-element-submit" aria-disabled={actions.busy ? "true" : undefined}>
              Add element
            </button>
          </div>
        </form>

        <div class="structure-box" data-testid="archived">
          <h3>Archived elements</h3>
          {props.archived.length === 0 ? (
            <p class="muted">None. An archived element leaves the draft, keeps its history and positions, and can be restored here.</p>
          ) : (
            <ul class="archived-list">
              {props.archived.map((a) => (
                <li key={a.id}>
                  <span>{a.label}</span>{" "}
                  <ActionButton
                    testid="restore-element"
                    elementId={a.id}
                    actions={actions}
                    class="compact secondary"
                    label={`Restore ${a.label}`}
                    onClick={() =>
                      void actions.run(
                        `restore-${a.id}`,
                        async () => {
                          const r = await api.restoreElement(draftId, a.id, null);
                          await props.afterChange();
                          return `${r.label} restored, at place ${r.position + 1}.`;
                        },
                        `Could not restore ${a.label}`,
                      )
                    }
                  >
                    Restore
                  </ActionButton>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </section>
  );
}
