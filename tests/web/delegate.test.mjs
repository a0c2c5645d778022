// The delegate's draft view, as delegates use it (issue 14): the strip's
// counts in words with the right singular or plural; the positions that
// carry words in a list readable without hovering (laptop, and a phone by
// touch); "Recorded: …" that clears after a while and whenever the element
// moves on (a newer position, the text, adoption); "Please reconfirm" with
// the words inserted and deleted since the position was given; a stale
// objection that says so, with the same difference; an outline of the
// elements with their statuses that jumps to an element.
//
// Uses element (e) (index 4), which no other test file uses; positions of
// other entities are recorded through the API as their delegates; ILO's
// browser edits the text. The last test adopts (e) and reopens it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  api,
  apiJson,
  base,
  chairToken,
  consensus,
  delegateToken,
  draft as getDraft,
  elementSel,
  shot,
  shots,
  signInWithSession,
  tid,
  until,
  waitAttr,
  waitEditor,
  withBrowser,
} from "./lib.mjs";

const INDEX = 4;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe's violations of impact moderate or worse inside `sel`. */
async function axeViolations(page, sel) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
  const found = await page.evaluate(async (sel) => {
    const r = await window.axe.run(document.querySelector(sel), { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  }, sel);
  return found.filter((v) => ["moderate", "serious", "critical"].includes(v.impact));
}

/** Element (e) and the draft, with the entity codes other than IOM and ILO
 *  (the two browsers). */
async function setup() {
  const d = await getDraft();
  const element = d.elements[INDEX];
  assert.equal(element.label, "(e)", "element index 4 is (e)");
  const others = d.entities.map((e) => e.code).filter((c) => c !== "IOM" && c !== "ILO");
  return { d, element, others, codes: d.entities.map((e) => e.code) };
}

/** Element `id`'s text, hash and heads as the server holds them now. */
async function elementText(draftId, id) {
  const d = await apiJson(`/api/v1/drafts/${draftId}`);
  const e = d.elements.find((x) => x.id === id);
  return { text: e.text, text_hash: e.text_hash, heads: e.heads };
}

/** Records `entity`'s position as that entity's delegate, on the text now. */
async function putPosition(draftId, id, entity, position, { note = null, wording = null } = {}) {
  const t = await elementText(draftId, id);
  const r = await api(
    "PUT",
    `/api/v1/drafts/${draftId}/elements/${id}/positions/${encodeURIComponent(entity)}`,
    { position, note, wording, text_hash: t.text_hash, heads: t.heads },
    delegateToken(entity),
  );
  assert.equal(r.status, 201, `PUT ${position} of ${entity}: ${r.status} ${r.text}`);
  return r.json;
}

/** Replaces the first `find` in element `id`'s editor with `by` (a
 *  CodeMirror transaction of only the characters that differ, as typing
 *  would make), then waits until the server holds the new text. */
async function replaceText(page, draftId, id, find, by) {
  const next = await page.evaluate(
    ({ sel, find, by }) => {
      const content = document.querySelector(sel);
      const view = content?.cmTile?.root?.view ?? content?.cmView?.view ?? content?.cmView?.rootView?.view;
      if (!view) throw new Error("no CodeMirror EditorView on .cm-content");
      const at = view.state.doc.toString().indexOf(find);
      if (at < 0) throw new Error(`no ${JSON.stringify(find)} in the text`);
      // Only what differs, as a typist would change it.
      let head = 0;
      while (head < find.length && head < by.length && find[head] === by[head]) head++;
      let tail = 0;
      while (tail < find.length - head && tail < by.length - head && find[find.length - 1 - tail] === by[by.length - 1 - tail]) tail++;
      view.dispatch({
        changes: { from: at + head, to: at + find.length - tail, insert: by.slice(head, by.length - tail) },
        userEvent: "input.type",
      });
      return view.state.doc.toString();
    },
    { sel: `${elementSel(id)} ${tid("element-editor")} .cm-content`, find, by },
  );
  await until("the server to hold the edited text", async () => (await elementText(draftId, id)).text === next);
  return next;
}

/** A delegate's page at phone size, with touch, signed in with `token`. */
async function phonePage(browser, token, who) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await context.addCookies([{ name: "accord_session", value: token, url: base }]);
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${who}] page error: ${e.message}`));
  await page.goto(`${base}/`);
  await page.locator(tid("draft")).waitFor({ timeout: 20000 });
  await page.locator(tid("connection", { "data-state": "connected" })).waitFor({ timeout: 20000 });
  return { context, page };
}

const inEl = (id, name, attrs) => `${elementSel(id)} ${tid(name, attrs)}`;

async function textOf(page, sel) {
  const loc = page.locator(sel).first();
  return (await loc.count()) === 0 ? "" : (await loc.innerText()).replace(/\s+/g, " ").trim();
}

/** Counts followed by a noun in the wrong number: "5 position on",
 *  "1 entities", "2 objection"… */
function wrongPlurals(text) {
  const bad = [];
  for (const m of text.matchAll(/\b(\d+) (positions?|entit(?:y|ies)|reservations?|objections?)\b/g)) {
    const n = Number(m[1]);
    const plural = /s$/.test(m[2]);
    if ((n === 1) === plural) bad.push(m[0]);
  }
  return bad;
}

/** Records a position through the position controls of element `id`. */
async function recordInUi(page, id, stance, note) {
  const controls = page.locator(inEl(id, "position-controls"));
  await controls.locator(tid(`position-${stance}`)).click();
  if (note) await controls.locator(tid("position-note")).fill(note);
  await controls.locator(tid("position-submit")).click();
  await waitAttr(page, inEl(id, "position-feedback"), "data-state", "ok");
  assert.match(await textOf(page, inEl(id, "position-feedback")), /^Recorded/);
}

test("the strip in words: counts with the right singular or plural, stale ones included", async () => {
  const { d, element, others } = await setup();
  await withBrowser("delegate-counts", async (browser) => {
    const iom = await signInWithSession(browser, delegateToken("IOM"), "iom");
    const ilo = await signInWithSession(browser, delegateToken("ILO"), "ilo");
    await waitEditor(iom.page, element.id);
    await waitEditor(ilo.page, element.id);
    const summary = inEl(element.id, "positions-summary");

    await putPosition(d.id, element.id, others[0], "support");
    await putPosition(d.id, element.id, others[1], "support");
    await until("two supports in words", async () => (await textOf(iom.page, summary)).includes("2 entities support"));

    // Someone changes the text: both supports were given on an earlier text.
    await replaceText(ilo.page, d.id, element.id, "Addressing public", "Addressing the public");
    await until("2 positions on an earlier text", async () =>
      (await textOf(iom.page, summary)).includes("2 positions on an earlier text (stale)"));
    let text = await textOf(iom.page, summary);
    assert.doesNotMatch(text, /\bentities support\b/, `no supports are left: ${text}`);

    // One reconfirms: one of each.
    await putPosition(d.id, element.id, others[0], "support");
    await until("1 position on an earlier text, 1 entity supports", async () => {
      const t = await textOf(iom.page, summary);
      return t.includes("1 position on an earlier text (stale)") && t.includes("1 entity supports");
    });
    text = await textOf(iom.page, summary);
    // Every count agrees with the server, in words.
    const c = (await consensus(d.id)).elements.find((e) => e.id === element.id);
    const none = c.matrix.filter((m) => m.standing === "no_response").length;
    assert.ok(text.includes(none === 1 ? "1 entity has no position yet" : `${none} entities have no position yet`), text);
    assert.deepEqual(wrongPlurals(text), [], `counts in the wrong number: ${text}`);
    // Nowhere in the element (nor the outline) a count in the wrong number.
    const all = `${await textOf(iom.page, elementSel(element.id))} ${await textOf(iom.page, tid("outline"))}`;
    assert.deepEqual(wrongPlurals(all), [], "counts in the wrong number in the delegate's view");
  });
});

test("positions with words: a list readable without hovering, on a laptop by keyboard and on a phone by touch", async () => {
  const { d, element, others } = await setup();
  const oldNote = "We need to consult our capital on the first words.";
  const resNote = "Subject to the views of our governing body.";
  const objReason = "The element must name the obligations of States.";
  const objWording = "…and raise awareness, in line with States' obligations, of migrants' contributions…";
  await withBrowser("delegate-comments", async (browser) => {
    const ilo = await signInWithSession(browser, delegateToken("ILO"), "ilo");
    await waitEditor(ilo.page, element.id);
    // A reservation that goes stale, then a reservation and an objection on
    // the new text, and an abstention (no words).
    await putPosition(d.id, element.id, others[5], "reservation", { note: oldNote });
    await replaceText(ilo.page, d.id, element.id, "to counter", "to effectively counter");
    await putPosition(d.id, element.id, others[2], "reservation", { note: resNote });
    await putPosition(d.id, element.id, others[3], "object", { note: objReason, wording: objWording });
    await putPosition(d.id, element.id, others[4], "abstain");

    const iom = await signInWithSession(browser, delegateToken("IOM"), "iom");
    await waitEditor(iom.page, element.id);
    const toggle = inEl(element.id, "position-comments-toggle");
    await until("3 positions with comments", async () => (await textOf(iom.page, toggle)).startsWith("3 positions with comments"));
    const comments = iom.page.locator(inEl(element.id, "position-comment"));
    assert.equal(await comments.first().isVisible(), false, "the list is open before it is asked for");

    // By keyboard: focus the disclosure and press Enter.
    await iom.page.locator(toggle).focus();
    await iom.page.keyboard.press("Enter");
    await comments.first().waitFor({ state: "visible" });
    assert.equal(await comments.count(), 3);
    const rows = await comments.evaluateAll((els) =>
      els.map((e) => ({ entity: e.dataset.entity, position: e.dataset.position, standing: e.dataset.standing, text: e.innerText })));
    const by = Object.fromEntries(rows.map((r) => [r.entity, r]));
    assert.equal(rows[0].entity, others[3], "the objection comes first");
    assert.equal(by[others[3]].position, "object");
    assert.match(by[others[3]].text, new RegExp(`Reason: ${objReason.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    assert.ok(by[others[3]].text.includes(`Proposed wording: ${objWording}`) || by[others[3]].text.includes(objWording), by[others[3]].text);
    assert.match(by[others[3]].text, /\bcurrent\b/);
    assert.equal(by[others[2]].position, "reservation");
    assert.ok(by[others[2]].text.includes(`Note: ${resNote}`), by[others[2]].text);
    assert.equal(by[others[5]].standing, "stale");
    assert.ok(by[others[5]].text.includes("given on an earlier text (stale)"), by[others[5]].text);
    assert.ok(by[others[5]].text.includes(oldNote), by[others[5]].text);
    assert.equal(by[others[4]], undefined, "an abstention without words is listed");
    // Plain text on the page: readable, not a tooltip.
    const box = await comments.first().boundingBox();
    assert.ok(box && box.width > 300 && box.height > 20, `the first comment's box: ${JSON.stringify(box)}`);
    await shot(iom.page, "delegate-positions-list");
    await iom.page.locator(elementSel(element.id)).screenshot({ path: join(shots, "delegate-positions-list-element.png") });

    // On a phone, by touch.
    const phone = await phonePage(browser, delegateToken("IOM"), "iom-phone");
    await waitEditor(phone.page, element.id);
    await phone.page.locator(toggle).scrollIntoViewIfNeeded();
    await phone.page.locator(toggle).tap();
    const list = phone.page.locator(inEl(element.id, "position-comment"));
    await list.first().waitFor({ state: "visible" });
    assert.equal(await list.count(), 3);
    for (let i = 0; i < 3; i++) {
      const item = list.nth(i);
      await item.scrollIntoViewIfNeeded();
      const b = await item.boundingBox();
      assert.ok(b && b.x >= 0 && b.x + b.width <= 390 + 0.5, `comment ${i} fits the phone's width: ${JSON.stringify(b)}`);
      const size = await item.evaluate((el) => parseFloat(getComputedStyle(el.querySelector("p")).fontSize));
      assert.ok(size >= 14, `comment ${i} font size ${size}px`);
    }
    const phoneText = await textOf(phone.page, inEl(element.id, "position-comment", { "data-entity": others[3] }));
    assert.ok(phoneText.includes(objReason) && phoneText.includes(objWording), phoneText);
    const scrollWidth = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= 391, `the page scrolls sideways at phone size: ${scrollWidth}px`);
    // The screen as the delegate sees it: the disclosure at the top, under the bar.
    await phone.page.locator(toggle).evaluate((el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 70));
    await phone.page.screenshot({ path: join(shots, "delegate-positions-list-phone-screen.png") });
    await shot(phone.page, "delegate-positions-list-phone");
  });
});

