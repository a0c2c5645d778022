// Reviewers open the same view but have no position controls and cannot
// type.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  apiElement,
  editorText,
  elementAt,
  elementSel,
  shot,
  signIn,
  tid,
  waitAttr,
  waitEditor,
  withBrowser,
} from "./lib.mjs";

test("a reviewer sees the draft but cannot type or state positions", async () => {
  const { draft, element } = await elementAt(3);
  await withBrowser("reviewer", async (browser) => {
    const { page } = await signIn(browser, "reviewer", "reviewer");
    await page.locator(tid("draft-title")).waitFor();
    assert.equal((await page.locator(tid("draft-title")).innerText()).trim(), draft.title);
    assert.equal(await page.locator(tid("element")).count(), draft.elements.length);
    const editor = await waitEditor(page, element.id);
    const before = (await apiElement(element.id)).text;
    await waitAttr(page, `${elementSel(element.id)} ${tid("element-editor")}`, "data-readonly", "true");
    assert.equal(await editorText(page, element.id), before);

    await editor.click();
    await page.keyboard.press("Control+End");
    await page.keyboard.type("reviewer was here");
    await page.keyboard.press("Backspace");
    await page.waitForTimeout(800);
    assert.equal(await editorText(page, element.id), before, "the reviewer's keystrokes changed the editor");
    assert.equal((await apiElement(element.id)).text, before, "the reviewer's keystrokes reached the server");
    assert.equal(await page.locator(tid("position-controls")).count(), 0, "position-controls shown to a reviewer");
    // The positions strip is there to read.
    assert.ok((await page.locator(tid("positions-strip")).count()) > 0, "no positions-strip");
    await shot(page, "reviewer");
  });
});
