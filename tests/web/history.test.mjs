// The reviewer's history, compare and attribution views (issue 8), after a
// scripted history on a draft of its own: three entities' delegates type in
// the same element minutes apart (the consensus clock moved between them),
// the chair names a version, two of them change the text again, a silence
// on another element fires and that element is adopted. Then, in real
// browsers: the timeline lists the revisions with the right entities in
// order and the version as a landmark; reading at the version shows its
// text and the annex of then; comparing the version with now shows the later
// insertion and deletion with their entities; attribution shades the spans
// by entity and lists the deletions on request; the compare URL opened in a
// fresh context (another user) shows the same comparison; a delegate reaches
// the views too. Screenshots of each view.
//
// Then, on another draft (issue 14): positions recorded close together on
// one element fold into one entry with their counts, also across the
// timeline's pages and under filters; a named version closes a run of
// edits; an edit that makes positions stale is an entry naming them.
//
// tests/e2e.rs runs this file last, on its own: it moves the consensus clock
// on by minutes.
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  api,
  apiJson,
  base,
  chairToken,
  delegateToken,
  newPage,
  shot,
  invite,
  tid,
  until,
  waitEditor,
  withBrowser,
} from "./lib.mjs";

const ORIGINAL = "Safe and orderly migration benefits all.";
const IOM_TEXT = " Member States should closely cooperate.";
const ILO_TEXT = " Labour ministries should share data.";
const UNHCR_TEXT = " Protection comes first.";
const LATER_INSERT = "regular ";

async function advance(secs) {
  const r = await api("POST", "/api/v1/test/clock", { advance_secs: secs });
  assert.equal(r.status, 200, `moving the clock: ${r.status} ${r.text}`);
}

/** Signs in with `key`'s invite in a fresh context and opens `path`. */
async function signInTo(browser, key, path) {
  const { context, page } = await newPage(browser, key);
  await page.goto(`${base}/join?invite=${encodeURIComponent(invite(key))}`);
  await page.locator(tid("draft")).waitFor({ timeout: 20000 });
  await page.goto(`${base}${path}`);
  return { context, page };
}

/** Puts the cursor of `page`'s editor of element `id` at `from` (selecting
 *  up to `to`), as a click or arrow keys would. */
async function select(page, id, from, to = from) {
  await page.evaluate(
    ({ sel, from, to }) => {
      const content = document.querySelector(sel);
      const view = content?.cmTile?.root?.view ?? content?.cmView?.view ?? content?.cmView?.rootView?.view;
      if (!view) throw new Error("no CodeMirror EditorView on .cm-content");
      view.focus();
      view.dispatch({ selection: { anchor: from, head: to } });
    },
    { sel: `[data-testid="element"][data-element-id="${id}"] [data-testid="element-editor"] .cm-content`, from, to },
  );
}

/** The element's text as the server holds it. */
async function serverText(draftId, elementId) {
  const d = await apiJson(`/api/v1/drafts/${draftId}/read`);
  return d.elements.find((e) => e.id === elementId).text;
}

/** Types `text` at `at` in element `id` and waits until the server has it. */
async function typeAt(page, draftId, id, at, text, expected) {
  await waitEditor(page, id);
  await select(page, id, at);
  await page.keyboard.type(text, { delay: 5 });
  await until(`the server to hold ${JSON.stringify(expected)}`, async () => (await serverText(draftId, id)) === expected);
  await page.locator(tid("save-state", { "data-state": "saved" })).waitFor({ timeout: 20000 });
}

/** Every item of the timeline through the API, all pages. */
async function apiTimeline(draftId, query = "") {
  const items = [];
  let cursor = null;
  for (;;) {
    const q = new URLSearchParams(query);
    q.set("limit", "7");
    if (cursor) q.set("cursor", cursor);
    const page = await apiJson(`/api/v1/drafts/${draftId}/history?${q}`);
    items.push(...page.items);
    if (!page.next) return items;
    cursor = page.next;
  }
}

/** The diff pieces a compare view shows: [op, entity, text] per span. */
async function shownDiff(page, elementId) {
  return page
    .locator(`${tid("compare-element", { "data-element-id": elementId })} [data-testid^="diff-"]`)
    .evaluateAll((spans) =>
      spans.map((s) => [s.dataset.testid.slice(5), s.dataset.entity ?? "", s.textContent]),
    );
}

