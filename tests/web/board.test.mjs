// The chair's consensus board (issue 6), with the reference scenario's 28
// entities: positions recorded through the API fill the chair's matrix live
// and the filters highlight the right cells; silence started on the board
// locks a delegate's element and the delegate's objection shows on the board
// as silence broken, with the reason; adopt and reopen; an element added,
// reordered, renamed, archived and restored on the board reaches a
// delegate's browser live; delegates see no chair controls; screenshots of
// the board in normal and projector mode.
//
// tests/e2e.rs runs this file last: it records positions on the draft and
// changes its structure. It reads the state the other tests left (elements
// under silence, positions) from the API and works around it.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  api,
  apiJson,
  attr,
  base,
  chairToken,
  consensus,
  delegateToken,
  draft as getDraft,
  elementSel,
  shot,
  signIn,
  signInWithSession,
  tid,
  until,
  waitAttr,
  waitEditor,
  withBrowser,
} from "./lib.mjs";

// ---------------------------------------------------------------------------
// Selectors of the board contract

const boardEl = (id) => tid("board-element", { "data-element-id": id });

/** A per-element control `name` of element `id`, wherever the board puts
 *  it: inside the element's `board-element`, in a `structure` row that
 *  carries the element's id, or on the control itself. */
function perElement(id, name) {
  return [
    `${boardEl(id)} ${tid(name)}`,
    tid(name, { "data-element-id": id }),
    `${tid("structure")} [data-element-id="${id}"] ${tid(name)}`,
  ].join(", ");
}

/** Controls only chairs may have (the board's procedure and structure). */
const CHAIR_CONTROLS = [
  "open-board",
  "silence-select",
  "silence-deadline",
  "silence-start",
  "silence-cancel",
  "adopt-element",
  "reopen-element",
  "adopt-draft",
  "name-version-input",
  "name-version-submit",
  "structure",
  "add-element-label",
  "add-element-submit",
  "rename-element",
  "move-up",
  "move-down",
  "archive-element",
  "restore-element",
  "edit-title",
  "edit-preamble",
];

const FILTERS = ["filter-not-responded", "filter-objections", "filter-stale", "filter-ad-ref", "filter-none"];

/** Testids of `names` present on the page (visible or not), with counts. */
async function present(page, names) {
  const found = [];
  for (const name of names) {
    const n = await page.locator(tid(name)).count();
    if (n > 0) found.push(`${name} ×${n}`);
  }
  return found;
}

/** Testids of `names` with at least one visible match. */
async function visible(page, names) {
  const found = [];
  for (const name of names) {
    const all = page.locator(tid(name));
    const n = await all.count();
    for (let i = 0; i < n; i++) {
      if (await all.nth(i).isVisible()) {
        found.push(name);
        break;
      }
    }
  }
  return found;
}

// ---------------------------------------------------------------------------
// The API

/** The matrix the API shows: "entity|element" → data-position. */
function expectedCells(c) {
  const cells = new Map();
  for (const e of c.elements) {
    for (const m of e.matrix) {
      const pos = m.standing === "current" ? m.position : m.standing === "stale" ? "stale" : "none";
      cells.set(`${m.entity}|${e.id}`, pos);
    }
  }
  return cells;
}

/** The cells each filter should highlight, from the API's own lists. */
function expectedHighlights(c) {
  const sets = { "filter-not-responded": [], "filter-objections": [], "filter-stale": [], "filter-ad-ref": [], "filter-none": [] };
  for (const e of c.elements) {
    for (const x of e.not_responded) sets["filter-not-responded"].push(`${x}|${e.id}`);
    for (const o of e.objections) sets["filter-objections"].push(`${o.entity}|${e.id}`);
    for (const x of e.stale) sets["filter-stale"].push(`${x}|${e.id}`);
    for (const x of e.ad_ref) sets["filter-ad-ref"].push(`${x}|${e.id}`);
  }
  for (const k of Object.keys(sets)) sets[k].sort();
  return sets;
}

/** Records `entity`'s position on element `id` as that entity's delegate,
 *  on the text the API shows now. */
async function putPosition(draftId, id, entity, position, { note, wording, on } = {}) {
  const text = on ?? (await elementText(draftId, id));
  const r = await api(
    "PUT",
    `/api/v1/drafts/${draftId}/elements/${id}/positions/${encodeURIComponent(entity)}`,
    { position, note: note ?? null, wording: wording ?? null, text_hash: text.text_hash, heads: text.heads },
    delegateToken(entity),
  );
  assert.equal(r.status, 201, `PUT position ${position} of ${entity} on ${id}: ${r.status} ${r.text}`);
  return r.json;
}

/** Element `id`'s text, hash and heads from GET /api/v1/drafts/{id}. */
async function elementText(draftId, id) {
  const d = await apiJson(`/api/v1/drafts/${draftId}`);
  const e = d.elements.find((x) => x.id === id);
  if (!e) throw new Error(`no element ${id} in draft ${draftId}`);
  return { text: e.text, text_hash: e.text_hash, heads: e.heads };
}

async function apiStatus(draftId, id) {
  const c = await consensus(draftId);
  return c.elements.find((e) => e.id === id)?.status;
}

/** `YYYY-MM-DDTHH:MM` (UTC) `minutes` after the server's consensus clock,
 *  rounded down to the minute. */
async function deadlineInput(draftId, minutes) {
  const now = Date.parse((await consensus(draftId)).server_time);
  return new Date(now + minutes * 60_000).toISOString().slice(0, 16);
}

// ---------------------------------------------------------------------------
// The pages

/** The matrix cells the page shows. */
async function readGrid(page) {
  return page.$$eval('[data-testid="matrix-cell"]', (cells) =>
    cells.map((c) => ({
      key: `${c.getAttribute("data-entity")}|${c.getAttribute("data-element-id")}`,
      position: c.getAttribute("data-position"),
      highlight: c.getAttribute("data-highlight") === "true",
    })),
  );
}

