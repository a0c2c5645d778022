// The accessibility audit: axe-core (the maintained npm package, pinned in
// package.json) run in the page on every view of the app, each as the role
// that sees it — the signed-out page and a refused sign-in link, the
// delegate's draft view, the chair's board and its projector mode, and the
// history views (timeline, reading, compare, who wrote what). No violation
// of impact moderate, serious or critical is allowed; a failure prints each
// violation's rule id, the elements it found and axe's help text.
//
// Read-only on the shared server: nothing is typed, recorded or clicked
// that changes a draft (the refused invite changes nothing either).
// tests/e2e.rs runs this file last, so that the views show what the other
// tests recorded (positions, objections, silences, versions, revisions).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import assert from "node:assert/strict";
import { api, apiJson, base, chairToken, delegateToken, draft, newPage, shot, tid, until, withBrowser } from "./lib.mjs";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const BLOCKING = new Set(["moderate", "serious", "critical"]);

/** An entity of the draft no other browser test signs in for. */
async function quietEntity() {
  const d = await draft();
  return { d, entity: d.entities[d.entities.length - 2].code };
}

/** Runs axe on `page`'s whole document; returns the blocking violations. */
async function audit(page) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) {
    await page.evaluate(AXE_SOURCE);
  }
  const results = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
    }));
  });
  return results.filter((v) => BLOCKING.has(v.impact));
}

function describe(view, violations) {
  return violations
    .map(
      (v) =>
        `${view}: [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n` +
        v.nodes.map((n) => `    at ${n.target}\n      ${String(n.summary).replace(/\n/g, "\n      ")}`).join("\n"),
    )
    .join("\n");
}

/** Audits `view` and collects its violations into `failures`. */
async function check(page, view, failures) {
  const found = await audit(page);
  console.log(`axe ${view}: ${found.length} violation(s) of impact moderate or worse`);
  if (found.length > 0) {
    failures.push(describe(view, found));
    await shot(page, `a11y-FAIL-${view}`);
  }
}

/** A context signed in with the session `token`, at `path`. */
async function open(browser, token, who, path) {
  const { context, page } = await newPage(browser, who);
  await context.addCookies([{ name: "accord_session", value: token, url: base }]);
  await page.goto(`${base}${path}`);
  return { context, page };
}

test("axe finds nothing moderate or worse on the signed-out and sign-in pages", async () => {
  const failures = [];
  await withBrowser("a11y-signin", async (browser) => {
    const { page } = await newPage(browser, "nobody");
    await page.goto(`${base}/`);
    await page.locator(tid("signed-out")).waitFor({ timeout: 20000 });
    await check(page, "signed-out", failures);

    await page.goto(`${base}/join?invite=not-an-invite`);
    await page.locator(tid("signin-error")).waitFor({ timeout: 20000 });
    await check(page, "signin-error", failures);
  });
  assert.equal(failures.length, 0, `axe violations:\n${failures.join("\n")}`);
});

test("axe finds nothing moderate or worse on the delegate's draft view", async () => {
  const { d, entity } = await quietEntity();
  const failures = [];
  await withBrowser("a11y-draft", async (browser) => {
    const { page } = await open(browser, delegateToken(entity), entity, `/drafts/${encodeURIComponent(d.id)}`);
    await page.locator(tid("connection", { "data-state": "connected" })).waitFor({ timeout: 20000 });
    await until("every element's editor", async () => (await page.locator(`${tid("element-editor")} .cm-content`).count()) === d.elements.length);
    await page.locator(tid("position-controls")).first().waitFor({ timeout: 20000 });
    await check(page, "draft-delegate", failures);
  });
  assert.equal(failures.length, 0, `axe violations:\n${failures.join("\n")}`);
});