test("“Recorded: …” clears after a while, and at once when a newer position or a text change moves the element on", async () => {
  const { d, element } = await setup();
  await withBrowser("delegate-recorded", async (browser) => {
    const iom = await signInWithSession(browser, delegateToken("IOM"), "iom");
    const ilo = await signInWithSession(browser, delegateToken("ILO"), "ilo");
    await waitEditor(iom.page, element.id);
    await waitEditor(ilo.page, element.id);
    const feedback = inEl(element.id, "position-feedback");
    const gone = async () => (await iom.page.locator(feedback).count()) === 0;

    // 1. Nothing happens: it goes by itself.
    let t0 = Date.now();
    await recordInUi(iom.page, element.id, "abstain");
    await until("the confirmation to go by itself", gone, 30000);
    const after = Date.now() - t0;
    assert.ok(after >= 5000, `the confirmation went after ${after} ms: too soon to read`);

    // 2. Another delegate of IOM records a newer position: it goes at once.
    await recordInUi(iom.page, element.id, "support");
    t0 = Date.now();
    await putPosition(d.id, element.id, "IOM", "abstain");
    await waitAttr(iom.page, inEl(element.id, "own-position"), "data-stale", "false");
    await until("the confirmation to go when a newer position arrives", gone, 8000);
    assert.ok(Date.now() - t0 < 10000);
    assert.match(await textOf(iom.page, inEl(element.id, "own-position")), /Abstain/);

    // 3. The text changes: it goes at once.
    await recordInUi(iom.page, element.id, "support");
    await replaceText(ilo.page, d.id, element.id, "sentiment,", "sentiment and");
    await until("the confirmation to go when the text changes", gone, 8000);
  });
});