/** Differences between the page's matrix and the API's ("" when none). */
function gridDiff(grid, expected) {
  const diffs = [];
  const seen = new Set();
  for (const cell of grid) {
    if (seen.has(cell.key)) diffs.push(`${cell.key}: shown twice`);
    seen.add(cell.key);
    const want = expected.get(cell.key);
    if (want === undefined) diffs.push(`${cell.key}: shown, not in the API's matrix`);
    else if (cell.position !== want) diffs.push(`${cell.key}: data-position expected ${want}, got ${cell.position}`);
  }
  for (const key of expected.keys()) if (!seen.has(key)) diffs.push(`${key}: missing`);
  return diffs;
}

/** Waits until the page's matrix shows exactly what the API shows. */
async function waitGrid(page, draftId, ms = 20000) {
  let diffs = [];
  try {
    await until("the matrix to match the API", async () => {
      diffs = gridDiff(await readGrid(page), expectedCells(await consensus(draftId)));
      return diffs.length === 0;
    }, ms);
  } catch (e) {
    throw new Error(`${e.message}: ${diffs.length} differences, first: ${diffs.slice(0, 10).join("; ")}`);
  }
}

/** `element[data-label]` in page order. */
async function labelsOn(page) {
  return page.$$eval('[data-testid="element"]', (els) => els.map((e) => e.getAttribute("data-label")));
}

async function apiLabels(draftId) {
  return (await apiJson(`/api/v1/drafts/${draftId}`)).elements.map((e) => e.label);
}

