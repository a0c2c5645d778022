// The web app as people use it: on a phone, on a projector, on paper, and
// with others' cursors in the text.
//
// 1. Phone (390×844): the side panel ("Online now", the key) flows with the
//    page — after scrolling it never lies over an element's text — and the
//    sticky header is one row, with nothing wider than the screen.
// 2. Projector mode at 1440×900 and 1024×768: every row and every cell of
//    the matrix (all entities × all elements) lies within the viewport
//    without scrolling, and the cells stay big enough to read.
// 3. Printing the reading view and the draft view: no top bar, navigation,
//    buttons, pickers, side panel or position controls; the text (and in
//    the reading view the consensus annex) printed. A PDF of each.
// 4. Others' cursors: the name flag shows when the cursor appears or moves
//    and on hover, and fades after a few seconds of stillness; the caret
//    stays.
//
// Read-only on the shared server: the users are delegates of entities no
// other browser test signs in for and the chair's API session; nothing is
// typed or recorded (a cursor moves in element (e), which no test edits).
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { base, chairToken, delegateToken, draft, elementSel, shot, shots, tid, until, withBrowser } from "./lib.mjs";

const PHONE = { width: 390, height: 844 };

/** A fresh context of `viewport` signed in with the session `token`. */
async function contextFor(browser, token, who, viewport, extra = {}) {
  const context = await browser.newContext({ viewport, ...extra });
  await context.addCookies([{ name: "accord_session", value: token, url: base }]);
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${who}] page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") console.error(`[${who}] console error: ${m.text()}`);
  });
  return { context, page };
}