test("“Please reconfirm” shows the words inserted and deleted since the position was given", async () => {
  const { d, element } = await setup();
  await withBrowser("delegate-reconfirm", async (browser) => {
    const iom = await signInWithSession(browser, delegateToken("IOM"), "iom");
    const ilo = await signInWithSession(browser, delegateToken("ILO"), "ilo");
    await waitEditor(iom.page, element.id);
    await waitEditor(ilo.page, element.id);
    await recordInUi(iom.page, element.id, "support");
    await waitAttr(iom.page, inEl(element.id, "own-position"), "data-stale", "false");
    assert.equal(await iom.page.locator(inEl(element.id, "stale-diff")).count(), 0, "a difference shown for a current position");

    await replaceText(ilo.page, d.id, element.id, "overwhelmingly ", "");
    await replaceText(ilo.page, d.id, element.id, "raise awareness", "raise broad awareness");
    await waitAttr(iom.page, inEl(element.id, "own-position"), "data-stale", "true");
    assert.match(await textOf(iom.page, inEl(element.id, "own-position")), /Please reconfirm/);
    const diff = inEl(element.id, "stale-diff");
    await waitAttr(iom.page, diff, "data-state", "ready");
    const pieces = async (name) =>
      iom.page.locator(`${diff} ${tid(name)}`).evaluateAll((els) => els.map((e) => e.textContent));
    await until("both changes in the difference", async () =>
      (await pieces("diff-insert")).join("").trim() === "broad" && (await pieces("diff-delete")).join("").trim() === "overwhelmingly").catch(async (e) => {
      throw new Error(`${e.message}: ${await iom.page.locator(diff).innerHTML()}`);
    });
    const equal = (await pieces("diff-equal")).join("");
    assert.ok(equal.includes("Addressing") && equal.includes("raise ") && equal.includes("awareness"), equal);
    // Marked by more than colour: <ins> underlined, <del> struck through,
    // and words for screen readers around each.
    const ins = iom.page.locator(`${diff} ${tid("diff-insert")}`).first();
    const del = iom.page.locator(`${diff} ${tid("diff-delete")}`).first();
    assert.equal(await ins.evaluate((e) => e.tagName), "INS");
    assert.equal(await del.evaluate((e) => e.tagName), "DEL");
    assert.match(await ins.evaluate((e) => getComputedStyle(e).textDecorationLine), /underline/);
    assert.match(await del.evaluate((e) => getComputedStyle(e).textDecorationLine), /line-through/);
    assert.match(await ins.evaluate((e) => getComputedStyle(e, "::before").content), /insertion/);
    assert.match(await del.evaluate((e) => getComputedStyle(e, "::before").content), /deletion/);
    // Shown before the delegate confirms again: above the choices.
    const diffBox = await iom.page.locator(diff).boundingBox();
    const choices = await iom.page.locator(inEl(element.id, "position-support")).boundingBox();
    assert.ok(diffBox.y + diffBox.height <= choices.y, "the difference is below the choices");
    await shot(iom.page, "delegate-reconfirm-diff");
    await iom.page.locator(elementSel(element.id)).screenshot({ path: join(shots, "delegate-reconfirm-diff-element.png") });

    // Reconfirmed: the difference goes.
    await recordInUi(iom.page, element.id, "support");
    await waitAttr(iom.page, inEl(element.id, "own-position"), "data-stale", "false");
    await until("the difference to go", async () => (await iom.page.locator(diff).count()) === 0);
  });
});