/** Waits until the delegate's page lists the elements in the API's order. */
async function waitOrder(page, draftId, what) {
  let want;
  let got;
  try {
    await until(what, async () => {
      want = await apiLabels(draftId);
      got = await labelsOn(page);
      return JSON.stringify(want) === JSON.stringify(got);
    });
  } catch (e) {
    throw new Error(`${e.message}: element[data-label] order expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
  return want;
}

/** Waits for the first match of `sel` and clicks it (the tests accept any
 *  confirm() the app raises). */
async function click(page, sel) {
  const loc = page.locator(sel).first();
  await loc.waitFor({ timeout: 20000 });
  await loc.click();
}

/** The text of the first match of `sel` ("" when absent). */
async function textOf(page, sel) {
  const loc = page.locator(sel).first();
  return (await loc.count()) === 0 ? "" : (await loc.innerText()).trim();
}

/** What a cell tells on hover or focus: its title, aria-label and
 *  aria-description, the text of its aria-describedby targets and of any
 *  tooltip shown. */
async function cellDetails(page, sel) {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    if (!el) return "";
    const parts = ["title", "aria-label", "aria-description"].map((a) => el.getAttribute(a) ?? "");
    for (const id of (el.getAttribute("aria-describedby") ?? "").split(/\s+/).filter(Boolean)) {
      parts.push(document.getElementById(id)?.innerText ?? "");
    }
    for (const tip of document.querySelectorAll('[role="tooltip"]')) parts.push(tip.innerText);
    return parts.join("\n");
  }, sel);
}

/** Waits until `check(details)` holds for the cell's details. */
async function waitDetails(page, sel, what, check) {
  let details = "";
  try {
    await until(what, async () => check((details = await cellDetails(page, sel))), 5000);
  } catch (e) {
    throw new Error(`${sel}: ${e.message}; it shows ${JSON.stringify(details)}`);
  }
}

/** Opens the board from the draft header. */
async function openBoard(page) {
  await click(page, tid("open-board"));
  await page.locator(tid("board")).waitFor({ timeout: 20000 });
  await page.locator(tid("matrix")).waitFor({ timeout: 20000 });
}

// ---------------------------------------------------------------------------

test("the chair's consensus board, live, with 28 entities", async (t) => {
  const d = await getDraft();
  const c0 = await consensus(d.id);
  const codes = d.entities.map((e) => e.code);
  const names = Object.fromEntries(d.entities.map((e) => [e.code, e.name]));
  assert.equal(codes.length, 28, "the reference draft has 28 entities");
  // Elements that may take positions and silence: not locked, objected or
  // bracketed (other tests leave some under silence).
  const free = c0.elements.filter((e) => ["open", "agreed", "agreed_ad_ref"].includes(e.status) && !e.bracketed);
  assert.ok(free.length >= 3, `three free elements: ${JSON.stringify(c0.elements.map((e) => [e.label, e.status]))}`);
  const [sil, adopt, mix] = free;
  // Roles in the element `mix`: one objection, one stale, one ad ref, three
  // not responded; everyone else supports. IOM is the browser delegate.
  const others = codes.filter((x) => x !== "IOM");
  const OBJ = others[2];
  const STALE = others[3];
  const ADREF = others[4];
  const SILENT = others.slice(-3);
  console.log(
    `board: silence on ${sil.label}, adopt/reopen on ${adopt.label}, mixed ${mix.label}: ` +
      `objection ${OBJ}, stale ${STALE}, ad ref ${ADREF}, not responded ${SILENT.join(", ")}`,
  );

  await withBrowser("board", async (browser) => {
    const chair = await signIn(browser, "board_chair", "chair");
    chair.page.on("dialog", (dialog) => void dialog.accept());
    const iom = await signIn(browser, "board_iom", "IOM");
    iom.page.on("dialog", (dialog) => void dialog.accept());
    for (const { page } of [chair, iom]) {
      await page.evaluate(() => {
        window.__notReloaded = true;
      });
    }
    const notReloaded = async (page, who) =>
      assert.equal(await page.evaluate(() => window.__notReloaded), true, `${who}'s page was reloaded`);

    /** Runs a step as a subtest; on failure saves screenshots of both pages. */
    const step = (name, body) =>
      t.test(name, async () => {
        try {
          await body();
        } catch (e) {
          const slug = name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40);
          await shot(chair.page, `FAIL-board-${slug}-chair`).catch(() => {});
          await shot(iom.page, `FAIL-board-${slug}-iom`).catch(() => {});
          throw e;
        }
      });

    await step("the chair opens the board from the draft header; a delegate has no way there", async () => {
      assert.equal(await iom.page.locator(tid("open-board")).count(), 0, "open-board shown to a delegate");
      await openBoard(chair.page);
      assert.equal(await attr(chair.page, tid("board"), "data-projector"), "false", "board[data-projector] on opening");
      await chair.page.locator(tid("board-progress")).waitFor();
      assert.notEqual(await textOf(chair.page, tid("board-progress")), "", "board-progress is empty");
      assert.equal(await chair.page.locator(tid("matrix-row")).count(), 28, "matrix-row count");
      const rows = await chair.page.$$eval('[data-testid="matrix-row"]', (rs) => rs.map((r) => r.getAttribute("data-entity")));
      assert.deepEqual([...rows].sort(), [...codes].sort(), "matrix-row[data-entity]");
      assert.equal(await chair.page.locator(tid("board-element")).count(), c0.elements.length, "board-element count");
      await waitGrid(chair.page, d.id);
      await shot(chair.page, "board-before-positions");
    });

    await step("28 delegates' positions recorded through the API fill the grid live; the filters show the right cells", async () => {
      // Everyone supports `sil` and `adopt` (agreed); in `mix` STALE speaks
      // first, then a delegate's browser changes the text, then the rest.
      await Promise.all(codes.map((x) => putPosition(d.id, sil.id, x, "support")));
      await Promise.all(codes.map((x) => putPosition(d.id, adopt.id, x, "support")));
      await putPosition(d.id, mix.id, STALE, "support");
      const before = (await elementText(d.id, mix.id)).text;
      const typed = " (as amended)";
      await waitEditor(iom.page, mix.id);
      await iom.page.locator(`${elementSel(mix.id)} ${tid("element-editor")} .cm-content`).click();
      await iom.page.keyboard.press("Control+End");
      await iom.page.keyboard.type(typed, { delay: 10 });
      const amended = await until("the API to show the delegate's edit", async () => {
        const e = await elementText(d.id, mix.id);
        return e.text === before + typed ? e : null;
      });
      await waitAttr(iom.page, tid("save-state"), "data-state", "saved");
      const reason = "The text omits the principle of non-refoulement.";
      const wording = "…, ensuring respect for the principle of non-refoulement;";
      await Promise.all(
        codes
          .filter((x) => x !== STALE && !SILENT.includes(x))
          .map((x) =>
            x === OBJ
              ? putPosition(d.id, mix.id, x, "object", { note: reason, wording, on: amended })
              : putPosition(d.id, mix.id, x, x === ADREF ? "support_ad_ref" : "support", { on: amended }),
          ),
      );

      // The API agrees with the plan.
      const c = await consensus(d.id);
      const byId = Object.fromEntries(c.elements.map((e) => [e.id, e]));
      assert.equal(byId[sil.id].status, "agreed", `${sil.label} in the API`);
      assert.equal(byId[adopt.id].status, "agreed", `${adopt.label} in the API`);
      assert.equal(byId[mix.id].status, "objected", `${mix.label} in the API`);
      assert.deepEqual(byId[mix.id].stale, [STALE]);
      assert.deepEqual(byId[mix.id].ad_ref, [ADREF]);
      assert.deepEqual(byId[mix.id].objections.map((o) => o.entity), [OBJ]);
      assert.deepEqual([...byId[mix.id].not_responded].sort(), [STALE, ...SILENT].sort());

      // The chair's grid, never reloaded, shows every cell as the API does.
      await waitGrid(chair.page, d.id);
      await notReloaded(chair.page, "the chair");
      await waitAttr(chair.page, `${boardEl(sil.id)} ${tid("board-status")}`, "data-status", "agreed");
      await waitAttr(chair.page, `${boardEl(mix.id)} ${tid("board-status")}`, "data-status", "objected");
      const objection = `${boardEl(mix.id)} ${tid("board-objections")} ${tid("board-objection", { "data-entity": OBJ })}`;
      await chair.page.locator(objection).waitFor({ timeout: 20000 });
      const objectionText = await textOf(chair.page, objection);
      assert.ok(objectionText.includes(reason), `board-objection of ${OBJ} omits the reason: ${JSON.stringify(objectionText)}`);
      assert.ok(objectionText.includes(wording), `board-objection of ${OBJ} omits the proposed wording: ${JSON.stringify(objectionText)}`);

      // Each filter highlights exactly the API's cells, and says it is on.
      const want = expectedHighlights(c);
      assert.ok(want["filter-not-responded"].length > 0 && want["filter-stale"].length > 0);
      for (const filter of FILTERS) {
        await click(chair.page, tid(filter));
        await waitAttr(chair.page, tid(filter), "aria-pressed", "true");
        for (const other of FILTERS.filter((f) => f !== filter)) {
          const pressed = await attr(chair.page, tid(other), "aria-pressed");
          assert.notEqual(pressed, "true", `${other} still aria-pressed with ${filter} on`);
        }
        let got = [];
        try {
          await until(`${filter} to highlight the API's cells`, async () => {
            got = (await readGrid(chair.page)).filter((x) => x.highlight).map((x) => x.key).sort();
            return JSON.stringify(got) === JSON.stringify(want[filter]);
          }, 5000);
        } catch {
          const extra = got.filter((k) => !want[filter].includes(k));
          const missing = want[filter].filter((k) => !got.includes(k));
          assert.fail(
            `${filter}: matrix-cell[data-highlight=true] expected ${want[filter].length} cells, got ${got.length}; ` +
              `extra: ${extra.slice(0, 8).join(", ") || "none"}; missing: ${missing.slice(0, 8).join(", ") || "none"}`,
          );
        }
        if (filter === "filter-stale") await shot(chair.page, "board-filter-stale");
      }
      await shot(chair.page, "board");
    });

    await step("hovering or focusing a cell shows the note, who gave it, when, and whether it is stale", async () => {
      const c = await consensus(d.id);
      const row = (entity) => c.elements.find((e) => e.id === mix.id).matrix.find((m) => m.entity === entity);
      const objected = tid("matrix-cell", { "data-entity": OBJ, "data-element-id": mix.id });
      await chair.page.locator(objected).hover();
      const who = row(OBJ).user_name;
      await waitDetails(chair.page, objected, "the objection's reason, author and time on hover", (t) =>
        t.includes(row(OBJ).note) && t.includes(who) && /\d{1,2}:\d{2}/.test(t));
      const stale = tid("matrix-cell", { "data-entity": STALE, "data-element-id": mix.id });
      await chair.page.locator(stale).focus();
      await waitDetails(chair.page, stale, "the word stale on focus", (t) => /stale/i.test(t));
      await shot(chair.page, "board-cell-details");
      await chair.page.locator(stale).blur();
    });

    await step("silence started on the board locks the delegate's element; the delegate's objection breaks it on the board", async () => {
      const selectBox = perElement(sil.id, "silence-select");
      await chair.page.locator(selectBox).first().check();

      // A deadline the server refuses (not a minute ahead): the UI says so.
      await chair.page.locator(tid("silence-deadline")).first().fill(await deadlineInput(d.id, 0));
      const start = chair.page.locator(tid("silence-start")).first();
      if (await start.isDisabled()) {
        console.log("board: silence-start is disabled for a deadline under a minute ahead");
      } else {
        await start.click();
        await waitAttr(chair.page, tid("board-feedback"), "data-state", "error");
        assert.notEqual(await textOf(chair.page, tid("board-feedback")), "", "board-feedback[data-state=error] says nothing");
      }
      assert.equal(await apiStatus(d.id, sil.id), "agreed", "a refused silence changed the element");

      // A good deadline, ten minutes ahead of the server's clock.
      await chair.page.locator(selectBox).first().check();
      await chair.page.locator(tid("silence-deadline")).first().fill(await deadlineInput(d.id, 10));
      await click(chair.page, tid("silence-start"));
      await waitAttr(chair.page, tid("board-feedback"), "data-state", "ok");
      await waitAttr(chair.page, `${boardEl(sil.id)} ${tid("board-status")}`, "data-status", "under_silence");
      assert.equal(await apiStatus(d.id, sil.id), "under_silence");
      await chair.page.locator(`${boardEl(sil.id)} ${tid("board-deadline")}`).waitFor({ timeout: 20000 });
      assert.notEqual(await textOf(chair.page, `${boardEl(sil.id)} ${tid("board-deadline")}`), "", "board-deadline is empty");

      // The delegate's browser, never reloaded, shows it locked.
      await waitAttr(iom.page, `${elementSel(sil.id)} ${tid("element-status")}`, "data-status", "under_silence");
      await waitAttr(iom.page, `${elementSel(sil.id)} ${tid("element-editor")}`, "data-readonly", "true");
      await notReloaded(iom.page, "the delegate");
      await shot(iom.page, "board-delegate-under-silence");
      await shot(chair.page, "board-under-silence");

      // The delegate objects through its position controls.
      const reason = "IOM cannot accept this paragraph without a reference to regular pathways.";
      const wording = "…, including through regular migration pathways;";
      const controls = iom.page.locator(`${elementSel(sil.id)} ${tid("position-controls")}`);
      await controls.locator(tid("position-object")).click();
      await controls.locator(tid("position-note")).fill(reason);
      await controls.locator(tid("position-wording")).fill(wording);
      await controls.locator(tid("position-submit")).click();
      await waitAttr(iom.page, `${elementSel(sil.id)} ${tid("position-feedback")}`, "data-state", "ok");

      // The chair's board, live: silence broken, by whom and why.
      const last = `${boardEl(sil.id)} ${tid("board-last-silence")}`;
      await waitAttr(chair.page, last, "data-state", "broken");
      const lastText = await textOf(chair.page, last);
      assert.ok(lastText.includes(reason), `board-last-silence omits the reason: ${JSON.stringify(lastText)}`);
      assert.ok(
        lastText.includes("IOM") || lastText.includes(names.IOM),
        `board-last-silence names neither IOM nor ${names.IOM}: ${JSON.stringify(lastText)}`,
      );
      await waitAttr(chair.page, `${boardEl(sil.id)} ${tid("board-status")}`, "data-status", "objected");
      const objection = `${boardEl(sil.id)} ${tid("board-objection", { "data-entity": "IOM" })}`;
      await chair.page.locator(objection).waitFor({ timeout: 20000 });
      assert.ok((await textOf(chair.page, objection)).includes(reason), "board-objection of IOM omits the reason");
      await waitAttr(chair.page, tid("matrix-cell", { "data-entity": "IOM", "data-element-id": sil.id }), "data-position", "object");
      await notReloaded(chair.page, "the chair");
      // The delegate's element is unlocked again.
      await waitAttr(iom.page, `${elementSel(sil.id)} ${tid("element-editor")}`, "data-readonly", "false");
      const after = (await consensus(d.id)).elements.find((e) => e.id === sil.id);
      assert.equal(after.last_silence?.state, "broken", "last_silence in the API");
      assert.equal(after.last_silence?.reason, reason, "last_silence.reason in the API");
      await shot(chair.page, "board-silence-broken");
    });

    await step("adopt and reopen round-trip", async () => {
      const status = `${boardEl(adopt.id)} ${tid("board-status")}`;
      await waitAttr(chair.page, status, "data-status", "agreed");
      await click(chair.page, perElement(adopt.id, "adopt-element"));
      await waitAttr(chair.page, status, "data-status", "adopted");
      assert.equal(await apiStatus(d.id, adopt.id), "adopted");
      await waitAttr(iom.page, `${elementSel(adopt.id)} ${tid("element-status")}`, "data-status", "adopted");
      await waitAttr(iom.page, `${elementSel(adopt.id)} ${tid("element-editor")}`, "data-readonly", "true");
      await shot(chair.page, "board-adopted");

      await click(chair.page, perElement(adopt.id, "reopen-element"));
      await waitAttr(chair.page, status, "data-status", "agreed");
      assert.equal(await apiStatus(d.id, adopt.id), "agreed");
      await waitAttr(iom.page, `${elementSel(adopt.id)} ${tid("element-status")}`, "data-status", "agreed");
      await waitAttr(iom.page, `${elementSel(adopt.id)} ${tid("element-editor")}`, "data-readonly", "false");
    });

    await step("an element added, moved, renamed, archived and restored on the board reaches a delegate's browser live", async () => {
      await waitOrder(iom.page, d.id, "the delegate's elements in the API's order");
      const label = "(i)";
      const text = "Strengthening the evidence base on migration and development through better data.";
      await chair.page.locator(tid("add-element-label")).fill(label);
      await chair.page.locator(tid("add-element-text")).fill(text);
      await click(chair.page, tid("add-element-submit"));
      const added = await until("the API to list the added element", async () =>
        (await apiJson(`/api/v1/drafts/${d.id}`)).elements.find((e) => e.label === label));
      assert.equal(added.text, text, "the added element's text");
      let order = await waitOrder(iom.page, d.id, "the added element in the delegate's browser");
      await iom.page.locator(`${elementSel(added.id)} ${tid("element-status")}`).waitFor();

      // Two steps up (down if it was added near the top).
      const from = order.indexOf(label);
      const [control, delta] = from >= 2 ? ["move-up", -1] : ["move-down", 1];
      for (let i = 1; i <= 2; i++) {
        await click(chair.page, perElement(added.id, control));
        await until(`the API to show ${label} moved by ${i * delta}`, async () =>
          (await apiLabels(d.id)).indexOf(label) === from + i * delta);
      }
      order = await waitOrder(iom.page, d.id, `the delegate's browser to show ${label} moved by ${2 * delta}`);
      assert.equal(order.indexOf(label), from + 2 * delta);
      const apiOrder = (await apiJson(`/api/v1/drafts/${d.id}`)).elements.map((e) => e.id);
      const boardOrder = () =>
        chair.page.$$eval('[data-testid="board-element"]', (els) => els.map((e) => e.getAttribute("data-element-id")));
      await until("the board's elements in the API's order", async () =>
        JSON.stringify(await boardOrder()) === JSON.stringify(apiOrder)).catch(async () => {
        throw new Error(`board-element order expected ${JSON.stringify(apiOrder)}, got ${JSON.stringify(await boardOrder())}`);
      });
      await shot(iom.page, "board-delegate-new-element");

      // Renamed.
      const renamed = "(i bis)";
      await click(chair.page, perElement(added.id, "rename-element"));
      const input = chair.page.locator(tid("rename-input")).first();
      await input.waitFor({ timeout: 20000 });
      await input.fill(renamed);
      await click(chair.page, tid("rename-submit"));
      await waitAttr(iom.page, elementSel(added.id), "data-label", renamed);

      // Archived (the chair confirms), then restored.
      await click(chair.page, perElement(added.id, "archive-element"));
      await click(chair.page, tid("archive-confirm"));
      await until("the element to leave the delegate's browser", async () =>
        (await iom.page.locator(elementSel(added.id)).count()) === 0);
      const archived = (await apiJson(`/api/v1/drafts/${d.id}`)).archived_elements.map((e) => e.id);
      assert.ok(archived.includes(added.id), "the API does not list the element as archived");
      await click(chair.page, `${tid("archived")} ${tid("restore-element", { "data-element-id": added.id })}`);
      await iom.page.locator(elementSel(added.id)).waitFor({ timeout: 20000 });
      await waitOrder(iom.page, d.id, "the restored element in the delegate's browser, in the API's order");

      // The title, edited on the board, changes in the delegate's header.
      const title = `${d.title} (rev. 1)`;
      await click(chair.page, tid("edit-title"));
      await chair.page.locator(tid("title-input")).first().fill(title);
      await click(chair.page, tid("title-submit"));
      await until("the delegate's header to show the new title", async () =>
        (await textOf(iom.page, tid("draft-title"))) === title);
      await notReloaded(iom.page, "the delegate");
      await notReloaded(chair.page, "the chair");
      await shot(iom.page, "board-delegate-structure");
    });

    await step("projector mode: large, read-only, live", async () => {
      await click(chair.page, tid("projector-toggle"));
      await waitAttr(chair.page, tid("board"), "data-projector", "true");
      const shown = await visible(chair.page, CHAIR_CONTROLS.filter((x) => x !== "open-board"));
      assert.deepEqual(shown, [], "chair controls visible in projector mode");
      // Live in projector mode too: a late response arrives.
      const late = SILENT[0];
      await putPosition(d.id, mix.id, late, "support");
      await waitAttr(chair.page, tid("matrix-cell", { "data-entity": late, "data-element-id": mix.id }), "data-position", "support");
      await shot(chair.page, "board-projector");
      await click(chair.page, tid("projector-toggle"));
      await waitAttr(chair.page, tid("board"), "data-projector", "false");

      // The same through the board's address with ?projector=1 (when the
      // board has an address of its own).
      const url = new URL(chair.page.url());
      if (url.pathname.includes("board")) {
        url.searchParams.set("projector", "1");
        const page = await chair.context.newPage();
        await page.goto(url.toString());
        await waitAttr(page, tid("board"), "data-projector", "true");
        await waitGrid(page, d.id);
        await page.close();
      } else {
        console.log(`board: the board has no address of its own (${url.pathname}); ?projector=1 not tried`);
      }
    });

    await step("a delegate's browser shows no chair controls, and the server refuses them", async () => {
      const found = await present(iom.page, CHAIR_CONTROLS);
      assert.deepEqual(found, [], "chair controls in a delegate's draft view");
      await shot(iom.page, "board-delegate-no-controls");

      // The board's address, typed in by a delegate.
      await iom.page.goto(`${base}/drafts/${encodeURIComponent(d.id)}/board`);
      await iom.page.waitForLoadState("networkidle").catch(() => {});
      await until("the app to render", async () =>
        (await iom.page.evaluate(() => document.body.innerText.trim().length)) > 0);
      await iom.page.waitForTimeout(1000);
      const onBoard = await present(iom.page, CHAIR_CONTROLS);
      assert.deepEqual(onBoard, [], `chair controls at /drafts/{id}/board for a delegate (${iom.page.url()})`);
      await shot(iom.page, "board-delegate-visits-board");

      // The server refuses a delegate's chair actions.
      const token = delegateToken("IOM");
      const deadline = new Date(Date.parse((await consensus(d.id)).server_time) + 3600_000).toISOString();
      const silence = await api("POST", `/api/v1/drafts/${d.id}/silence`, { elements: [adopt.id], deadline }, token);
      assert.equal(silence.status, 403, `a delegate starting silence: ${silence.status} ${silence.text}`);
      const adopted = await api("POST", `/api/v1/drafts/${d.id}/elements/${adopt.id}/adopt`, undefined, token);
      assert.equal(adopted.status, 403, `a delegate adopting: ${adopted.status} ${adopted.text}`);
      assert.equal(await apiStatus(d.id, adopt.id), "agreed");
    });
  });
});