test("axe finds nothing moderate or worse on the chair's board and projector mode", async () => {
  const d = await draft();
  const failures = [];
  await withBrowser("a11y-board", async (browser) => {
    const board = `/drafts/${encodeURIComponent(d.id)}/board`;
    const { page } = await open(browser, chairToken, "chair", board);
    await page.locator(tid("board", { "data-projector": "false" })).waitFor({ timeout: 20000 });
    await until("every entity's row", async () => (await page.locator(tid("matrix-row")).count()) === d.entities.length);
    await page.locator(tid("silence-start")).waitFor({ timeout: 20000 });
    await check(page, "board", failures);

    await page.goto(`${base}${board}?projector=1`);
    await page.locator(tid("board", { "data-projector": "true" })).waitFor({ timeout: 20000 });
    await until("every entity's row", async () => (await page.locator(tid("matrix-row")).count()) === d.entities.length);
    await check(page, "projector", failures);
  });
  assert.equal(failures.length, 0, `axe violations:\n${failures.join("\n")}`);
});

/** The history views of draft `id` as the holder of `token`; `tag` names them. */
async function auditHistory(browser, id, token, who, tag, failures) {
  const at = (view) => `${base}/drafts/${encodeURIComponent(id)}/${view}`;
  const { context, page } = await open(browser, token, who, `/drafts/${encodeURIComponent(id)}/history`);
  await page.locator(tid("timeline-end")).or(page.locator(tid("timeline-more"))).first().waitFor({ timeout: 20000 });
  // Positions a silence recorded, unfolded.
  for (const group of await page.locator(`${tid("timeline-silence-group")} summary`).all()) await group.click();
  await check(page, `timeline${tag}`, failures);

  await page.goto(at("read"));
  await page.locator(tid("annex-element")).first().waitFor({ timeout: 20000 });
  await check(page, `reading${tag}`, failures);

  // The latest named version (or the draft's beginning) against now, the
  // unchanged elements unfolded, so that axe sees them too.
  await page.goto(at("compare"));
  await page.locator(tid("compare-element")).first().waitFor({ state: "attached", timeout: 20000 });
  const unchanged = page.locator(`${tid("compare-unchanged")} > summary`);
  if ((await unchanged.count()) > 0) await unchanged.click();
  await page.locator(tid("compare-element")).first().waitFor({ timeout: 20000 });
  await check(page, `compare${tag}`, failures);

  // Who wrote what, without and with the deletions.
  await page.goto(at("attribution"));
  await page.locator(tid("attribution-text")).waitFor({ timeout: 20000 });
  await check(page, `attribution${tag}`, failures);
  await page.locator(tid("show-deletions")).click();
  await page.locator(tid("deletions")).waitFor({ timeout: 20000 });
  await check(page, `attribution-deletions${tag}`, failures);
  await context.close();
}

/** The number of timeline entries of draft `id` (up to 200). */
async function historyLength(id) {
  const r = await api("GET", `/api/v1/drafts/${encodeURIComponent(id)}/history?limit=200`);
  return r.status === 200 ? r.json.items.length : 0;
}

test("axe finds nothing moderate or worse on the history views", async () => {
  const { d, entity } = await quietEntity();
  // Also the draft with the most history (tests/e2e.rs runs this file after
  // the history test, whose draft has revisions by three entities, named
  // versions, a silence and an adoption), as a chair.
  let richest = { id: d.id, n: await historyLength(d.id) };
  for (const other of await apiJson("/api/v1/drafts")) {
    const n = await historyLength(other.id);
    if (n > richest.n) richest = { id: other.id, n };
  }
  console.log(
    richest.id === d.id
      ? "auditing the history views of the reference draft"
      : `auditing the history views of the reference draft and of ${richest.id} (${richest.n} entries)`,
  );
  const failures = [];
  await withBrowser("a11y-history", async (browser) => {
    await auditHistory(browser, d.id, delegateToken(entity), entity, "", failures);
    if (richest.id !== d.id) await auditHistory(browser, richest.id, chairToken, "chair", "-richest", failures);
  });
  assert.equal(failures.length, 0, `axe violations:\n${failures.join("\n")}`);
});