test("an objection gone stale because someone else edited the text: the objecting delegate sees it, with what changed", async () => {
  const { d, element } = await setup();
  const reason = "The element must also name the duty to protect.";
  await withBrowser("delegate-stale-objection", async (browser) => {
    const iom = await signInWithSession(browser, delegateToken("IOM"), "iom");
    const ilo = await signInWithSession(browser, delegateToken("ILO"), "ilo");
    await waitEditor(iom.page, element.id);
    await waitEditor(ilo.page, element.id);
    await recordInUi(iom.page, element.id, "object", reason);
    await waitAttr(iom.page, inEl(element.id, "own-position"), "data-stale", "false");

    await replaceText(ilo.page, d.id, element.id, "perceptions of migrants", "perceptions of all migrants");
    await waitAttr(iom.page, inEl(element.id, "own-position"), "data-stale", "true");
    const own = await textOf(iom.page, inEl(element.id, "own-position"));
    assert.match(own, /Your objection was given on an earlier text/);
    assert.match(own, /object again or change your position/);
    const diff = inEl(element.id, "stale-diff");
    await waitAttr(iom.page, diff, "data-state", "ready");
    await until("the inserted words in the difference", async () =>
      (await iom.page.locator(`${diff} ${tid("diff-insert")}`).evaluateAll((els) => els.map((e) => e.textContent).join(""))).trim() === "all");
    assert.equal(await iom.page.locator(`${diff} ${tid("diff-delete")}`).count(), 0, "nothing was deleted");
    // The outline says so too.
    await waitAttr(iom.page, tid("outline-item", { "data-element-id": element.id }), "data-own-position", "stale");
    // With the list of comments open too: nothing for axe to object to.
    await iom.page.locator(inEl(element.id, "position-comments-toggle")).click();
    await iom.page.locator(inEl(element.id, "position-comment")).first().waitFor({ state: "visible" });
    assert.deepEqual(await axeViolations(iom.page, elementSel(element.id)), [], "axe on the element");
    await shot(iom.page, "delegate-stale-objection");
    await iom.page.locator(elementSel(element.id)).screenshot({ path: join(shots, "delegate-stale-objection-element.png") });

    // Object again, with the same reason, in two steps.
    await iom.page.locator(inEl(element.id, "object-again")).click();
    assert.equal(await iom.page.locator(inEl(element.id, "position-object")).getAttribute("aria-pressed"), "true");
    assert.equal(await iom.page.locator(inEl(element.id, "position-note")).inputValue(), reason);
    await iom.page.locator(inEl(element.id, "position-submit")).click();
    await waitAttr(iom.page, inEl(element.id, "position-feedback"), "data-state", "ok");
    await waitAttr(iom.page, inEl(element.id, "own-position"), "data-stale", "false");
    const c = (await consensus(d.id)).elements.find((e) => e.id === element.id);
    const mine = c.objections.find((o) => o.entity === "IOM");
    assert.equal(mine?.note, reason, "IOM's objection is current again, with its reason");
  });
});

