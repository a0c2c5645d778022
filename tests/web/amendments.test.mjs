// Amendments and comments in real browsers: a delegate selects a passage
// and proposes an amendment; it shows inline in every browser, live; a
// delegate of another entity co-sponsors it; the chair accepts it on the
// board and every browser shows the new text. The chair sets an element to
// `amendments` mode and a delegate's editor turns read-only. A comment with
// a mention gets a reply and is resolved. The reading view links the
// compilation exports.
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
  delegateToken,
  draft,
  editorText,
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

const TEXT = "Member states should ensure genuine choice for all migrants, in law and in practice.";
const PASSAGE = "genuine choice";
const REPLACEMENT = "informed choice";
const AFTER = TEXT.replace(PASSAGE, REPLACEMENT);
const MODE_TEXT = "Delegations may propose wording on this paragraph only through amendments.";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's violations of impact moderate or worse on `page`, in words
 * (the same rule as a11y.test.mjs, here with amendments and comments on
 * screen: that test runs after these elements are archived). */
async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v) => ["moderate", "serious", "critical"].includes(v.impact))
      .map((v) => `[${v.impact}] ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  return found;
}

async function click(page, sel) {
  const loc = page.locator(sel).first();
  await loc.waitFor({ timeout: 20000 });
  await loc.click();
}

/** Selects `[from, to)` of element `id`'s text with the mouse (a drag from
 * one character to the other, positions from CodeMirror's own layout). */
async function selectWithMouse(page, id, from, to) {
  const sel = `${elementSel(id)} ${tid("element-editor")} .cm-content`;
  const coords = await page.evaluate(
    ({ sel, from, to }) => {
      const content = document.querySelector(sel);
      const view = content?.cmTile?.root?.view ?? content?.cmView?.view ?? content?.cmView?.rootView?.view;
      if (!view) throw new Error("no CodeMirror EditorView");
      view.dom.scrollIntoView({ block: "center" });
      const a = view.coordsAtPos(from, 1);
      const b = view.coordsAtPos(to, -1);
      return { a: { x: a.left + 1, y: (a.top + a.bottom) / 2 }, b: { x: b.right - 1, y: (b.top + b.bottom) / 2 } };
    },
    { sel, from, to },
  );
  await page.mouse.move(coords.a.x, coords.a.y);
  await page.mouse.down();
  await page.mouse.move(coords.b.x, coords.b.y, { steps: 5 });
  await page.mouse.up();
  return page.evaluate((sel) => {
    const content = document.querySelector(sel);
    const view = content?.cmTile?.root?.view ?? content?.cmView?.view ?? content?.cmView?.rootView?.view;
    const { from, to } = view.state.selection.main;
    return view.state.sliceDoc(from, to);
  }, sel);
}

async function addElement(draftId, label, text) {
  const r = await api("POST", `/api/v1/drafts/${draftId}/elements`, { label, text, position: null });
  assert.equal(r.status, 201, `adding ${label}: ${r.status} ${r.text}`);
  return r.json;
}

test("amendments: proposed by selection, seen and sponsored live, accepted on the board; amendments mode; comments", async () => {
  const d = await draft();
  const el = await addElement(d.id, "(am)", TEXT);
  const modeEl = await addElement(d.id, "(am2)", MODE_TEXT);
  try {
    await withBrowser("amendments", async (browser) => {
      const iom = await signInWithSession(browser, delegateToken("IOM"), "IOM");
      const ilo = await signInWithSession(browser, delegateToken("ILO"), "ILO");
      const chair = await signInWithSession(browser, chairToken, "chair");
      for (const p of [iom, ilo, chair]) await waitEditor(p.page, el.id);

      // IOM selects the passage with the mouse and proposes a replacement.
      const start = TEXT.indexOf(PASSAGE);
      await until("IOM's editor to hold the text", async () => (await editorText(iom.page, el.id)) === TEXT);
      const selected = await selectWithMouse(iom.page, el.id, start, start + PASSAGE.length);
      assert.equal(selected, PASSAGE, "the mouse selected the passage");
      const card = (p) => p.page.locator(elementSel(el.id));
      const threads = (p) => p.page.locator(`${elementSel(el.id)} ${tid("comments")}`);
      await card(iom).locator(tid("propose-amendment")).click();
      await card(iom).locator(tid("propose-passage")).waitFor();
      assert.match(await card(iom).locator(tid("propose-passage")).innerText(), /genuine choice/);
      await card(iom).locator(tid("amendment-text")).fill(REPLACEMENT);
      await card(iom).locator(tid("amendment-reason")).fill("Choice must be informed to be genuine.");
      await shot(iom.page, "amendments-propose-form");
      await card(iom).locator(tid("amendment-submit")).click();
      await waitAttr(iom.page, `${elementSel(el.id)} ${tid("propose-feedback")}`, "data-state", "ok");

      const listed = await until("the API to list IOM's amendment", async () => {
        const r = await apiJson(`/api/v1/drafts/${d.id}/amendments?element=${el.id}`);
        return r.amendments.find((a) => a.entity === "IOM" && a.state === "open");
      });
      assert.equal(listed.original, PASSAGE, "the server anchored the selected passage");
      assert.equal(listed.text, REPLACEMENT);

      // Inline in every browser, live: the passage struck through, the
      // replacement after it, in IOM's colour, naming IOM.
      const inline = (p) => card(p).locator(`${tid("element-editor")} .cm-amend-ins[data-entity="IOM"]`);
      const struck = (p) => card(p).locator(`${tid("element-editor")} .cm-amend-del`);
      for (const p of [iom, ilo, chair]) {
        await inline(p).waitFor({ timeout: 20000 });
        assert.match(await inline(p).innerText(), /informed choice/);
        assert.equal(await struck(p).first().innerText(), PASSAGE);
      }
      // The editors' text itself is unchanged: amendments are decorations.
      assert.equal(await editorText(ilo.page, el.id), TEXT);
      await shot(ilo.page, "amendments-ilo-sees-inline");
      await card(ilo).screenshot({ path: join(shots, "amendments-ilo-element.png") });

      // ILO co-sponsors; both browsers see two sponsors.
      const item = (p) => card(p).locator(tid("amendment", { "data-entity": "IOM" }));
      assert.equal(await item(iom).locator(tid("amendment-sponsor")).count(), 0, "the proposer cannot sponsor its own");
      await item(ilo).locator(tid("amendment-sponsor")).click();
      for (const p of [iom, ilo]) await waitAttr(p.page, `${elementSel(el.id)} ${tid("amendment", { "data-entity": "IOM" })}`, "data-sponsors", "IOM ILO");
      await item(ilo).locator(tid("amendment-unsponsor")).waitFor();

      // The chair accepts it on the board.
      await chair.page.locator(tid("open-board")).click();
      const panel = chair.page.locator(tid("board-element", { "data-element-id": el.id }));
      await panel.locator(tid("amendment", { "data-entity": "IOM" })).waitFor();
      assert.match(await panel.locator(tid("amendment-sponsors")).innerText(), /2 sponsors: IOM, ILO/);
      await shot(chair.page, "amendments-board");
      await panel.screenshot({ path: join(shots, "amendments-board-element.png") });
      await panel.locator(tid("amendment-accept")).click();
      await waitAttr(chair.page, `${tid("board-element", { "data-element-id": el.id })} ${tid("amendment-feedback")}`, "data-state", "ok").catch(async (e) => {
        // the list empties once accepted: the feedback goes with it
        if ((await panel.locator(tid("amendment")).count()) !== 0) throw e;
      });
      for (const p of [iom, ilo]) {
        await until(`${p === iom ? "IOM" : "ILO"}'s editor to show the accepted text`, async () => (await editorText(p.page, el.id)) === AFTER);
        await until("the amendment to leave the list", async () => (await item(p).count()) === 0);
        assert.equal(await inline(p).count(), 0, "no inline amendment after acceptance");
      }
      const accepted = (await apiJson(`/api/v1/drafts/${d.id}/amendments?element=${el.id}`)).amendments.find((a) => a.id === listed.id);
      assert.equal(accepted.state, "accepted");
      assert.equal((await apiJson(`/api/v1/drafts/${d.id}`)).elements.find((e) => e.id === el.id).text, AFTER);

      // A second amendment, then an edit inside its passage: every browser
      // marks it conflicting, the board refuses to accept it, and its
      // proposer re-anchors it on the new words, then withdraws it.
      const second = "in law and in practice";
      const at = AFTER.indexOf(second);
      assert.equal(await selectWithMouse(iom.page, el.id, at, at + second.length), second);
      await card(iom).locator(tid("propose-amendment")).click();
      await card(iom).locator(tid("amendment-text")).fill("as a matter of law");
      await card(iom).locator(tid("amendment-reason")).fill("Practice follows the law.");
      await card(iom).locator(tid("amendment-submit")).click();
      await waitAttr(iom.page, `${elementSel(el.id)} ${tid("propose-feedback")}`, "data-state", "ok");
      const open2 = `${elementSel(el.id)} ${tid("amendment", { "data-entity": "IOM" })}`;
      await waitAttr(ilo.page, open2, "data-state", "open");
      // ILO types inside the passage ("in law and in practice" → "in law and also in practice").
      await ilo.page.evaluate(
        ({ sel, pos }) => {
          const content = document.querySelector(sel);
          const view = content?.cmTile?.root?.view ?? content?.cmView?.view ?? content?.cmView?.rootView?.view;
          view.dispatch({ changes: { from: pos, insert: "also " }, userEvent: "input.type" });
        },
        { sel: `${elementSel(el.id)} ${tid("element-editor")} .cm-content`, pos: at + "in law and ".length },
      );
      for (const p of [iom, ilo]) {
        await waitAttr(p.page, open2, "data-state", "conflict");
        await card(p).locator(`${tid("element-editor")} .cm-amend-conflict`).first().waitFor();
      }
      await chair.page.locator(tid("board-element", { "data-element-id": el.id })).locator(tid("amendment", { "data-state": "conflict" })).waitFor();
      await waitAttr(chair.page, `${tid("board-element", { "data-element-id": el.id })} ${tid("amendment-accept")}`, "aria-disabled", "true");
      await until("the server to see the conflict", async () => {
        const r = await apiJson(`/api/v1/drafts/${d.id}/amendments?element=${el.id}&state=conflict`);
        return r.amendments.length === 1;
      });
      await shot(iom.page, "amendments-conflict");
      await card(iom).screenshot({ path: join(shots, "amendments-conflict-element.png") });
      await threads(ilo).locator(tid("comments-toggle")).click();
      assert.deepEqual(await axeViolations(ilo.page), [], "axe on the draft view with amendments (conflicting) and comments open");
      await threads(ilo).locator(tid("comments-toggle")).click();
      assert.deepEqual(await axeViolations(chair.page), [], "axe on the board with a conflicting amendment");
      const third = "in law and also in practice";
      const at3 = (await editorText(iom.page, el.id)).indexOf(third);
      assert.equal(await selectWithMouse(iom.page, el.id, at3, at3 + third.length), third);
      await card(iom).locator(tid("amendment-reanchor")).click();
      for (const p of [iom, ilo]) await waitAttr(p.page, open2, "data-state", "open");
      // The compilation text carries it, re-anchored, with its sponsor.
      const compilation = await api("GET", `/api/v1/drafts/${d.id}/export?format=compilation-md`);
      assert.equal(compilation.status, 200, `compilation-md: ${compilation.text}`);
      const line = compilation.text.split("\n").find((l) => l.includes("as a matter of law"));
      assert.ok(line, "the pending amendment in the compilation text");
      assert.ok(line.includes(third) && line.includes("IOM"), `the passage and the sponsor in the compilation: ${line}`);
      await card(iom).locator(tid("amendment-withdraw")).click();
      for (const p of [iom, ilo]) await until("the withdrawn amendment to leave", async () => (await p.page.locator(open2).count()) === 0);
      await until("the board to drop it", async () => (await panel.locator(tid("amendment")).count()) === 0);
      assert.equal(
        (await apiJson(`/api/v1/drafts/${d.id}/amendments?element=${el.id}`)).amendments.filter((a) => a.state === "withdrawn").length,
        1,
        "the second amendment is withdrawn",
      );

      // Back to the draft: the chair sets the second element to amendments
      // only; IOM's editor turns read-only with the note, ILO's too.
      await chair.page.goto(`${base}/`);
      await waitEditor(chair.page, modeEl.id);
      await waitEditor(iom.page, modeEl.id);
      const modeSel = `${elementSel(modeEl.id)} ${tid("element-editor")}`;
      await waitAttr(iom.page, modeSel, "data-readonly", "false");
      await chair.page.locator(`${elementSel(modeEl.id)} ${tid("element-mode")}`).selectOption("amendments");
      for (const p of [iom, ilo]) {
        await waitAttr(p.page, modeSel, "data-readonly", "true");
        await p.page.locator(`${elementSel(modeEl.id)} ${tid("amendments-only-note")}`).waitFor();
      }
      // The chair may still type.
      await waitAttr(chair.page, modeSel, "data-readonly", "false");
      // Typing in IOM's editor changes nothing.
      await iom.page.locator(`${modeSel} .cm-content`).click();
      await iom.page.keyboard.type("XYZ");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await editorText(iom.page, modeEl.id), MODE_TEXT, "a delegate typed into an amendments-only element");
      // Proposing still works there: a caret is enough to insert.
      assert.equal(await iom.page.locator(`${elementSel(modeEl.id)} ${tid("propose-amendment")}`).count(), 1);
      await shot(iom.page, "amendments-mode-readonly");
      await iom.page.locator(elementSel(modeEl.id)).screenshot({ path: join(shots, "amendments-mode-element.png") });

      // The chair proposes for UNDP on the amendments-only element, then
      // rejects it with a reason: IOM sees it come and go.
      const word = "only through amendments";
      const wat = MODE_TEXT.indexOf(word);
      assert.equal(await selectWithMouse(chair.page, modeEl.id, wat, wat + word.length), word);
      const chairCard = chair.page.locator(elementSel(modeEl.id));
      await chairCard.locator(tid("propose-amendment")).click();
      await chairCard.locator(tid("amendment-entity")).selectOption("UNDP");
      await chairCard.locator(tid("amendment-text")).fill("through amendments or comments");
      await chairCard.locator(tid("amendment-reason")).fill("Comments help too.");
      await chairCard.locator(tid("amendment-submit")).click();
      await waitAttr(chair.page, `${elementSel(modeEl.id)} ${tid("propose-feedback")}`, "data-state", "ok");
      const undp = `${elementSel(modeEl.id)} ${tid("amendment", { "data-entity": "UNDP" })}`;
      await iom.page.locator(undp).waitFor();
      await iom.page.locator(`${elementSel(modeEl.id)} ${tid("element-editor")} .cm-amend-ins[data-entity="UNDP"]`).waitFor();
      await chair.page.locator(`${undp} ${tid("amendment-reject")}`).click();
      await chair.page.locator(`${undp} ${tid("amendment-reject-reason")}`).fill("Out of scope for this paragraph.");
      await chair.page.locator(`${undp} ${tid("amendment-reject-submit")}`).click();
      await until("the rejected amendment to leave IOM's view", async () => (await iom.page.locator(undp).count()) === 0);
      const rejected = (await apiJson(`/api/v1/drafts/${d.id}/amendments?element=${modeEl.id}`)).amendments;
      assert.equal(rejected.length, 1);
      assert.equal(rejected[0].entity, "UNDP");
      assert.equal(rejected[0].state, "rejected");
      assert.equal(rejected[0].decision_reason, "Out of scope for this paragraph.");

      // Comments: ILO comments with a mention, IOM replies, ILO resolves.
      await threads(ilo).locator(tid("comments-toggle")).click();
      await threads(ilo).locator(tid("comment-input")).fill("@IOM could the reason say who informs?");
      await threads(ilo).locator(tid("comment-submit")).click();
      await waitAttr(ilo.page, `${elementSel(el.id)} ${tid("comment-feedback")}`, "data-state", "ok");
      await threads(iom).locator(tid("comments-toggle")).click();
      const thread = (p) => threads(p).locator(tid("comment-thread"));
      await thread(iom).first().waitFor();
      assert.equal(await thread(iom).first().locator(tid("mention")).innerText(), "@IOM");
      assert.equal(await thread(iom).first().locator(tid("comment-resolve")).count(), 0, "only the author or a chair resolves");
      await thread(iom).first().locator(tid("comment-reply-open")).click();
      await thread(iom).first().locator(tid("comment-reply-text")).fill("The States, through their consular services.");
      await thread(iom).first().locator(tid("comment-reply-submit")).click();
      await thread(ilo).first().locator(tid("comment-reply")).waitFor({ timeout: 20000 });
      assert.match(await thread(ilo).first().locator(tid("comment-reply")).innerText(), /consular services/);
      await shot(ilo.page, "amendments-comments");
      await threads(ilo).screenshot({ path: join(shots, "amendments-comments-thread.png") });
      await thread(ilo).first().locator(tid("comment-resolve")).click();
      await waitAttr(iom.page, `${elementSel(el.id)} ${tid("comment-thread")}`, "data-resolved", "true");
      const comments = await apiJson(`/api/v1/drafts/${d.id}/elements/${el.id}/comments`);
      assert.equal(comments.comments.length, 1);
      assert.equal(comments.comments[0].replies.length, 1);
      assert.ok(comments.comments[0].resolved_at, "the thread is resolved");
      assert.deepEqual(comments.comments[0].mentions.entities, ["IOM"]);

      // The timeline words the new events.
      await iom.page.goto(`${base}/drafts/${encodeURIComponent(d.id)}/history?element=${encodeURIComponent(el.id)}`);
      await iom.page.locator(tid("timeline-end")).waitFor({ timeout: 20000 });
      for (const type of ["amendment_proposed", "amendment_sponsored", "amendment_accepted", "comment_added", "comment_resolved"]) {
        const entry = iom.page.locator(tid("timeline-item", { "data-type": type })).first();
        await entry.waitFor();
        assert.doesNotMatch(await entry.innerText(), /amendment proposed|comment added/, `${type} in words`);
      }

      // Reading the draft just before the acceptance shows IOM's amendment
      // pending then, with its sponsors.
      const before = new Date(Date.parse(accepted.decided_at) - 1).toISOString();
      await iom.page.goto(`${base}/drafts/${encodeURIComponent(d.id)}/read?at=${before}`);
      const then = iom.page.locator(`${tid("reading-element", { "data-element-id": el.id })} ${tid("reading-amendment", { "data-amendment-id": String(listed.id) })}`);
      await then.waitFor({ timeout: 20000 });
      assert.match(await then.innerText(), /IOM, ILO/);
      assert.equal(await iom.page.locator(`${tid("reading-element", { "data-element-id": el.id })} ${tid("reading-element-text")}`).innerText(), TEXT);

      // The reading view links the compilation exports.
      await iom.page.goto(`${base}/drafts/${encodeURIComponent(d.id)}/read`);
      const link = iom.page.locator(tid("export-compilation-md"));
      await link.waitFor();
      const href = await link.getAttribute("href");
      assert.match(href, /format=compilation-md/);
      const exported = await api("GET", href);
      assert.equal(exported.status, 200, `the compilation link: ${exported.text}`);
      assert.match(exported.text, /informed choice/);
      assert.match(await iom.page.locator(tid("export-compilation-html")).getAttribute("href"), /format=compilation-html/);
    });
  } finally {
    // Leave the draft as the other tests expect it.
    for (const e of [el, modeEl]) await api("DELETE", `/api/v1/drafts/${d.id}/elements/${e.id}`);
  }
});
