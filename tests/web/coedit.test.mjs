// Two delegates of different entities, in two browser contexts, type in the
// same element at the same time; both editors end with the same merged text,
// and the server stores exactly that text.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  apiElement,
  editorText,
  elementAt,
  shot,
  signIn,
  tid,
  until,
  waitEditor,
  withBrowser,
} from "./lib.mjs";

test("two delegates type in the same element at once and converge", async () => {
  const { element } = await elementAt(0);
  await withBrowser("coedit", async (browser) => {
    const iom = await signIn(browser, "coedit_iom", "IOM");
    const ilo = await signIn(browser, "coedit_ilo", "ILO");
    const a = await waitEditor(iom.page, element.id);
    const b = await waitEditor(ilo.page, element.id);
    await until("both editors to show the element's text", async () =>
      (await editorText(iom.page, element.id)) === element.text &&
      (await editorText(ilo.page, element.id)) === element.text);

    // IOM types at the start, ILO at the end, keystroke by keystroke, at the
    // same time.
    const front = "Affirming ";
    const back = " and welcoming cooperation";
    await a.click();
    await iom.page.keyboard.press("Control+Home");
    await b.click();
    await ilo.page.keyboard.press("Control+End");
    await Promise.all([
      iom.page.keyboard.type(front, { delay: 40 }),
      ilo.page.keyboard.type(back, { delay: 40 }),
    ]);

    let merged;
    await until("both editors to converge on a text with both insertions", async () => {
      const ta = await editorText(iom.page, element.id);
      const tb = await editorText(ilo.page, element.id);
      if (ta === tb && ta.includes(front) && ta.includes(back)) merged = ta;
      return merged !== undefined;
    });
    assert.equal(merged, front + element.text + back);

    // Each sees the other online.
    await iom.page.locator(tid("presence-user", { "data-entity": "ILO" })).first().waitFor();
    await ilo.page.locator(tid("presence-user", { "data-entity": "IOM" })).first().waitFor();

    // The server has stored the same text, and both browsers say so.
    await until("the API to show the merged text", async () =>
      (await apiElement(element.id)).text === merged);
    for (const { page } of [iom, ilo]) {
      await page.locator(tid("save-state", { "data-state": "saved" })).waitFor({ timeout: 20000 });
    }
    await shot(iom.page, "coedit-iom");
    await shot(ilo.page, "coedit-ilo");
  });
});
