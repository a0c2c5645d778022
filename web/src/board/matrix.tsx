// The matrix: entities × elements, one cell per position, with filters,
// sorting, keyboard moves between cells and each cell's details in a
// tooltip; in projector mode it is sized to fit the screen.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ConsensusElement, ConsensusReport, Entity, ProjectedPosition } from "../lib/api";
import { CELL_SYMBOL, CELL_WORDS, LEGEND, STANCE_LABEL, STATUS_WORDS, cellKeyWords, cellPosition, plural, type CellPosition } from "../lib/format";
import { utc } from "../lib/time";
import type { IndexEntry } from "../live/model";
import { FILTERS, STATUS_SYMBOL, matches, statusOf, type ColSort, type Filter, type RowSort } from "./model";

export function Matrix(props: {
  entities: Entity[];
  elements: IndexEntry[];
  consensus: Record<string, ConsensusElement>;
  report: ConsensusReport | null;
  projector: boolean;
}) {
  const { entities, elements, consensus, projector } = props;
  const [filter, setFilter] = useState<Filter | null>(null);
  const [rowSort, setRowSort] = useState<RowSort>("order");
  const [colSort, setColSort] = useState<ColSort>("order");
  const [tip, setTip] = useState<{ entity: string; element: string; cell: HTMLElement } | null>(null);
  const [focus, setFocus] = useState<{ entity: string; element: string } | null>(null);
  const tableRef = useRef<HTMLTableElement>(null);
  const sectionRef = useRef<HTMLElement>(null);
  const activeFilter = projector ? null : filter;
  const activeRowSort = projector ? "order" : rowSort;
  const activeColSort = projector ? "order" : colSort;

  const grid = useMemo(() => {
    const g = new Map<string, Map<string, { pos: CellPosition; p: ProjectedPosition | undefined }>>();
    for (const en of entities) {
      const row = new Map<string, { pos: CellPosition; p: ProjectedPosition | undefined }>();
      for (const el of elements) {
        const p = consensus[el.id]?.positions?.[en.code];
        row.set(el.id, { pos: cellPosition(p), p });
      }
      g.set(en.code, row);
    }
    return g;
  }, [entities, elements, consensus]);

  const problems = (cells: CellPosition[]) => {
    const objections = cells.filter((p) => p === "object").length;
    const missing = cells.filter((p) => p === "none" || p === "stale").length;
    return { objections, missing };
  };

  const columns = useMemo(() => {
    const cols = [...elements];
    if (activeColSort === "problems") {
      const score = new Map(cols.map((el) => [el.id, problems(entities.map((en) => grid.get(en.code)!.get(el.id)!.pos))]));
      cols.sort((a, b) => {
        const x = score.get(a.id)!;
        const y = score.get(b.id)!;
        return y.objections - x.objections || y.missing - x.missing;
      });
    }
    return cols;
  }, [elements, entities, grid, activeColSort]);

  const rows = useMemo(() => {
    let list = [...entities];
    if (activeRowSort === "code") list.sort((a, b) => a.code.localeCompare(b.code, "en", { sensitivity: "base" }));
    else if (activeRowSort === "name") list.sort((a, b) => a.name.localeCompare(b.name, "en", { sensitivity: "base" }));
    else if (activeRowSort === "problems") {
      const score = new Map(list.map((en) => [en.code, problems(columns.map((el) => grid.get(en.code)!.get(el.id)!.pos))]));
      list.sort((a, b) => {
        const x = score.get(a.code)!;
        const y = score.get(b.code)!;
        return y.objections - x.objections || y.missing - x.missing || a.code.localeCompare(b.code);
      });
    }
    if (activeFilter) list = list.filter((en) => columns.some((el) => matches(activeFilter, grid.get(en.code)!.get(el.id)!.pos)));
    return list;
  }, [entities, columns, grid, activeRowSort, activeFilter]);

  // The one cell in the tab order (roving tabindex): the last focused, or the first.
  const focusCell =
    focus && rows.some((r) => r.code === focus.entity) && columns.some((c) => c.id === focus.element)
      ? focus
      : rows[0] && columns[0]
        ? { entity: rows[0].code, element: columns[0].id }
        : null;

  const moveFocus = (e: KeyboardEvent) => {
    if (!focusCell) return;
    if (e.key === "Escape") {
      setTip(null);
      return;
    }
    let r = rows.findIndex((x) => x.code === focusCell.entity);
    let c = columns.findIndex((x) => x.id === focusCell.element);
    if (e.key === "ArrowUp") r--;
    else if (e.key === "ArrowDown") r++;
    else if (e.key === "ArrowLeft") c--;
    else if (e.key === "ArrowRight") c++;
    else if (e.key === "Home") c = e.ctrlKey ? ((r = 0), 0) : 0;
    else if (e.key === "End") c = e.ctrlKey ? ((r = rows.length - 1), columns.length - 1) : columns.length - 1;
    else if (e.key === "PageUp") r = Math.max(0, r - 10);
    else if (e.key === "PageDown") r = Math.min(rows.length - 1, r + 10);
    else return;
    e.preventDefault();
    r = Math.max(0, Math.min(rows.length - 1, r));
    c = Math.max(0, Math.min(columns.length - 1, c));
    const next = { entity: rows[r].code, element: columns[c].id };
    setFocus(next);
    const td = tableRef.current?.querySelector<HTMLElement>(
      `td[data-entity="${CSS.escape(next.entity)}"][data-element-id="${CSS.escape(next.element)}"]`,
    );
    td?.focus();
  };

  // The tooltip follows its cell when the page scrolls or resizes.
  const [, relayout] = useState(0);
  useEffect(() => {
    if (!tip) return;
    const follow = () => relayout((n) => n + 1);
    window.addEventListener("scroll", follow, { passive: true, capture: true });
    window.addEventListener("resize", follow);
    return () => {
      window.removeEventListener("scroll", follow, { capture: true });
      window.removeEventListener("resize", follow);
    };
  }, [tip]);

  // Projector: size the cells so that every row fits the screen's height.
  useLayoutEffect(() => {
    const section = sectionRef.current;
    if (!projector || !section) {
      section?.style.removeProperty("--cell");
      return;
    }
    // The rows share the height below the column heads (each row is a cell
    // and the 3px spacing); the matrix takes at most 62% of the width, the
    // elements the rest. Column heads grow with the cells: a few passes.
    const fit = () => {
      const table = tableRef.current;
      if (!table) return;
      const n = Math.max(rows.length, 1);
      for (let pass = 0; pass < 4; pass++) {
        const box = table.getBoundingClientRect();
        const top = box.top + window.scrollY;
        const head = table.tHead?.getBoundingClientRect().height ?? 0;
        const available = window.innerHeight - top - head - 12;
        let cell = Math.floor((available - 3) / n) - 3;
        const now = parseFloat(section.style.getPropertyValue("--cell"));
        const wide = window.innerWidth * 0.62;
        if (now > 0 && box.width > wide) cell = Math.min(cell, Math.floor((now * wide) / box.width));
        const next = `${Math.max(14, Math.min(64, cell))}px`;
        if (section.style.getPropertyValue("--cell") !== next) section.style.setProperty("--cell", next);
      }
    };
    fit();
    // Again whenever the page's layout changes: the top bar goes (the body's
    // projector class comes after this first fit), fonts load, the title wraps.
    const observer = new ResizeObserver(() => fit());
    observer.observe(document.body);
    window.addEventListener("resize", fit);
    return () => {
      observer.disconnect();
      window.removeEventListener("resize", fit);
    };
  }, [projector, rows.length, columns.length]);

  const nameOf = (code: string) => entities.find((e) => e.code === code)?.name ?? code;
  const labelOf = (id: string) => elements.find((e) => e.id === id)?.label ?? id;
  const statusAt = (id: string) => statusOf(consensus[id], props.report, id);

  return (
    <section class="matrix-section" aria-labelledby="matrix-h" ref={sectionRef} style={{ "--rows": String(Math.max(rows.length, 1)) }}>
      <h2 id="matrix-h">{projector ? "Positions" : "Positions: entities × elements"}</h2>
      {!projector && (
        <div class="matrix-tools">
          <div class="filters" role="group" aria-label="Show only entities with">
            <span class="tools-label" aria-hidden="true">
              Show:
            </span>
            <button type="button" class="compact filter" data-testid="filter-none" aria-pressed={filter === null} onClick={() => setFilter(null)}>
              All entities
            </button>
            {FILTERS.map((f) => (
              <button
                key={f.id}
                type="button"
                class={`compact filter filter-${f.id}`}
                data-testid={`filter-${f.id}`}
                aria-pressed={filter === f.id}
                title={`Entities with ${f.hint}; their cells are outlined`}
                onClick={() => setFilter(filter === f.id ? null : f.id)}
              >
                {f.label}
              </button>
            ))}
          </div>
          <div class="sorts">
            <label class="inline">
              Entities by{" "}
              <select value={rowSort} onChange={(e) => setRowSort((e.target as HTMLSelectElement).value as RowSort)}>
                <option value="order">draft order</option>
                <option value="code">code</option>
                <option value="name">name</option>
                <option value="problems">most problems first</option>
              </select>
            </label>
            <label class="inline">
              Elements by{" "}
              <select value={colSort} onChange={(e) => setColSort((e.target as HTMLSelectElement).value as ColSort)}>
                <option value="order">draft order</option>
                <option value="problems">most problems first</option>
              </select>
            </label>
          </div>
        </div>
      )}
      {activeFilter && (
        <p class="filter-note" role="status">
          {rows.length === 0
            ? `No entity has ${FILTERS.find((f) => f.id === activeFilter)!.hint}.`
            : `${plural(rows.length, "entity has", "entities have")} ${FILTERS.find((f) => f.id === activeFilter)!.hint}; those cells are outlined.`}
        </p>
      )}
      <div class="matrix-scroll">
        <table class="matrix" data-testid="matrix" ref={tableRef} onKeyDown={moveFocus} data-filter={activeFilter ?? "none"}>
          <caption class="visually-hidden">
            Positions of {plural(entities.length, "entity", "entities")} (rows) on {plural(elements.length, "element", "elements")} (columns).
            {projector ? "" : " Use the arrow keys to move between cells; each cell's details are read with it."}
          </caption>
          <thead>
            <tr>
              <th scope="col" class="corner">
                Entity
              </th>
              {columns.map((el) => {
                const status = statusAt(el.id);
                return (
                  <th key={el.id} scope="col" class={`col-head colstatus-${status}`} data-element-id={el.id}>
                    <span class="col-label">{el.label}</span>
                    <span class={`col-status badge-${status}`}>
                      <span aria-hidden="true">{STATUS_SYMBOL[status]}</span>
                      <span class="visually-hidden">{STATUS_WORDS[status]}</span>
                    </span>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr>
                <td colSpan={columns.length + 1} class="matrix-empty">
                  No entity matches this filter.
                </td>
              </tr>
            )}
            {rows.map((en) => (
              <tr key={en.code} data-testid="matrix-row" data-entity={en.code}>
                <th scope="row" class="row-head">
                  <span class="row-code">{en.code}</span>
                  {!projector && en.name !== en.code && <span class="row-name">{en.name}</span>}
                </th>
                {columns.map((el) => {
                  const { pos, p } = grid.get(en.code)!.get(el.id)!;
                  const highlight = activeFilter !== null && matches(activeFilter, pos);
                  const isFocus = focusCell?.entity === en.code && focusCell.element === el.id;
                  const tipOn = tip?.entity === en.code && tip.element === el.id;
                  const show = (target: EventTarget | null) => {
                    if (target instanceof HTMLElement) setTip({ entity: en.code, element: el.id, cell: target });
                  };
                  return (
                    <td
                      key={el.id}
                      class={`mcell cell-${pos}${highlight ? " mcell-hit" : ""}`}
                      data-testid="matrix-cell"
                      data-entity={en.code}
                      data-element-id={el.id}
                      data-position={pos}
                      data-highlight={highlight ? "true" : undefined}
                      tabIndex={projector ? undefined : isFocus ? 0 : -1}
                      aria-describedby={tipOn ? "matrix-tip" : undefined}
                      onMouseEnter={(e) => show(e.currentTarget)}
                      onMouseLeave={() => setTip((t) => (t?.entity === en.code && t.element === el.id ? null : t))}
                      onFocus={(e) => {
                        setFocus({ entity: en.code, element: el.id });
                        show(e.currentTarget);
                      }}
                      onBlur={() => setTip((t) => (t?.entity === en.code && t.element === el.id ? null : t))}
                    >
                      <span class="cell-symbol" aria-hidden="true">
                        {CELL_SYMBOL[pos]}
                      </span>
                      <span class="visually-hidden">
                        {en.code} on {el.label}: {CELL_WORDS[pos]}
                        {p?.note ? `. ${p.position === "object" ? "Reason" : "Note"}: ${p.note}` : ""}
                      </span>
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {tip && tip.cell.isConnected && (
        <CellTip
          rect={tip.cell.getBoundingClientRect()}
          code={tip.entity}
          name={nameOf(tip.entity)}
          label={labelOf(tip.element)}
          p={consensus[tip.element]?.positions?.[tip.entity]}
        />
      )}
      <ul class="matrix-legend" aria-label="Key to the cells">
        {LEGEND.map((pos) => (
          <li key={pos}>
            <span class={`mcell-key cell-${pos}`} aria-hidden="true">
              {CELL_SYMBOL[pos]}
            </span>{" "}
            {cellKeyWords(pos)}
          </li>
        ))}
      </ul>
    </section>
  );
}

function CellTip(props: { rect: DOMRect; code: string; name: string; label: string; p: ProjectedPosition | undefined }) {
  const { rect, p } = props;
  const below = rect.bottom + 220 < window.innerHeight;
  const width = Math.min(400, window.innerWidth - 16);
  const left = Math.max(8, Math.min(rect.left + rect.width / 2 - width / 2, window.innerWidth - width - 8));
  const style = below ? { top: `${rect.bottom + 6}px`, left: `${left}px`, width: `${width}px` } : { bottom: `${window.innerHeight - rect.top + 6}px`, left: `${left}px`, width: `${width}px` };
  const pos = cellPosition(p);
  return (
    <div id="matrix-tip" class="matrix-tip" role="tooltip" style={style}>
      <p class="tip-head">
        <strong>{props.code}</strong>
        {props.name !== props.code && <span class="muted"> — {props.name}</span>}
      </p>
      <p>
        On <strong>{props.label}</strong>:{" "}
        {!p || p.standing === "no_response" ? (
          "no position yet."
        ) : (
          <>
            <strong>{STANCE_LABEL[p.position] ?? p.position}</strong>
            {p.standing === "stale" ? " — stale: given on an earlier text, it does not count." : " (on the current text)."}
          </>
        )}
      </p>
      {p?.note && (
        <p>
          {p.position === "object" ? "Reason" : "Note"}: “{p.note}”
        </p>
      )}
      {p?.wording && <p>Proposed wording: “{p.wording}”</p>}
      {p && p.standing !== "no_response" && (
        <p class="muted">
          {p.by_silence ? "Recorded by silence" : p.user_name ? `Given by ${p.user_name}` : "Given"}
          {p.at ? `, ${utc(p.at)}` : ""}
        </p>
      )}
      <span class="visually-hidden">{CELL_WORDS[pos]}</span>
    </div>
  );
}