// ---------------------------------------------------------------------------
// Issue 14: the board as a chair uses it at 1440×900, on a draft of its own
// (the reference draft's 28 entities, five elements) so that moving the
// consensus clock and archiving touch nobody else's elements. The counts
// tell stale positions apart from missing ones; the silence form holds its
// element choice and shows the stale objections a silence would turn into
// support, which the chair must confirm; after the silence fires the Adopt
// hints follow the live status; archiving asks first. The geometry is also
// measured on the reference draft (eight elements).

/** Moves the consensus clock on by `secs` (the server runs --test-clock). */
async function advanceClock(secs) {
  const r = await api("POST", "/api/v1/test/clock", { advance_secs: secs });
  assert.equal(r.status, 200, `moving the clock: ${r.status} ${r.text}`);
}

/** What a control says about itself: its title and the text of its
 *  aria-describedby targets. */
async function hintOf(page, sel) {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    if (!el) return null;
    const parts = [el.getAttribute("title") ?? ""];
    for (const id of (el.getAttribute("aria-describedby") ?? "").split(/\s+/).filter(Boolean)) {
      parts.push(document.getElementById(id)?.innerText ?? "");
    }
    return parts.join("\n");
  }, sel);
}

/** The board's layout at the viewport: where the matrix, the silence form,
 *  its Start button and each element's choice box sit (page coordinates). */
