// A delegate loses the connection, types, and comes back: the connection
// state and the save state say so, and the text syncs to the server and to
// another delegate's browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  apiElement,
  attr,
  editorText,
  elementAt,
  elementSel,
  shot,
  signIn,
  tid,
  until,
  waitAttr,
  waitEditor,
  withBrowser,
} from "./lib.mjs";

/** Goes offline with `goOffline`, types `typed` at the end of the element,
 *  checks the offline state, comes back with `goOnline`, checks the sync. */
async function roundTrip({ me, other, id, typed, goOffline, goOnline, name }) {
  const before = await editorText(me.page, id);
  await goOffline();
  await waitAttr(me.page, tid("connection"), "data-state", "offline");
  await me.page.locator(`${elementSel(id)} ${tid("element-editor")} .cm-content`).click();
  await me.page.keyboard.press("Control+End");
  await me.page.keyboard.type(typed, { delay: 20 });
  const local = await editorText(me.page, id);
  assert.equal(local, before + typed);
  // Not saved while offline, and nothing reached anyone.
  await waitAttr(me.page, tid("connection"), "data-state", "offline");
  const saveState = await attr(me.page, tid("save-state"), "data-state");
  assert.ok(["unsaved", "saving"].includes(saveState), `save-state while offline: ${saveState}`);
  await me.page.waitForTimeout(500);
  assert.equal((await apiElement(id)).text, before, "an offline edit reached the server");
  assert.equal(await editorText(other.page, id), before, "an offline edit reached another browser");
  await shot(me.page, `${name}-offline`);

  await goOnline();
  await waitAttr(me.page, tid("connection"), "data-state", "connected");
  await until("the API to show the offline edit", async () => (await apiElement(id)).text === local);
  await until("the other browser to show the offline edit", async () =>
    (await editorText(other.page, id)) === local);
  await waitAttr(me.page, tid("save-state"), "data-state", "saved");
  await shot(me.page, `${name}-back-online`);
}

test("edits made offline sync on reconnect", async () => {
  const { element } = await elementAt(2);
  await withBrowser("offline", async (browser) => {
    const iom = await signIn(browser, "offline_iom", "IOM");
    const ilo = await signIn(browser, "offline_ilo", "ILO");
    await waitEditor(iom.page, element.id);
    await waitEditor(ilo.page, element.id);
    await until("both editors to show the text", async () =>
      (await editorText(iom.page, element.id)) === element.text &&
      (await editorText(ilo.page, element.id)) === element.text);

    // The app's own switch (the test hook).
    await roundTrip({
      me: iom,
      other: ilo,
      id: element.id,
      typed: " (offline edit)",
      goOffline: () => iom.page.evaluate(() => window.__accord.setOnline(false)),
      goOnline: () => iom.page.evaluate(() => window.__accord.setOnline(true)),
      name: "offline-hook",
    });

    // The browser's network cut off (Playwright's offline emulation, which
    // also fires the window's offline/online events).
    await roundTrip({
      me: ilo,
      other: iom,
      id: element.id,
      typed: " (network down)",
      goOffline: () => ilo.context.setOffline(true),
      goOnline: () => ilo.context.setOffline(false),
      name: "offline-network",
    });
  });
});