test("the outline lists every element with its status and IOM's position, and jumps to an element (laptop and phone)", async () => {
  const { d, element } = await setup();
  await withBrowser("delegate-outline", async (browser) => {
    const iom = await signInWithSession(browser, delegateToken("IOM"), "iom");
    await waitEditor(iom.page, element.id);
    const c = await consensus(d.id);
    const items = iom.page.locator(tid("outline-item"));
    await until("one outline item per element", async () => (await items.count()) === d.elements.length);
    for (const e of c.elements) {
      const item = tid("outline-item", { "data-element-id": e.id });
      await waitAttr(iom.page, item, "data-status", e.status);
      const cell = e.matrix.find((m) => m.entity === "IOM");
      const own = cell.standing === "no_response" ? "none" : cell.standing === "stale" ? "stale" : cell.position;
      await waitAttr(iom.page, item, "data-own-position", own);
      const words = await textOf(iom.page, item);
      assert.ok(words.startsWith(e.label), `outline item ${words}`);
      assert.match(words, /IOM: /);
    }
    assert.match(await textOf(iom.page, tid("outline-item", { "data-element-id": element.id })), /IOM: Object/);

    const jump = async (page, target) => {
      await page.evaluate(() => window.scrollTo(0, 0));
      const link = page.locator(`${tid("outline-item", { "data-element-id": target.id })} ${tid("outline-link")}`);
      return link;
    };
    const focusedElement = (page) =>
      page.evaluate(() => document.activeElement?.closest('[data-testid="element"]')?.getAttribute("data-element-id") ?? null);
    /** The label is on screen, below the top bar, and nothing covers it. */
    const labelShown = (page, id) =>
      page.evaluate((sel) => {
        const label = document.querySelector(sel);
        const r = label.getBoundingClientRect();
        const bar = document.querySelector(".topbar")?.getBoundingClientRect().bottom ?? 0;
        if (r.top < bar - 1 || r.bottom > innerHeight) return false;
        const hit = document.elementFromPoint(r.left + Math.min(10, r.width / 2), r.top + r.height / 2);
        return !!hit && label.contains(hit);
      }, `${elementSel(id)} ${tid("element-label")}`);

    // Laptop: the last element, far down the page.
    const last = d.elements[d.elements.length - 1];
    const link = await jump(iom.page, last);
    assert.equal(await labelShown(iom.page, last.id), false, "the last element is on screen before the jump");
    await link.click();
    await until("the focus on the last element", async () => (await focusedElement(iom.page)) === last.id);
    await until("the last element's label on screen, uncovered", () => labelShown(iom.page, last.id), 5000);
    await shot(iom.page, "delegate-outline-jump");

    // Phone: the outline is in the page flow (above the text, covering
    // nothing), and a tap jumps.
    const phone = await phonePage(browser, delegateToken("IOM"), "iom-phone");
    await waitEditor(phone.page, element.id);
    await phone.page.locator(tid("outline")).waitFor();
    const position = await phone.page.locator(tid("outline")).evaluate((n) => {
      let p = "static";
      for (let e = n; e; e = e.parentElement) {
        const s = getComputedStyle(e).position;
        if (s === "fixed" || s === "sticky") p = s;
      }
      return p;
    });
    assert.equal(position, "static", "the outline (or its panel) floats over the text on a phone");
    const outlineBox = await phone.page.locator(tid("outline")).boundingBox();
    assert.ok(outlineBox.x >= 0 && outlineBox.x + outlineBox.width <= 390.5, `the outline fits the phone: ${JSON.stringify(outlineBox)}`);
    const phoneLink = await jump(phone.page, element);
    await phoneLink.scrollIntoViewIfNeeded();
    await shot(phone.page, "delegate-outline-phone");
    await phone.page.locator(tid("outline")).evaluate((el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 60));
    await phone.page.screenshot({ path: join(shots, "delegate-outline-phone-screen.png") });
    await phoneLink.tap();
    await until("the focus on (e) on the phone", async () => (await focusedElement(phone.page)) === element.id);
    await until("(e)'s label on screen, uncovered, on the phone", () => labelShown(phone.page, element.id), 5000);
  });
});

