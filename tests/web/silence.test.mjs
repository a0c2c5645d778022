// The chair starts silence through the API: the element turns read-only in
// the delegates' browsers live; an edit that reaches the server after the
// lock is reverted and its author sees the server's notice.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  api,
  apiElement,
  consensus,
  dispatchInsert,
  draft as getDraft,
  editorText,
  elementSel,
  shot,
  signIn,
  tid,
  until,
  waitAttr,
  waitEditor,
  withBrowser,
} from "./lib.mjs";

/** A deadline `minutes` ahead of the server's (test) clock. */
async function deadlineIn(draftId, minutes) {
  const now = Date.parse((await consensus(draftId)).server_time);
  return new Date(now + minutes * 60_000).toISOString();
}

async function startSilence(draftId, elementId) {
  const deadline = await deadlineIn(draftId, 30);
  const r = await api("POST", `/api/v1/drafts/${draftId}/silence`, {
    elements: [elementId],
    deadline,
  });
  assert.equal(r.status, 201, `starting silence: ${r.status} ${r.text}`);
}

/** The text of element `id`'s notice ("" when there is none). */
async function noticeText(page, id) {
  const notice = page.locator(`${elementSel(id)} ${tid("element-notice")}`);
  return (await notice.count()) === 0 ? "" : (await notice.first().innerText()).trim();
}

/** Elements of the draft silence may start on (open, not bracketed). */
async function silenceable(draftId, skip) {
  const c = await consensus(draftId);
  return c.elements.filter((e) => e.status === "open" && !e.bracketed && !skip.includes(e.label));
}

test("silence locks the element live; an edit racing the lock is reverted with a notice", async () => {
  const d = await getDraft();
  // Elements (a)–(e) belong to the other tests.
  const candidates = await silenceable(d.id, ["(a)", "(b)", "(c)", "(d)", "(e)"]);
  assert.ok(candidates.length >= 2, `two open elements among (f)–(h): ${JSON.stringify(candidates.map((e) => [e.label, e.status]))}`);
  const [live, raced] = candidates;
  await withBrowser("silence", async (browser) => {
    const iom = await signIn(browser, "silence_iom", "IOM");
    const ilo = await signIn(browser, "silence_ilo", "ILO");
    for (const { page } of [iom, ilo]) {
      await waitEditor(page, live.id);
      await waitEditor(page, raced.id);
    }
    const editorSel = (id) => `${elementSel(id)} ${tid("element-editor")}`;
    const statusSel = (id) => `${elementSel(id)} ${tid("element-status")}`;
    await waitAttr(iom.page, editorSel(live.id), "data-readonly", "false");

    // 1. Silence on `live`: both delegates' editors turn read-only, the
    //    status says so, and typing changes nothing.
    await startSilence(d.id, live.id);
    for (const { page } of [iom, ilo]) {
      await waitAttr(page, statusSel(live.id), "data-status", "under_silence");
      await waitAttr(page, editorSel(live.id), "data-readonly", "true");
    }
    const lockedLive = (await apiElement(live.id)).text;
    await iom.page.locator(`${editorSel(live.id)} .cm-content`).click();
    await iom.page.keyboard.type("xyz");
    await iom.page.waitForTimeout(500);
    assert.equal(await editorText(iom.page, live.id), lockedLive, "a read-only editor took keystrokes");
    assert.equal(await noticeText(iom.page, live.id), "", "a notice before any edit reached the server");
    await shot(iom.page, "silence-read-only");

    // 2. The race: ILO's keystroke is made while its browser is offline, so
    //    the editor takes it; silence starts; the browser reconnects and
    //    the change reaches the server after the lock.
    const original = (await apiElement(raced.id)).text;
    await ilo.page.evaluate(() => window.__accord.setOnline(false));
    await waitAttr(ilo.page, tid("connection"), "data-state", "offline");
    await ilo.page.locator(`${editorSel(raced.id)} .cm-content`).click();
    await ilo.page.keyboard.press("Control+End");
    await ilo.page.keyboard.type(" racing");
    assert.equal(await editorText(ilo.page, raced.id), original + " racing");
    await startSilence(d.id, raced.id);
    assert.equal(await noticeText(ilo.page, raced.id), "", "a notice before the edit reached the server");
    await ilo.page.evaluate(() => window.__accord.setOnline(true));
    await waitAttr(ilo.page, tid("connection"), "data-state", "connected");
    await waitAttr(ilo.page, statusSel(raced.id), "data-status", "under_silence");
    await waitAttr(ilo.page, editorSel(raced.id), "data-readonly", "true");
    await until("the lock notice in words", async () => (await noticeText(ilo.page, raced.id)) !== "");
    await until("the editor to show the locked text again", async () =>
      (await editorText(ilo.page, raced.id)) === original);
    await until("the API to keep the locked text", async () => (await apiElement(raced.id)).text === original);
    await shot(ilo.page, "silence-race-notice");

    // 3. A change made on the read-only editor anyway, while online: a
    //    transaction dispatched on the view (read-only stops user input,
    //    not transactions), as a keystroke that slipped through would be.
    //    It reaches the server after the lock: reverted, notice shown.
    await dispatchInsert(iom.page, live.id, "end", " sneaky");
    await until("the lock notice on the other element", async () => (await noticeText(iom.page, live.id)) !== "");
    await until("the dispatched change to be undone in the editor", async () =>
      (await editorText(iom.page, live.id)) === lockedLive);
    await until("the API to keep the locked text", async () => (await apiElement(live.id)).text === lockedLive);
    await shot(iom.page, "silence-dispatched-edit-reverted");
  });
});