async function layout(page) {
  return page.evaluate(() => {
    const box = (el) => {
      if (!el) return null;
      const r = el.getBoundingClientRect();
      return { top: r.top + window.scrollY, bottom: r.bottom + window.scrollY, height: r.height };
    };
    const q = (s) => document.querySelector(s);
    return {
      viewport: window.innerHeight,
      scrollY: window.scrollY,
      matrix: box(q('[data-testid="matrix"]')),
      start: box(q('[data-testid="silence-start"]')),
      deadline: box(q('[data-testid="silence-deadline"]')),
      choices: [...document.querySelectorAll('[data-testid="silence-select"]')].map((c) => ({
        id: c.getAttribute("data-element-id"),
        ...box(c),
      })),
    };
  });
}

/** Asserts the matrix starts within the first screen and every element's
 *  choice box is within one screen of the silence form's Start button and
 *  deadline. */
function assertLayout(l, what) {
  assert.ok(l.matrix, `${what}: no matrix`);
  assert.ok(l.matrix.top >= 0 && l.matrix.top < l.viewport - 100, `${what}: the matrix starts at ${Math.round(l.matrix.top)} px, below the first ${l.viewport} px screen`);
  assert.ok(l.start && l.deadline, `${what}: no silence form`);
  assert.ok(l.choices.length > 0, `${what}: no element choice`);
  for (const c of l.choices) {
    const far = Math.max(Math.abs(c.top - l.start.top), Math.abs(c.top - l.deadline.top));
    assert.ok(far < l.viewport, `${what}: the choice of ${c.id} is ${Math.round(far)} px from the silence form (more than one ${l.viewport} px screen)`);
  }
}