test("adoption clears “Recorded: …”", async () => {
  const { d, element, codes } = await setup();
  await withBrowser("delegate-adopted", async (browser) => {
    const iom = await signInWithSession(browser, delegateToken("IOM"), "iom");
    await waitEditor(iom.page, element.id);
    // Everyone else supports; IOM's support (replacing its objection) makes
    // the element agreed.
    await Promise.all(codes.filter((x) => x !== "IOM").map((x) => putPosition(d.id, element.id, x, "support")));
    await recordInUi(iom.page, element.id, "support");
    await waitAttr(iom.page, inEl(element.id, "element-status"), "data-status", "agreed");
    assert.equal(await iom.page.locator(inEl(element.id, "position-feedback")).count(), 1, "the confirmation went before adoption");

    const adopted = await api("POST", `/api/v1/drafts/${d.id}/elements/${element.id}/adopt`, undefined, chairToken);
    assert.ok(adopted.status < 300, `adopting: ${adopted.status} ${adopted.text}`);
    await waitAttr(iom.page, inEl(element.id, "element-status"), "data-status", "adopted");
    await until("the confirmation to go on adoption", async () =>
      (await iom.page.locator(inEl(element.id, "position-feedback")).count()) === 0, 5000);

    // Leave (e) open again for whoever comes next.
    const reopened = await api("POST", `/api/v1/drafts/${d.id}/elements/${element.id}/reopen`, undefined, chairToken);
    assert.ok(reopened.status < 300, `reopening: ${reopened.status} ${reopened.text}`);
    await waitAttr(iom.page, inEl(element.id, "element-status"), "data-status", "agreed");
  });
});