/** Whether every timeline item is loaded (the last page is in). */
async function loadAll(page) {
  await until("the timeline's last page", async () => {
    if ((await page.locator(tid("timeline-end")).count()) > 0) return true;
    const more = page.locator(tid("timeline-more"));
    if ((await more.count()) > 0 && (await more.isVisible())) await more.click().catch(() => {});
    else await page.mouse.wheel(0, 4000);
    return false;
  }, 60000);
}

test("reviewers follow the history: timeline, reading, compare, attribution, shared links", async () => {
  // --- The scripted history, on a draft of its own.
  const created = await api("POST", "/api/v1/drafts", {
    title: "Rehearsal of the follow-up text",
    preamble: "Recommendations of the rehearsal.",
    entities: ["IOM", "ILO", "UNHCR"],
    elements: [
      { label: "(a) Cooperation", text: ORIGINAL },
      { label: "(b) Data", text: "Improve migration data." },
      { label: "(c) Review", text: "Review progress in 2019." },
    ],
  });
  assert.equal(created.status, 201, `creating the draft: ${created.status} ${created.text}`);
  const draftId = created.json.id;
  const [a, b, c] = created.json.elements.map((e) => e.id);
  const draftPath = `/drafts/${encodeURIComponent(draftId)}`;

  await withBrowser("history", async (browser) => {
    const iom = await signInTo(browser, "history_iom", draftPath);
    const ilo = await signInTo(browser, "history_ilo", draftPath);
    const unhcr = await signInTo(browser, "history_unhcr", draftPath);

    // Three entities edit (a), two minutes apart.
    let text = ORIGINAL;
    text += IOM_TEXT;
    await typeAt(iom.page, draftId, a, ORIGINAL.length, IOM_TEXT, text);
    await advance(120);
    await typeAt(ilo.page, draftId, a, text.length, ILO_TEXT, text + ILO_TEXT);
    text += ILO_TEXT;
    await advance(120);
    await typeAt(unhcr.page, draftId, a, text.length, UNHCR_TEXT, text + UNHCR_TEXT);
    text += UNHCR_TEXT;
    const rev1Text = text;
    await advance(60);
    const named = await api("POST", `/api/v1/drafts/${draftId}/versions`, { name: "Rev.1" });
    assert.equal(named.status, 201, `naming Rev.1: ${named.status} ${named.text}`);

    // After Rev.1: ILO inserts a word, UNHCR deletes one IOM wrote.
    await advance(120);
    const at = text.indexOf("migration");
    await typeAt(ilo.page, draftId, a, at, LATER_INSERT, text.slice(0, at) + LATER_INSERT + text.slice(at));
    text = text.slice(0, at) + LATER_INSERT + text.slice(at);
    await advance(120);
    const gone = text.indexOf("closely ");
    const afterDelete = text.slice(0, gone) + text.slice(gone + "closely ".length);
    await unhcr.page.locator(tid("element", { "data-element-id": a })).scrollIntoViewIfNeeded();
    await select(unhcr.page, a, gone, gone + "closely ".length);
    await unhcr.page.keyboard.press("Delete");
    await until("the server to hold UNHCR's deletion", async () => (await serverText(draftId, a)) === afterDelete);
    text = afterDelete;
    const nowText = text;

    // A silence on (b) that fires, then (b) adopted; ILO supports (c).
    await advance(60);
    const now = Date.parse((await apiJson(`/api/v1/drafts/${draftId}/consensus`)).server_time);
    const silence = await api("POST", `/api/v1/drafts/${draftId}/silence`, {
      elements: [b],
      deadline: new Date(now + 2 * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
    });
    assert.equal(silence.status, 201, `starting silence: ${silence.status} ${silence.text}`);
    await advance(180);
    await until("the silence on (b) to fire", async () => {
      const cons = await apiJson(`/api/v1/drafts/${draftId}/consensus`);
      return cons.elements.find((e) => e.id === b)?.status === "agreed";
    });
    const adopted = await api("POST", `/api/v1/drafts/${draftId}/elements/${b}/adopt`, {});
    assert.equal(adopted.status, 200, `adopting (b): ${adopted.status} ${adopted.text}`);
    const cText = (await apiJson(`/api/v1/drafts/${draftId}/read`)).elements[2];
    const support = await api(
      "PUT",
      `/api/v1/drafts/${draftId}/elements/${c}/positions/ILO`,
      { position: "support", text_hash: cText.text_hash, heads: cText.heads },
      delegateToken("ILO"),
    );
    assert.equal(support.status, 201, `ILO's support on (c): ${support.status} ${support.text}`);

    // --- A delegate reaches the views from the draft.
    await iom.page.locator(tid("open-history")).click();
    await iom.page.locator(tid("timeline")).waitFor({ timeout: 20000 });
    assert.match(new URL(iom.page.url()).pathname, /\/history$/);

    // --- The timeline, as the reviewer.
    const reviewer = await signInTo(browser, "history_reviewer", `${draftPath}/history`);
    const rpage = reviewer.page;
    await rpage.locator(tid("timeline")).waitFor({ timeout: 20000 });
    await loadAll(rpage);
    const shown = await rpage.locator(tid("timeline-item")).evaluateAll((items) =>
      items.map((i) => ({
        kind: i.dataset.kind,
        type: i.dataset.type,
        entity: i.dataset.entity,
        element: i.dataset.elementId,
        version: i.dataset.version ?? null,
      })),
    );
    const expected = (await apiTimeline(draftId)).map((i) => ({
      kind: i.kind,
      type: i.kind === "event" ? i.type : i.kind === "position" ? i.position : "revision",
      entity: i.entity ?? "",
      element: i.element ?? "",
      version: i.kind === "event" && (i.type === "version_named" || i.type === "draft_adopted") ? i.data.name : null,
    }));
    assert.deepEqual(shown, expected, "the timeline shows the API's items in its order");
    // The delegates' revisions of (a), in the order they typed.
    const revisionsOfA = shown.filter((i) => i.kind === "revision" && i.element === a && i.entity !== "");
    assert.deepEqual(
      revisionsOfA.map((i) => i.entity),
      ["IOM", "ILO", "UNHCR", "ILO", "UNHCR"],
      "revisions of (a) by entity, in order",
    );
    // Rev.1 is a landmark after UNHCR's first revision and before ILO's second.
    const landmark = shown.findIndex((i) => i.version === "Rev.1");
    assert.ok(landmark >= 0, "Rev.1 is on the timeline");
    const third = shown.indexOf(revisionsOfA[2]);
    const fourth = shown.indexOf(revisionsOfA[3]);
    assert.ok(third < landmark && landmark < fourth, `Rev.1 at ${landmark}, between ${third} and ${fourth}`);
    for (const type of ["silence_started", "silence_fired", "element_adopted"]) {
      assert.ok(shown.some((i) => i.kind === "event" && i.type === type), `the timeline shows ${type}`);
    }
    assert.ok(
      shown.some((i) => i.kind === "position" && i.entity === "ILO" && i.element === c && i.type === "support"),
      "the timeline shows ILO's support on (c)",
    );
    // The positions the silence recorded are folded into one entry.
    const folded = rpage.locator(tid("timeline-silence-group"));
    assert.equal(await folded.count(), 1);
    assert.equal(await folded.locator(tid("timeline-item")).count(), 3);
    assert.equal(await folded.locator(tid("timeline-item")).first().isVisible(), false, "folded");
    assert.ok((await rpage.locator(tid("version-link", { "data-version": "Rev.1" })).count()) > 0);
    await shot(rpage, "history-timeline");

    // Filters: UNHCR's part only; the URL holds the choice.
    await rpage.locator(tid("filter-entity")).selectOption("UNHCR");
    await until("the URL to hold the entity filter", async () => new URL(rpage.url()).searchParams.get("entity") === "UNHCR");
    await loadAll(rpage);
    const unhcrItems = await rpage.locator(tid("timeline-item")).evaluateAll((items) =>
      items.map((i) => [i.dataset.kind, i.dataset.entity, i.dataset.elementId]),
    );
    const unhcrExpected = (await apiTimeline(draftId, "entity=UNHCR")).map((i) => [i.kind, i.entity ?? "", i.element ?? ""]);
    assert.deepEqual(unhcrItems, unhcrExpected, "filtered by UNHCR");
    assert.ok(unhcrItems.filter(([k]) => k === "revision").length === 2);
    await rpage.locator(tid("filter-element")).selectOption(a);
    await until("the URL to hold the element filter", async () => new URL(rpage.url()).searchParams.get("element") === a);
    await loadAll(rpage);
    const unhcrOnA = await rpage.locator(tid("timeline-item")).evaluateAll((items) => items.map((i) => i.dataset.kind));
    assert.deepEqual(unhcrOnA, ["revision", "revision"], "UNHCR's revisions of (a) only");
    await shot(rpage, "history-timeline-filtered");
    // A time range: from Rev.1 on (typed in UTC), everything after it only.
    await rpage.locator(tid("filter-clear")).click();
    await until("the filters to clear", async () => new URL(rpage.url()).search === "");
    const rev1At = (await apiJson(`/api/v1/drafts/${draftId}/versions`)).versions[0].created_at;
    await rpage.locator(tid("filter-from")).fill(rev1At.replace(/Z$/, ""));
    await rpage.locator(tid("filter-apply")).click();
    await until("the URL to hold the time range", async () => new URL(rpage.url()).searchParams.get("from") !== null);
    await loadAll(rpage);
    const since = await rpage.locator(tid("timeline-item")).evaluateAll((items) => items.map((i) => [i.dataset.kind, i.dataset.at]));
    const sinceExpected = await apiTimeline(draftId, `from=${rev1At}`);
    assert.equal(since.length, sinceExpected.length, "the items from Rev.1 on");
    assert.ok(since.length > 0 && since.every(([, at]) => at >= rev1At), JSON.stringify(since));
    assert.equal(since[0][0], "event", "Rev.1 itself opens the range");

    // --- Reading at Rev.1 (picked in the reading view).
    await rpage.locator(tid("nav-read")).click();
    await rpage.locator(tid("reading")).waitFor({ timeout: 20000 });
    await rpage.locator(tid("pick-version")).selectOption("Rev.1");
    await until("the URL to name Rev.1", async () => new URL(rpage.url()).searchParams.get("version") === "Rev.1");
    await rpage.locator(`${tid("reading")}[data-version-label="Rev.1"]`).waitFor({ timeout: 20000 });
    const readA = tid("reading-element", { "data-element-id": a });
    assert.equal(await rpage.locator(`${readA} ${tid("reading-element-text")}`).textContent(), rev1Text);
    const atRev1 = await apiJson(`/api/v1/drafts/${draftId}/read?version=Rev.1`);
    assert.equal(atRev1.elements[0].text, rev1Text, "the API agrees on Rev.1's text");
    // The annex of then: (b) was still open, nobody had a position on it.
    const statusB = tid("reading-element", { "data-element-id": b });
    assert.equal(await rpage.locator(`${statusB} ${tid("reading-element-status")}`).getAttribute("data-status"), "open");
    const annexB = await rpage
      .locator(`${tid("annex-element", { "data-element-id": b })} ${tid("annex-position")}`)
      .evaluateAll((cells) => cells.map((c) => [c.dataset.entity, c.dataset.position]));
    assert.deepEqual(annexB, [["IOM", "none"], ["ILO", "none"], ["UNHCR", "none"]]);
    await shot(rpage, "history-read-rev1");
    // Rev.1 downloads as the API exports it.
    const [download] = await Promise.all([rpage.waitForEvent("download"), rpage.locator(tid("export-md")).click()]);
    const downloaded = await readFile(await download.path(), "utf8");
    const exported = await api("GET", `/api/v1/drafts/${draftId}/export?format=md&version=Rev.1`);
    assert.equal(exported.status, 200);
    assert.equal(downloaded, exported.text, "the download is Rev.1's Markdown export");
    assert.ok(downloaded.includes("Member States should closely cooperate."), downloaded);
    // Now, for contrast: (a) has the later text, (b) is adopted.
    await rpage.locator(tid("pick-version")).selectOption("");
    await rpage.locator(`${tid("reading")}[data-version-label="current"]`).waitFor({ timeout: 20000 });
    assert.equal(await rpage.locator(`${readA} ${tid("reading-element-text")}`).textContent(), nowText);
    assert.equal(await rpage.locator(`${statusB} ${tid("reading-element-status")}`).getAttribute("data-status"), "adopted");

    // --- Compare Rev.1 with now, from the landmark.
    await rpage.goto(`${base}${draftPath}/history`);
    await rpage.locator(tid("timeline")).waitFor({ timeout: 20000 });
    await loadAll(rpage);
    await rpage
      .locator(`${tid("timeline-item", { "data-version": "Rev.1" })} ${tid("compare-version-now")}`)
      .click();
    await rpage.locator(tid("compare")).waitFor({ timeout: 20000 });
    await rpage.locator(`${tid("compare")}[data-from-label="Rev.1"]`).waitFor({ timeout: 20000 });
    const compareUrl = rpage.url();
    const diffA = await until("the diff of (a)", async () => {
      const d = await shownDiff(rpage, a);
      return d.length > 0 ? d : null;
    });
    const inserted = diffA.filter(([op]) => op === "insert");
    const deleted = diffA.filter(([op]) => op === "delete");
    assert.deepEqual(inserted.map(([, e, t]) => [e, t.trim()]), [["ILO", "regular"]], JSON.stringify(diffA));
    assert.deepEqual(deleted.map(([, e, t]) => [e, t.trim()]), [["UNHCR", "closely"]], JSON.stringify(diffA));
    // Each side reads as its version's text.
    const side = (skip) => diffA.filter(([op]) => op !== skip).map(([, , t]) => t).join("");
    assert.equal(side("insert"), rev1Text);
    assert.equal(side("delete"), nowText);
    // The API says the same, word by word.
    const apiCompare = await apiJson(`/api/v1/drafts/${draftId}/compare?from=name:Rev.1&to=now&granularity=word`);
    assert.deepEqual(
      diffA,
      apiCompare.elements[0].diff.map((p) => [p.op, p.entity ?? "", p.text]),
    );
    // (b) and (c) did not change: folded away.
    for (const id of [b, c]) {
      const el = `${tid("compare-unchanged")} ${tid("compare-element", { "data-element-id": id })}`;
      assert.equal(await rpage.locator(el).getAttribute("data-changed"), "false");
    }
    assert.equal(await rpage.locator(tid("compare-unchanged")).getAttribute("open"), null, "the fold is closed");
    const legend = await rpage
      .locator(`${tid("compare")} ${tid("legend-entry")}`)
      .evaluateAll((entries) => entries.map((e) => e.dataset.entity).sort());
    assert.deepEqual(legend, ["ILO", "UNHCR"]);
    // Insertions and deletions wear their entity's colour, and the two differ.
    const colour = (sel) => rpage.locator(sel).first().evaluate((el) => getComputedStyle(el).color);
    const iloColour = await colour(`${tid("diff-insert", { "data-entity": "ILO" })}`);
    const unhcrColour = await colour(`${tid("diff-delete", { "data-entity": "UNHCR" })}`);
    assert.notEqual(iloColour, unhcrColour);
    await shot(rpage, "history-compare");

    // --- Attribution of (a), then the deletions on request.
    await rpage.locator(tid("nav-attribution")).click();
    await rpage.locator(tid("attribution")).waitFor({ timeout: 20000 });
    await rpage.locator(tid("pick-element")).selectOption(a);
    await rpage.locator(`${tid("attribution")}[data-element-id="${a}"]`).waitFor({ timeout: 20000 });
    const spans = await until("the attributed spans", async () => {
      const s = await rpage
        .locator(`${tid("attribution-text")} ${tid("attr-span")}`)
        .evaluateAll((els) => els.map((e) => [e.dataset.entity, e.textContent, getComputedStyle(e).backgroundColor]));
      return s.length > 0 ? s : null;
    });
    assert.equal(spans.map(([, t]) => t).join(""), nowText);
    const apiSpans = (await apiJson(`/api/v1/drafts/${draftId}/elements/${a}/attribution`)).spans;
    assert.deepEqual(
      spans.map(([e, t]) => [e, t]),
      apiSpans.map((s) => [s.entity ?? "", s.text]),
    );
    const written = (entity) => spans.filter(([e]) => e === entity).map(([, t]) => t).join("");
    assert.ok(written("IOM").includes("Member States should cooperate."), written("IOM"));
    assert.ok(written("ILO").includes(LATER_INSERT) && written("ILO").includes(ILO_TEXT.trim()), written("ILO"));
    assert.ok(written("UNHCR").includes(UNHCR_TEXT.trim()), written("UNHCR"));
    // One shade per entity, the same on each of its spans, and tinted.
    const shades = new Map();
    for (const [entity, , bg] of spans) {
      if (shades.has(entity)) assert.equal(shades.get(entity), bg, `every ${entity || "original"} span has one shade`);
      shades.set(entity, bg);
    }
    const entityShades = ["IOM", "ILO", "UNHCR"].map((e) => shades.get(e));
    assert.equal(new Set(entityShades).size, 3, `three different shades: ${entityShades}`);
    for (const bg of entityShades) assert.notEqual(bg, "rgba(0, 0, 0, 0)");
    assert.equal(await rpage.locator(tid("deletions")).count(), 0, "deletions only on request");
    await shot(rpage, "history-attribution");
    await rpage.locator(tid("show-deletions")).click();
    await rpage.locator(tid("deletion", { "data-entity": "UNHCR" })).waitFor({ timeout: 20000 });
    assert.match(await rpage.locator(tid("deletion", { "data-entity": "UNHCR" })).textContent(), /closely/);
    assert.equal(await rpage.locator(tid("show-deletions")).getAttribute("aria-pressed"), "true");
    assert.equal(new URL(rpage.url()).searchParams.get("deletions"), "1");
    await shot(rpage, "history-attribution-deletions");

    // --- The compare link, opened by someone else in a fresh context.
    const other = await signInTo(browser, "history_chair", new URL(compareUrl).pathname + new URL(compareUrl).search);
    await other.page.locator(`${tid("compare")}[data-from-label="Rev.1"]`).waitFor({ timeout: 20000 });
    const sharedDiff = await until("the shared diff of (a)", async () => {
      const d = await shownDiff(other.page, a);
      return d.length > 0 ? d : null;
    });
    assert.deepEqual(sharedDiff, diffA, "the shared link shows the same comparison");
    assert.equal(await other.page.locator(`${tid("compare")}`).getAttribute("data-to-label"), "current");
    await shot(other.page, "history-compare-shared");

    // --- The chair names Rev.2 on the board; it is a landmark at once.
    await other.page.goto(`${base}${draftPath}/board`);
    await other.page.locator(tid("name-version-input")).fill("Rev.2");
    await other.page.locator(tid("name-version-submit")).click();
    await other.page.locator(tid("board-feedback", { "data-state": "ok" })).waitFor({ timeout: 20000 });
    const names = (await apiJson(`/api/v1/drafts/${draftId}/versions`)).versions.map((v) => v.name);
    assert.deepEqual(names, ["Rev.1", "Rev.2"]);
    await rpage.goto(`${base}${draftPath}/history`);
    await loadAll(rpage);
    await rpage.locator(tid("timeline-item", { "data-version": "Rev.2" })).waitFor({ timeout: 20000 });
    await rpage.locator(tid("version-link", { "data-version": "Rev.2" })).waitFor({ timeout: 20000 });
  });
});

// Issue 14: a busy session reads as a few entries. On a draft of its own
// with twelve entities: IOM edits (a), the chair names "Draft 2", IOM goes
// on at once (a new revision, listed after the version); twelve positions
// on (b) (10 support, 2 reservation) fold into one entry that opens to the
// twelve; ILO's edit of (b) makes them stale (one entry naming the twelve);
// 96 positions after it fold into one entry although the timeline's first
// page (100 items) ends inside them; the filters keep the folds.
test("the timeline folds positions, closes runs at versions and says when positions go stale", async () => {
  const ENTITIES = ["DESA", "IOM", "ILO", "OHCHR", "UNCTAD", "UNDP", "UNESCO", "UNFPA", "UNHCR", "UNICEF", "UNITAR", "UNODC"];
  const RESERVING = ["OHCHR", "UNFPA"];
  const A_TEXT = "Partners should meet every year.";
  const B_TEXT = "Data should be shared.";
  const created = await api("POST", "/api/v1/drafts", {
    title: "A busy session",
    preamble: "Recommendations of the busy session.",
    entities: ENTITIES,
    elements: [
      { label: "(a) Meetings", text: A_TEXT },
      { label: "(b) Sharing", text: B_TEXT },
    ],
  });
  assert.equal(created.status, 201, `creating the draft: ${created.status} ${created.text}`);
  const draftId = created.json.id;
  const [a, b] = created.json.elements.map((e) => e.id);
  const draftPath = `/drafts/${encodeURIComponent(draftId)}`;
  const state = async (entity, position) => {
    const el = (await apiJson(`/api/v1/drafts/${draftId}/read`)).elements[1];
    const r = await api(
      "PUT",
      `/api/v1/drafts/${draftId}/elements/${b}/positions/${entity}`,
      { position, note: position === "support" ? null : "For the record.", text_hash: el.text_hash, heads: el.heads },
      delegateToken(entity),
    );
    assert.equal(r.status, 201, `${entity} ${position}: ${r.status} ${r.text}`);
  };

  await withBrowser("history-grouped", async (browser) => {
    // Invites are single-use: the API sessions, in the browser.
    const withSession = async (token, who, path) => {
      const { context, page } = await newPage(browser, who);
      await context.addCookies([{ name: "accord_session", value: token, url: base }]);
      await page.goto(`${base}${path}`);
      return { context, page };
    };
    const iom = await withSession(delegateToken("IOM"), "busy-iom", draftPath);
    const ilo = await withSession(delegateToken("ILO"), "busy-ilo", draftPath);
    await iom.page.locator(tid("draft")).waitFor({ timeout: 20000 });
    await ilo.page.locator(tid("draft")).waitFor({ timeout: 20000 });

    // IOM edits (a); "Draft 2"; IOM again at once, well within one run's 30 s.
    await typeAt(iom.page, draftId, a, A_TEXT.length, " First.", `${A_TEXT} First.`);
    const named = await api("POST", `/api/v1/drafts/${draftId}/versions`, { name: "Draft 2" });
    assert.equal(named.status, 201, `naming Draft 2: ${named.status} ${named.text}`);
    const namedAt = named.json.created_at;
    await typeAt(iom.page, draftId, a, A_TEXT.length + 7, " Second.", `${A_TEXT} First. Second.`);

    // Twelve positions on (b) close together, then ILO edits (b).
    for (const entity of ENTITIES) await state(entity, RESERVING.includes(entity) ? "reservation" : "support");
    await typeAt(ilo.page, draftId, b, B_TEXT.length, " Openly.", `${B_TEXT} Openly.`);
    await until("the stale notice", async () => {
      const h = await apiJson(`/api/v1/drafts/${draftId}/history?element=${b}`);
      return h.items.some((i) => i.kind === "event" && i.type === "positions_stale");
    });
    // 96 positions on the new text: eight rounds of the twelve.
    for (let round = 0; round < 8; round++)
      for (const entity of ENTITIES) await state(entity, round % 2 === 0 ? "support" : "abstain");

    const all = await apiTimeline(draftId);
    assert.ok(all.length > 100, `more than one page of the timeline: ${all.length}`);

    const rpage = (await withSession(chairToken, "busy-chair", `${draftPath}/history`)).page;
    await rpage.setViewportSize({ width: 1280, height: 900 });
    await rpage.locator(tid("timeline")).waitFor({ timeout: 20000 });
    await loadAll(rpage);

    // Every item of the API is shown once.
    const sig = (i) => [i.kind, i.type, i.entity, i.element].join(" ");
    const shownAll = await rpage.locator(tid("timeline-item")).evaluateAll((items) =>
      items.map((i) => [i.dataset.kind, i.dataset.type, i.dataset.entity, i.dataset.elementId].join(" ")),
    );
    const apiAll = all.map((i) =>
      sig({ kind: i.kind, type: i.kind === "event" ? i.type : i.kind === "position" ? i.position : "revision", entity: i.entity ?? "", element: i.element ?? "" }),
    );
    assert.deepEqual([...shownAll].sort(), [...apiAll].sort(), "each item of the API once");

    // Two folds on (b), of 12 and 96 (the page boundary did not split the
    // second); no position of (b) stands alone.
    const groups = rpage.locator(tid("timeline-position-group"));
    const folds = await groups.evaluateAll((gs) => gs.map((g) => [g.dataset.elementId, g.dataset.count, g.dataset.counts]));
    assert.deepEqual(folds, [
      [b, "12", "support:10 reservation:2"],
      [b, "96", "support:48 abstain:48"],
    ]);
    const loose = await rpage
      .locator(`${tid("timeline")} > ${tid("timeline-item", { "data-kind": "position", "data-element-id": b })}`)
      .count();
    assert.equal(loose, 0, "every position of (b) is inside a fold");
    const first = groups.first();
    assert.equal(
      (await first.locator(tid("position-group-summary")).textContent()).trim(),
      "12 positions on (b) Sharing: 10 support, 2 reservation",
    );
    const inFirst = first.locator(tid("timeline-item"));
    assert.equal(await inFirst.count(), 12);
    assert.equal(await inFirst.first().isVisible(), false, "folded");
    await rpage.locator(tid("timeline-position-group")).first().scrollIntoViewIfNeeded();
    await shot(rpage, "history-timeline-grouped");
    await first.locator("summary").click();
    await until("the fold to open", async () => inFirst.last().isVisible());
    const opened = await inFirst.evaluateAll((items) => items.map((i) => [i.dataset.entity, i.dataset.type]));
    assert.deepEqual(
      opened,
      ENTITIES.map((e) => [e, RESERVING.includes(e) ? "reservation" : "support"]),
      "each position, in the order recorded",
    );
    for (let i = 0; i < 12; i++) assert.ok(await inFirst.nth(i).isVisible(), `position ${i} shows`);
    await shot(rpage, "history-timeline-grouped-open");

    // The stale notice: after the first fold and ILO's edit of (b), naming
    // the twelve and ILO's delegate.
    const order = await rpage.locator(`${tid("timeline")} > li`).evaluateAll((lis) =>
      lis.map((li) => ({
        testid: li.dataset.testid ?? "",
        kind: li.dataset.kind ?? "",
        type: li.dataset.type ?? "",
        entity: li.dataset.entity ?? "",
        element: li.dataset.elementId ?? "",
        version: li.dataset.version ?? "",
        at: li.dataset.at ?? "",
      })),
    );
    const idx = (pred, what) => {
      const i = order.findIndex(pred);
      assert.ok(i >= 0, `${what} is on the timeline: ${JSON.stringify(order)}`);
      return i;
    };
    const fold1 = idx((e) => e.testid === "timeline-position-group", "the first fold");
    const iloEdit = idx((e) => e.kind === "revision" && e.element === b && e.entity === "ILO", "ILO's edit of (b)");
    const staleAt = idx((e) => e.type === "positions_stale", "the stale notice");
    const fold2 = order.findIndex((e, i) => i > fold1 && e.testid === "timeline-position-group");
    assert.ok(fold1 < iloEdit && iloEdit < staleAt && staleAt < fold2, JSON.stringify({ fold1, iloEdit, staleAt, fold2 }));
    const stale = rpage.locator(tid("timeline-item", { "data-type": "positions_stale" }));
    assert.equal(await stale.count(), 1);
    assert.equal(await stale.getAttribute("data-element-id"), b);
    assert.equal(await stale.getAttribute("data-entity"), "ILO");
    assert.equal(await stale.locator(tid("stale-entities")).textContent(), ENTITIES.join(", "));
    assert.match(await stale.locator(".tl-summary").textContent(), /^Edit by Delegate of ILO \(ILO\) made the positions of .* on \(b\) Sharing stale$/);

    // The named version closes IOM's run: revision, Draft 2, revision.
    const iomEdits = order.map((e, i) => [e, i]).filter(([e]) => e.kind === "revision" && e.element === a && e.entity === "IOM");
    assert.equal(iomEdits.length, 2, `two revisions of (a) by IOM: ${JSON.stringify(order)}`);
    const landmark = idx((e) => e.version === "Draft 2", "Draft 2");
    assert.ok(iomEdits[0][1] < landmark && landmark < iomEdits[1][1], JSON.stringify({ iomEdits, landmark }));
    assert.ok(iomEdits[1][0].at >= namedAt, `the second revision ends after Draft 2: ${iomEdits[1][0].at} ${namedAt}`);

    // Filters keep the folds: (b) only, then IOM's part of (b).
    await rpage.locator(tid("filter-element")).selectOption(b);
    await until("the URL to hold the element filter", async () => new URL(rpage.url()).searchParams.get("element") === b);
    await loadAll(rpage);
    await until("the folds of (b)", async () => (await groups.count()) === 2);
    assert.deepEqual(await groups.evaluateAll((gs) => gs.map((g) => g.dataset.count)), ["12", "96"]);
    await rpage.locator(tid("filter-entity")).selectOption("IOM");
    await until("the URL to hold the entity filter", async () => new URL(rpage.url()).searchParams.get("entity") === "IOM");
    await loadAll(rpage);
    // IOM's position on the first text alone; its eight on the new text folded.
    await until("IOM's fold", async () => (await groups.count()) === 1);
    assert.deepEqual(await groups.evaluateAll((gs) => gs.map((g) => [g.dataset.count, g.dataset.counts])), [["8", "support:4 abstain:4"]]);
    const iomLoose = await rpage.locator(`${tid("timeline")} > ${tid("timeline-item", { "data-kind": "position" })}`).evaluateAll((items) =>
      items.map((i) => [i.dataset.entity, i.dataset.type]),
    );
    assert.deepEqual(iomLoose, [["IOM", "support"]]);
  });
});