test("issue 14: the board at 1440×900 — counts, silence with stale objections, live hints, archiving asks", async (t) => {
  const reference = await getDraft();
  const codes = reference.entities.map((e) => e.code);
  assert.equal(codes.length, 28);
  const created = await api("POST", "/api/v1/drafts", {
    title: "Chair's rehearsal of the silence procedure",
    preamble: "A draft of the board's own test.",
    entities: codes,
    elements: [
      { label: "(r1)", text: "Support ad referendum awaits confirmation here." },
      { label: "(r2)", text: "Five entities responded on this text before it changed." },
      { label: "(r3)", text: "One entity responded on this text before it changed." },
      { label: "(r4)", text: "Nobody has spoken on this one." },
      { label: "(r5)", text: "This one is archived, after the chair confirms." },
    ],
  });
  assert.equal(created.status, 201, `creating the draft: ${created.status} ${created.text}`);
  const d = created.json;
  const [adref, stale, single, , archive] = d.elements.map((e) => e.id);
  const OBJECTORS = ["OHCHR", "UNHCR"];
  const boardUrl = `${base}/drafts/${encodeURIComponent(d.id)}/board`;

  // (r1): WFP supports ad referendum, nobody else speaks (open).
  await putPosition(d.id, adref, "WFP", "support_ad_ref");
  // (r2): three support, OHCHR and UNHCR object; (r3): ILO supports. Then
  // a delegate edits both texts: those positions are stale.
  await Promise.all(["DESA", "ILO", "UNDP"].map((x) => putPosition(d.id, stale, x, "support")));
  for (const x of OBJECTORS) {
    await putPosition(d.id, stale, x, "object", { note: `${x}: the text must name the protection of refugees.` });
  }
  await putPosition(d.id, single, "ILO", "support");

  await withBrowser("board-chair", async (browser) => {
    const iom = await signInWithSession(browser, delegateToken("IOM"), "IOM");
    await iom.page.goto(`${base}/drafts/${encodeURIComponent(d.id)}`);
    for (const id of [stale, single]) {
      const before = (await elementText(d.id, id)).text;
      await waitEditor(iom.page, id);
      await iom.page.locator(`${elementSel(id)} ${tid("element-editor")} .cm-content`).click();
      await iom.page.keyboard.press("Control+End");
      await iom.page.keyboard.type(" Amended.", { delay: 10 });
      await until("the API to show the delegate's edit", async () => (await elementText(d.id, id)).text === `${before} Amended.`);
    }
    const c0 = await consensus(d.id);
    const byId = (c, id) => c.elements.find((e) => e.id === id);
    assert.equal(byId(c0, stale).stale.length, 5, "five stale positions on (r2)");
    assert.equal(byId(c0, single).stale.length, 1, "one stale position on (r3)");

    const chair = await signInWithSession(browser, chairToken, "chair");
    await chair.page.setViewportSize({ width: 1440, height: 900 });
    const page = chair.page;
    await page.goto(boardUrl);
    await page.locator(tid("matrix")).waitFor({ timeout: 20000 });
    await waitGrid(page, d.id);

    const step = (name, body) =>
      t.test(name, async () => {
        try {
          await body();
        } catch (e) {
          await shot(page, `FAIL-board14-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40)}`).catch(() => {});
          throw e;
        }
      });

    await step("stale positions are counted apart from missing ones, singular and plural right", async () => {
      let progress = "";
      try {
        await until("the progress sentence to tell stale positions apart", async () => {
          progress = await textOf(page, tid("board-progress"));
          return progress.includes("23 entities have not responded on (r2) and 5 responded on an earlier text (stale)");
        }, 10000);
      } catch {
        assert.fail(`board-progress: ${JSON.stringify(progress)}`);
      }
      assert.ok(progress.includes("27 entities have not responded on (r3) and 1 responded on an earlier text (stale)"), `board-progress: ${JSON.stringify(progress)}`);
      assert.ok(progress.includes("27 entities have not responded on (r1)"), `board-progress: ${JSON.stringify(progress)}`);
      assert.ok(!/28 entities have not responded on[^;]*\(r2\)/.test(progress), `board-progress counts (r2)'s stale positions as not responded: ${JSON.stringify(progress)}`);
      assert.ok(!/\b1 entities\b|\b(2[0-9]|[2-9]) entity\b/.test(progress), `board-progress: ${JSON.stringify(progress)}`);
      // The element's own count and its Adopt hint say the same.
      const card = await textOf(page, boardEl(stale));
      assert.ok(/23\b[^.]*not responded|not responded[^.]*\(23\)/i.test(card), `(r2)'s panel: ${JSON.stringify(card)}`);
      assert.ok(/5\b[^.]*earlier text|earlier text[^.]*\(5\)/i.test(card), `(r2)'s panel: ${JSON.stringify(card)}`);
      // The panel's counts in words: plural for five, singular for one.
      assert.ok(card.includes("5 positions on an earlier text (stale)"), `(r2)'s counts: ${JSON.stringify(card)}`);
      const one = await textOf(page, boardEl(single));
      assert.ok(one.includes("1 position on an earlier text (stale)"), `(r3)'s counts: ${JSON.stringify(one)}`);
      assert.ok(!/\b1 positions\b|\b([02-9]|\d\d) position on\b/.test(card + one), `counts in words: ${JSON.stringify(card + one)}`);
      const hint = await hintOf(page, perElement(stale, "adopt-element"));
      assert.ok(hint && !hint.includes("28"), `(r2)'s Adopt hint counts 28: ${JSON.stringify(hint)}`);
      assert.ok(/23/.test(hint) && /5/.test(hint) && /stale|earlier text/.test(hint), `(r2)'s Adopt hint: ${JSON.stringify(hint)}`);
    });

    await step("at 1440×900 the matrix is on the first screen and the element choice sits in the silence form", async () => {
      await page.evaluate(() => window.scrollTo(0, 0));
      const l = await layout(page);
      assertLayout(l, "this draft");
      await shot(page, "board-1440x900");
      // The reference draft: 28 entities, eight elements and more.
      const ref = await signInWithSession(browser, chairToken, "chair-reference");
      await ref.page.setViewportSize({ width: 1440, height: 900 });
      await ref.page.goto(`${base}/drafts/${encodeURIComponent(reference.id)}/board`);
      await ref.page.locator(tid("matrix")).waitFor({ timeout: 20000 });
      await waitGrid(ref.page, reference.id);
      assertLayout(await layout(ref.page), "the reference draft");
      await shot(ref.page, "board-reference-1440x900");
      await ref.context.close();
    });

    await step("silence on an element with stale objections shows them and needs the chair's confirmation", async () => {
      const form = tid("silence-form");
      for (const id of [adref, stale]) await page.locator(`${form} ${tid("silence-select", { "data-element-id": id })}`).check();
      await page.locator(tid("silence-deadline")).fill(await deadlineInput(d.id, 5));
      // The form names each stale objection, with its reason.
      const listed = page.locator(`${form} ${tid("silence-stale-objection")}`);
      await until("the stale objections in the silence form", async () => (await listed.count()) === 2, 10000);
      for (const x of OBJECTORS) {
        const item = `${form} ${tid("silence-stale-objection", { "data-entity": x, "data-element-id": stale })}`;
        assert.ok((await textOf(page, item)).includes("protection of refugees"), `${x}'s stale objection without its reason`);
      }
      const confirm = page.locator(`${form} ${tid("silence-confirm-stale")}`);
      assert.equal(await confirm.isChecked(), false, "the confirmation starts unticked");
      // Not confirmed: refused, nothing started.
      await page.locator(tid("silence-start")).click();
      await waitAttr(page, tid("board-feedback"), "data-state", "error");
      assert.match(await textOf(page, tid("board-feedback")), /confirm/i);
      for (const id of [adref, stale]) assert.equal(await apiStatus(d.id, id), "open", "a silence started without confirmation");
      // Confirmed: started, and the confirmation is on record.
      await confirm.check();
      await page.locator(tid("silence-start")).click();
      await waitAttr(page, tid("board-feedback"), "data-state", "ok");
      for (const id of [adref, stale]) await waitAttr(page, `${boardEl(id)} ${tid("board-status")}`, "data-status", "under_silence");
      const history = await apiJson(`/api/v1/drafts/${d.id}/history?element=${stale}`);
      const started = history.items.find((i) => i.type === "silence_started");
      assert.deepEqual(
        (started?.data?.confirmed_stale_objections ?? []).map((o) => o.entity),
        OBJECTORS,
        `the silence_started event: ${JSON.stringify(started)}`,
      );
      const hint = await hintOf(page, perElement(adref, "adopt-element"));
      assert.match(hint ?? "", /under silence/i, "(r1)'s Adopt hint under silence");
      await shot(page, "board-silence-stale-confirmed");
    });

    await step("after the silence fires the Adopt hints follow the live status", async () => {
      if ((await apiStatus(d.id, adref)) !== "under_silence") {
        // The previous step failed: start the silence through the API.
        const deadline = new Date(Date.parse((await consensus(d.id)).server_time) + 5 * 60_000).toISOString();
        const r = await api("POST", `/api/v1/drafts/${d.id}/silence`, { elements: [adref, stale], deadline, confirm_stale_objections: true });
        assert.equal(r.status, 201, `starting the silence: ${r.status} ${r.text}`);
        await waitAttr(page, `${boardEl(adref)} ${tid("board-status")}`, "data-status", "under_silence");
      }
      await advanceClock(10 * 60);
      await waitAttr(page, `${boardEl(adref)} ${tid("board-status")}`, "data-status", "agreed_ad_ref");
      await waitAttr(page, `${boardEl(stale)} ${tid("board-status")}`, "data-status", "agreed");
      let hint = "";
      try {
        await until("(r1)'s Adopt hint to follow the status", async () => {
          hint = (await hintOf(page, perElement(adref, "adopt-element"))) ?? "";
          return /ad referendum/i.test(hint) && !/under silence|deadline/i.test(hint);
        }, 5000);
      } catch {
        assert.fail(`(r1) reads agreed ad ref, its Adopt hint says ${JSON.stringify(hint)}`);
      }
      assert.ok(!/under silence/i.test(await textOf(page, boardEl(adref))), `(r1)'s panel still says under silence: ${await textOf(page, boardEl(adref))}`);
      const adopt = perElement(stale, "adopt-element");
      await until("(r2)'s Adopt button to be enabled", async () => (await attr(page, adopt, "aria-disabled")) !== "true", 5000);
      assert.ok(!/under silence/i.test((await hintOf(page, adopt)) ?? ""), "(r2)'s Adopt hint still says under silence");
      // The confirmed stale objections became support by silence.
      for (const x of OBJECTORS) {
        await waitAttr(page, tid("matrix-cell", { "data-entity": x, "data-element-id": stale }), "data-position", "support");
      }
      await shot(page, "board-after-silence");
    });

    await step("archiving asks first, naming the element; cancel keeps it", async () => {
      const button = perElement(archive, "archive-element");
      const dialog = page.locator('[role="dialog"], dialog').filter({ hasText: "(r5)" });
      await page.locator(button).first().click();
      await dialog.first().waitFor({ state: "visible", timeout: 5000 });
      const name = await dialog.first().evaluate((el) => {
        const by = el.getAttribute("aria-labelledby");
        return el.getAttribute("aria-label") ?? (by ? document.getElementById(by)?.innerText : "") ?? "";
      });
      assert.ok(name.includes("(r5)"), `the dialog's accessible name does not name the element: ${JSON.stringify(name)}`);
      assert.ok(await dialog.first().evaluate((el) => el.contains(document.activeElement)), "focus is not in the dialog");
      await shot(page, "board-archive-confirm");
      await dialog.first().locator(tid("archive-cancel")).click();
      await dialog.first().waitFor({ state: "hidden", timeout: 5000 });
      await page.locator(boardEl(archive)).waitFor();
      assert.ok((await apiJson(`/api/v1/drafts/${d.id}`)).elements.some((e) => e.id === archive), "cancel archived the element");
      // Escape cancels too.
      await page.locator(button).first().click();
      await dialog.first().waitFor({ state: "visible", timeout: 5000 });
      await page.keyboard.press("Escape");
      await dialog.first().waitFor({ state: "hidden", timeout: 5000 });
      assert.ok((await apiJson(`/api/v1/drafts/${d.id}`)).elements.some((e) => e.id === archive), "Escape archived the element");
      // Confirmed: archived.
      await page.locator(button).first().click();
      await dialog.first().locator(tid("archive-confirm")).click();
      await until("the API to list the element as archived", async () =>
        (await apiJson(`/api/v1/drafts/${d.id}`)).archived_elements.some((e) => e.id === archive));
    });
  });
});
