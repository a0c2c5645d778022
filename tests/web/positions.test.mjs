// A delegate records a reservation with a note; another delegate's browser
// sees the positions strip change without a reload.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  consensus,
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

test("a reservation with a note shows in another browser's strip live", async () => {
  const { draft, element } = await elementAt(1);
  const note = "Subject to consultation with our governing body.";
  await withBrowser("positions", async (browser) => {
    const iom = await signIn(browser, "positions_iom", "IOM");
    const ilo = await signIn(browser, "positions_ilo", "ILO");
    await waitEditor(iom.page, element.id);
    await waitEditor(ilo.page, element.id);
    const cell = `${elementSel(element.id)} ${tid("positions-strip")} ${tid("position-cell", { "data-entity": "ILO" })}`;
    await iom.page.locator(cell).waitFor();
    assert.notEqual(await iom.page.locator(cell).getAttribute("data-position"), "reservation");

    // A marker that a reload would wipe.
    await iom.page.evaluate(() => { window.__notReloaded = true; });

    const controls = ilo.page.locator(`${elementSel(element.id)} ${tid("position-controls")}`);
    await controls.locator(tid("position-reservation")).click();
    await controls.locator(tid("position-note")).fill(note);
    await shot(ilo.page, "positions-form");
    await controls.locator(tid("position-submit")).click();
    await waitAttr(ilo.page, `${elementSel(element.id)} ${tid("position-feedback")}`, "data-state", "ok");

    // The other browser, never reloaded, shows ILO's reservation.
    await waitAttr(iom.page, cell, "data-position", "reservation");
    assert.equal(await iom.page.evaluate(() => window.__notReloaded), true, "the page was reloaded");
    // The delegate's own position is current.
    await waitAttr(ilo.page, `${elementSel(element.id)} ${tid("own-position")}`, "data-stale", "false");

    // The server recorded it with the note, for ILO.
    const row = await until("the consensus API to show ILO's reservation", async () => {
      const c = await consensus(draft.id);
      const e = c.elements.find((x) => x.id === element.id);
      const r = e.matrix.find((m) => m.entity === "ILO");
      return r?.position === "reservation" && r.standing === "current" ? r : null;
    });
    assert.equal(row.note, note);
    await shot(iom.page, "positions-iom-sees-reservation");
    await shot(ilo.page, "positions-ilo");
  });
});