/** Whether two boxes (in the same coordinates) overlap. */
function overlap(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** Two entities at the end of the draft's list, which no other test uses. */
async function quietEntities() {
  const d = await draft();
  const codes = d.entities.map((e) => e.code);
  return { d, codes: [codes[codes.length - 1], codes[codes.length - 3]] };
}

async function openDraft(page, d) {
  await page.goto(`${base}/drafts/${encodeURIComponent(d.id)}`);
  await page.locator(tid("connection", { "data-state": "connected" })).waitFor({ timeout: 20000 });
  await until("every element's editor", async () => (await page.locator(`${tid("element-editor")} .cm-content`).count()) === d.elements.length);
}

test("phone: the side panel flows with the page, never over the text, and the header is one row", async () => {
  const { d, codes } = await quietEntities();
  await withBrowser("layout-phone", async (browser) => {
    const { page } = await contextFor(browser, delegateToken(codes[0]), codes[0], PHONE, { isMobile: true, hasTouch: true });
    await openDraft(page, d);
    await shot(page, "phone-draft");

    // Nothing wider than the screen; the header one row (its tallest item is
    // a compact button, 2.25rem) and still there when scrolled.
    const widths = await page.evaluate(() => ({
      doc: document.documentElement.scrollWidth,
      header: document.querySelector(".topbar-inner").scrollWidth,
      view: window.innerWidth,
    }));
    assert.ok(widths.doc <= widths.view && widths.header <= widths.view, `wider than the phone's screen: ${JSON.stringify(widths)}`);
    const header = await page.locator("header.topbar").boundingBox();
    assert.ok(header.height <= 60, `the header is ${header.height}px high on a phone: more than one row`);

    // Scroll through the draft a screen at a time: wherever the side panel
    // is, no element's text (editor) or label lies under it.
    const sideLoc = page.locator("aside.side");
    const texts = page.locator(`${tid("element-editor")} .cm-content, ${tid("element-label")}`);
    const total = await page.evaluate(() => document.documentElement.scrollHeight);
    let steps = 0;
    for (let y = 0; y < total; y += 600) {
      await page.evaluate(() => window.scrollBy(0, 600));
      steps += 1;
      const boxes = await texts.evaluateAll((els) =>
        els.map((e) => {
          const r = e.getBoundingClientRect();
          return { x: r.x, y: r.y, width: r.width, height: r.height, what: e.closest("[data-label]")?.dataset.label ?? "?" };
        }),
      );
      const view = { x: 0, y: 0, width: PHONE.width, height: PHONE.height };
      const sideRect = await sideLoc.evaluate((e) => e.getBoundingClientRect().toJSON());
      if (!overlap(sideRect, view)) continue;
      const covered = boxes.filter((b) => overlap(b, view) && overlap(b, sideRect));
      if (covered.length > 0) {
        await page.screenshot({ path: join(shots, "phone-draft-FAIL-covered.png") });
      }
      assert.deepEqual(
        covered.map((b) => b.what),
        [],
        `after scrolling ${steps * 600}px the side panel (${JSON.stringify(sideRect)}) lies over the text of ${covered.map((b) => b.what).join(", ")}`,
      );
      const top = await page.locator("header.topbar").evaluate((e) => e.getBoundingClientRect().toJSON());
      assert.ok(top.height <= 60, `the header is ${top.height}px high after scrolling`);
    }
    assert.ok(steps >= 3, `the draft is only ${total}px long on a phone`);
    // The side panel scrolled away with the page.
    const sideNow = await sideLoc.evaluate((e) => e.getBoundingClientRect().toJSON());
    assert.ok(sideNow.y + sideNow.height <= 0, `at the end of the draft the side panel is still on screen: ${JSON.stringify(sideNow)}`);
    await page.screenshot({ path: join(shots, "phone-draft-scrolled.png") });
  });
});

for (const size of [
  { width: 1440, height: 900 },
  { width: 1024, height: 768 },
]) {
  const name = `projector-${size.width}x${size.height}`;
  test(`projector at ${size.width}×${size.height}: the whole matrix on screen, no scrolling, readable`, async () => {
    const d = await draft();
    await withBrowser(`layout-${name}`, async (browser) => {
      const { page } = await contextFor(browser, chairToken, "chair", size);
      await page.goto(`${base}/drafts/${encodeURIComponent(d.id)}/board?projector=1`);
      await page.locator(tid("board", { "data-projector": "true" })).waitFor({ timeout: 20000 });
      const rows = page.locator(tid("matrix-row"));
      const cells = page.locator(tid("matrix-cell"));
      await until("every entity's row and every element's cell", async () => {
        const [r, c] = [await rows.count(), await cells.count()];
        return r === d.entities.length && c === d.entities.length * d.elements.length;
      });
      const measure = () =>
        page.evaluate(() => {
          const out = [];
          const inside = (r) => r.left >= 0 && r.top >= 0 && r.right <= window.innerWidth + 0.5 && r.bottom <= window.innerHeight + 0.5;
          const list = [
            ...document.querySelectorAll('[data-testid="matrix-row"], [data-testid="matrix-cell"], [data-testid="matrix"] thead th'),
          ];
          for (const e of list) {
            const r = e.getBoundingClientRect();
            if (!inside(r)) out.push(`${e.dataset.testid ?? "column head"} ${e.dataset.entity ?? ""} ${e.dataset.elementId ?? e.textContent}: ${Math.round(r.top)}–${Math.round(r.bottom)} × ${Math.round(r.left)}–${Math.round(r.right)}`);
          }
          const cell = document.querySelector('[data-testid="matrix-cell"]').getBoundingClientRect();
          const symbol = getComputedStyle(document.querySelector('[data-testid="matrix-cell"] .cell-symbol')).fontSize;
          const code = getComputedStyle(document.querySelector('[data-testid="matrix-row"] .row-code')).fontSize;
          return { out, scrollY: window.scrollY, cellHeight: cell.height, symbol: parseFloat(symbol), code: parseFloat(code) };
        });
      // The board sizes the cells once it has measured the screen.
      let m;
      try {
        await until("every row and cell within the viewport", async () => (m = await measure()).out.length === 0, 5000);
      } catch {
        await shot(page, `${name}-FAIL`);
        assert.fail(`${m.out.length} parts of the matrix outside the ${size.width}×${size.height} viewport:\n${m.out.slice(0, 40).join("\n")}`);
      }
      assert.equal(m.scrollY, 0, "the page was scrolled");
      // Readable from the back of the room: cells of 18px or more, symbols
      // and entity codes of 11px or more.
      assert.ok(m.cellHeight >= 18, `cells only ${m.cellHeight}px high`);
      assert.ok(m.symbol >= 11 && m.code >= 11, `text too small: symbols ${m.symbol}px, entity codes ${m.code}px`);
      console.log(`${name}: cells ${m.cellHeight.toFixed(1)}px high, symbols ${m.symbol}px, entity codes ${m.code}px`);
      await shot(page, name);
    });
  });
}

/** The visible matches of `sel` on `page` (described), as printed. */
async function visible(page, sel) {
  return page.locator(sel).evaluateAll((els) =>
    els
      .filter((e) => e.checkVisibility({ visibilityProperty: true, opacityProperty: true }))
      .map((e) => `${e.tagName.toLowerCase()}${e.dataset.testid ? `[${e.dataset.testid}]` : ""}${e.className ? `.${String(e.className).split(" ").join(".")}` : ""} "${(e.textContent ?? "").trim().slice(0, 40)}"`),
  );
}

async function assertHidden(page, view, sels) {
  for (const sel of sels) {
    const shown = await visible(page, sel);
    assert.deepEqual(shown, [], `${view} prints ${sel}: ${shown.join("; ")}`);
  }
}

async function assertAllShown(page, view, sel, n) {
  const shown = await visible(page, sel);
  assert.equal(shown.length, n, `${view} prints ${shown.length} of ${n} ${sel}`);
}

test("printing the reading view: the text and the consensus annex, no chrome", async () => {
  const { d, codes } = await quietEntities();
  await withBrowser("layout-print-reading", async (browser) => {
    const { page } = await contextFor(browser, delegateToken(codes[0]), codes[0], { width: 1280, height: 900 });
    await page.goto(`${base}/drafts/${encodeURIComponent(d.id)}/read`);
    await page.locator(tid("annex-element")).first().waitFor({ timeout: 20000 });
    const n = await page.locator(tid("reading-element")).count();
    assert.ok(n > 0, "the reading view shows no element");
    // On screen the chrome is there (the check below means something).
    assert.ok((await visible(page, "header.topbar")).length === 1, "no top bar on screen");
    assert.ok((await visible(page, "button")).length > 0, "no button on screen");

    await page.emulateMedia({ media: "print" });
    await assertHidden(page, "the reading view", [
      "header.topbar",
      tid("review-nav"),
      tid("back-to-draft"),
      tid("pick-version"),
      tid("pick-at"),
      tid("export-links"),
      tid("compare-with-now"),
      "button",
      "select",
      "input",
      "nav",
      ".small-link",
    ]);
    for (const sel of [tid("reading-title"), tid("reading-element-label"), tid("reading-element-text")]) {
      await assertAllShown(page, "the reading view", sel, sel === tid("reading-title") ? 1 : n);
    }
    await assertAllShown(page, "the reading view", tid("annex"), 1);
    await assertAllShown(page, "the reading view", tid("annex-element"), await page.locator(tid("annex-element")).count());
    await shot(page, "print-reading");
    await page.pdf({ path: join(shots, "print-reading.pdf"), format: "A4", printBackground: true });
  });
});

test("printing the draft view: the elements' text and positions, no chrome", async () => {
  const { d, codes } = await quietEntities();
  await withBrowser("layout-print-draft", async (browser) => {
    const { page } = await contextFor(browser, delegateToken(codes[0]), codes[0], { width: 1280, height: 900 });
    await openDraft(page, d);
    await page.locator(tid("position-controls")).first().waitFor({ timeout: 20000 });

    await page.emulateMedia({ media: "print" });
    await assertHidden(page, "the draft view", [
      "header.topbar",
      ".skip",
      tid("open-history"),
      tid("presence"),
      "aside.side",
      tid("position-controls"),
      tid("element-presence"),
      "button",
      "textarea",
      "input",
    ]);
    await assertAllShown(page, "the draft view", tid("draft-title"), 1);
    await assertAllShown(page, "the draft view", tid("element-label"), d.elements.length);
    await assertAllShown(page, "the draft view", `${tid("element-editor")} .cm-content`, d.elements.length);
    await assertAllShown(page, "the draft view", tid("positions-strip"), d.elements.length);
    // The text spans the page (the side panel's column is gone).
    const width = await page.locator(elementSel(d.elements[0].id)).evaluate((e) => e.getBoundingClientRect().width);
    const page_ = await page.evaluate(() => document.documentElement.clientWidth);
    assert.ok(width > page_ * 0.8, `an element is ${width}px wide on a ${page_}px page`);
    await shot(page, "print-draft");
    await page.pdf({ path: join(shots, "print-draft.pdf"), format: "A4", printBackground: true });
  });
});

/** `page`'s remote caret of `tag` in element `id`, with its flag's opacity. */
async function flagOf(page, id, tag) {
  return page.evaluate(
    ({ sel }) => {
      const caret = document.querySelector(sel);
      if (!caret) return null;
      const own = getComputedStyle(caret);
      return {
        flag: Number(getComputedStyle(caret, "::after").opacity),
        caret: Number(own.opacity),
        border: own.borderLeftWidth,
        visible: own.visibility,
      };
    },
    { sel: `${elementSel(id)} .cm-remote-cursor[data-name="${tag}"]` },
  );
}

/** Puts `page`'s selection in element `id`'s editor at `at`, as a click would. */
async function placeCursor(page, id, at) {
  await page.evaluate(
    ({ sel, at }) => {
      const content = document.querySelector(sel);
      const view = content?.cmTile?.root?.view ?? content?.cmView?.view ?? content?.cmView?.rootView?.view;
      if (!view) throw new Error("no CodeMirror EditorView on .cm-content");
      view.focus();
      view.dispatch({ selection: { anchor: at } });
    },
    { sel: `${elementSel(id)} ${tid("element-editor")} .cm-content`, at },
  );
}

test("others' cursors: the name shows on appearing, moving and hover, then fades; the caret stays", async () => {
  const { d, codes } = await quietEntities();
  const [xa, xb] = codes;
  const e = d.elements[4];
  const tag = `Delegate of ${xa} (${xa})`;
  await withBrowser("layout-cursor-flag", async (browser) => {
    const a = await contextFor(browser, delegateToken(xa), xa, { width: 1280, height: 900 });
    const b = await contextFor(browser, delegateToken(xb), xb, { width: 1280, height: 900 });
    await openDraft(a.page, d);
    await openDraft(b.page, d);

    await placeCursor(a.page, e.id, 1);
    const seen = await until("B to see A's caret", async () => (await flagOf(b.page, e.id, tag)) && Date.now(), 10000);
    const first = await flagOf(b.page, e.id, tag);
    assert.ok(first.flag > 0.9, `the name is not shown when the cursor appears (opacity ${first.flag})`);
    await until("the name to fade", async () => (await flagOf(b.page, e.id, tag))?.flag === 0, 10000);
    const faded = Date.now() - seen;
    assert.ok(faded >= 1500, `the name faded after only ${faded} ms`);
    const still = await flagOf(b.page, e.id, tag);
    assert.equal(still.caret, 1, "the caret itself faded");
    assert.equal(still.visible, "visible", "the caret is hidden");
    assert.equal(still.border, "2px", "the caret lost its line");
    console.log(`cursor flag: shown on appearing, gone ${faded} ms later`);

    // A moves: the name shows again, then fades again.
    await placeCursor(a.page, e.id, 6);
    await until("the name to show again when A's cursor moves", async () => ((await flagOf(b.page, e.id, tag))?.flag ?? 0) > 0.9, 5000);
    await shot(b.page, "cursor-flag-moved");
    await until("the name to fade again", async () => (await flagOf(b.page, e.id, tag))?.flag === 0, 10000);

    // Hovering the caret shows the name.
    await b.page.locator(`${elementSel(e.id)} .cm-remote-cursor[data-name="${tag}"]`).hover();
    await until("the name to show on hover", async () => (await flagOf(b.page, e.id, tag))?.flag === 1, 3000);
  });
});
