// Others' cursors and presence, live, with the websocket frames counted.
//
// 1. Delegate A moves between two elements ten times; within 3 s delegate
//    B sees A's cursor and "Here now" in the element A went to and no
//    longer in the one A left. For every move A sends exactly one cursor
//    message per document (`{from: null}` on the element left, before the
//    position on the new one), and never hears its own cursor back.
// 2. A third delegate connects and disconnects (closes the tab) again and
//    again: the others' presence lists stay right, a cursor it left goes at
//    once, and each cycle costs the others only a change about that one
//    peer (`accord-presence-change`), never the full list after their first.
//
// The users are delegates of three entities other than IOM and ILO, signed
// in with the session tokens tests/e2e.rs hands over (the session cookie).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  delegateToken,
  documentIdOf,
  draft,
  elementSel,
  peerIdOf,
  recordSync,
  shot,
  signInWithSession,
  tid,
  until,
  waitEditor,
  withBrowser,
} from "./lib.mjs";

const MOVES = 10;
const CYCLES = 5;
const PROMPT_MS = 3000;

/** Three entities of the draft no other browser test signs in for. */
function entitiesFor(d) {
  const codes = d.entities.map((e) => e.code).filter((c) => c !== "IOM" && c !== "ILO");
  assert.ok(codes.length >= 3, "the draft needs three more entities");
  return codes.slice(0, 3);
}

const nameOf = (entity) => `Delegate of ${entity}`;

/** Whether `page` shows `who`'s cursor (its name tag) in element `id`. */
async function cursorIn(page, id, who) {
  return (await page.locator(`${elementSel(id)} .cm-remote-cursor[data-name="${who}"]`).count()) > 0;
}

/** Whether element `id`'s "Here now" on `page` names `name`. */
async function hereIn(page, id, name) {
  const text = await page.locator(`${elementSel(id)} ${tid("element-presence")}`).innerText();
  return text.includes(name);
}

/** The names in `page`'s "Online now" list. */
async function online(page) {
  return page.locator(tid("presence-user")).evaluateAll((els) => els.map((e) => e.dataset.user).sort());
}

const isCursor = (f) => f.type === "ephemeral" && f.content?.type === "cursor";
const isPresence = (f) =>
  f.type === "ephemeral" && (f.content?.type === "accord-presence" || f.content?.type === "accord-presence-change");

/** Clicks into element `id`'s editor (the caret lands in its text). */
async function clickInto(page, id) {
  await page.locator(`${elementSel(id)} ${tid("element-editor")} .cm-content`).click();
}

test("a cursor moves between elements: others see it promptly, one frame per document, no echo", async (t) => {
  const d = await draft();
  const [xa, xb] = entitiesFor(d);
  const [e1, e2] = d.elements;
  const doc = { [e1.id]: documentIdOf(e1.doc_url), [e2.id]: documentIdOf(e2.doc_url) };
  let rec;
  t.after(() => rec?.save("cursors-frames-a"));
  await withBrowser("cursors", async (browser) => {
    const a = await signInWithSession(browser, delegateToken(xa), xa, (page) => {
      rec = recordSync(page);
    });
    const b = await signInWithSession(browser, delegateToken(xb), xb);
    for (const p of [a.page, b.page]) {
      await waitEditor(p, e1.id);
      await waitEditor(p, e2.id);
    }
    const aPeer = await peerIdOf(a.page);
    const tag = `${nameOf(xa)} (${xa})`;
    await until("B to list A online", async () => (await online(b.page)).includes(nameOf(xa)));

    await clickInto(a.page, e1.id);
    await until("B to see A's cursor in element 1", async () => cursorIn(b.page, e1.id, tag), 10000);

    const report = [];
    for (let i = 0; i < MOVES; i++) {
      const [from, to] = i % 2 === 0 ? [e1.id, e2.id] : [e2.id, e1.id];
      await a.page.waitForTimeout(300); // the previous move's frames are out
      const mark = rec.mark();
      const started = Date.now();
      await clickInto(a.page, to);
      await until(
        `B to see A in ${to} and no longer in ${from} (move ${i + 1})`,
        async () =>
          (await cursorIn(b.page, to, tag)) &&
          !(await cursorIn(b.page, from, tag)) &&
          (await hereIn(b.page, to, nameOf(xa))) &&
          !(await hereIn(b.page, from, nameOf(xa))),
        PROMPT_MS,
      );
      const took = Date.now() - started;
      await a.page.waitForTimeout(400); // anything late still counts
      const frames = rec.since(mark);
      const sent = frames.filter((f) => f.dir === "sent" && isCursor(f));
      const echoed = frames.filter((f) => f.dir === "received" && f.type === "ephemeral" && f.senderId === aPeer);
      report.push({ move: i + 1, ms: took, sent: sent.length, echoed: echoed.length });
      const describe = () =>
        JSON.stringify(sent.map((f) => ({ doc: f.documentId, sender: f.senderId, count: f.count, from: f.content.from })));
      assert.equal(echoed.length, 0, `move ${i + 1}: A heard ${echoed.length} of its own ephemeral messages back`);
      assert.ok(sent.every((f) => f.senderId === aPeer), `move ${i + 1}: A passed on others' messages: ${describe()}`);
      const onFrom = sent.filter((f) => f.documentId === doc[from]);
      const onTo = sent.filter((f) => f.documentId === doc[to]);
      assert.equal(onFrom.length, 1, `move ${i + 1}: cursor frames on the element left: ${describe()}`);
      assert.equal(onFrom[0].content.from, null, `move ${i + 1}: the element left hears {from: null}: ${describe()}`);
      assert.equal(onTo.length, 1, `move ${i + 1}: cursor frames on the element entered: ${describe()}`);
      assert.equal(typeof onTo[0].content.from, "number", `move ${i + 1}: the element entered hears a position`);
      assert.ok(sent.indexOf(onFrom[0]) < sent.indexOf(onTo[0]), `move ${i + 1}: the element left hears first: ${describe()}`);
      assert.equal(sent.length, 2, `move ${i + 1}: cursor frames in all: ${describe()}`);
    }
    console.log("cursor moves (ms to show at B, frames A sent, own frames A heard):", JSON.stringify(report));
    await shot(b.page, "cursors-b");

    // A leaves the text for the page around it: gone from B's view at once,
    // with one {from: null} on the element A was in.
    const last = MOVES % 2 === 0 ? e1.id : e2.id;
    await a.page.waitForTimeout(300);
    const mark = rec.mark();
    await a.page.locator(tid("draft-title")).click();
    await until(
      "B to see A's cursor and 'Here now' go when A leaves the text",
      async () => !(await cursorIn(b.page, last, tag)) && !(await hereIn(b.page, last, nameOf(xa))),
      PROMPT_MS,
    );
    await a.page.waitForTimeout(400);
    const sent = rec.since(mark).filter((f) => f.dir === "sent" && isCursor(f));
    assert.deepEqual(
      sent.map((f) => [f.documentId, f.content.from]),
      [[doc[last], null]],
      "leaving the text sends one {from: null} on the element left",
    );
  });
});

test("a delegate comes and goes: presence stays right and costs the others one small change per step", async (t) => {
  const d = await draft();
  const [xa, xb, xc] = entitiesFor(d);
  const e1 = d.elements[0];
  let recB;
  t.after(() => recB?.save("presence-frames-b"));
  await withBrowser("presence", async (browser) => {
    const a = await signInWithSession(browser, delegateToken(xa), xa);
    const b = await signInWithSession(browser, delegateToken(xb), xb, (page) => {
      recB = recordSync(page);
    });
    const both = [nameOf(xa), nameOf(xb)].sort();
    const all = [nameOf(xa), nameOf(xb), nameOf(xc)].sort();
    for (const p of [a.page, b.page]) {
      await until("A and B to list each other", async () => JSON.stringify(await online(p)) === JSON.stringify(both));
    }
    await waitEditor(b.page, e1.id);
    // B's first full list has come (B lists A).
    await until("B's full presence list (sent when it starts syncing the index)", () =>
      recB.frames.some((f) => f.dir === "received" && f.content?.type === "accord-presence"));
    const tagC = `${nameOf(xc)} (${xc})`;

    const cycles = [];
    for (let i = 0; i < CYCLES; i++) {
      const mark = recB.mark();
      const c = await signInWithSession(browser, delegateToken(xc), `${xc}#${i + 1}`);
      const cPeer = await peerIdOf(c.page);
      for (const p of [a.page, b.page]) {
        await until(`A and B to list C (cycle ${i + 1})`, async () => JSON.stringify(await online(p)) === JSON.stringify(all), 10000);
      }
      await waitEditor(c.page, e1.id);
      await clickInto(c.page, e1.id);
      await until(`B to see C's cursor (cycle ${i + 1})`, async () => cursorIn(b.page, e1.id, tagC), 10000);
      await c.page.waitForTimeout(1500); // C has opened its documents
      const closed = Date.now();
      await c.context.close(); // C closes the tab
      for (const p of [a.page, b.page]) {
        await until(
          `A and B to drop C, its cursor and its "Here now" (cycle ${i + 1})`,
          async () =>
            JSON.stringify(await online(p)) === JSON.stringify(both) &&
            !(await cursorIn(p, e1.id, tagC)) &&
            !(await hereIn(p, e1.id, nameOf(xc))),
          PROMPT_MS,
        );
      }
      const gone = Date.now() - closed;
      await b.page.waitForTimeout(300);
      const presence = recB.since(mark).filter((f) => f.dir === "received" && isPresence(f));
      const full = presence.filter((f) => f.content.type === "accord-presence");
      const changes = presence.filter((f) => f.content.type === "accord-presence-change");
      const bytes = presence.reduce((n, f) => n + f.bytes, 0);
      cycles.push({ cycle: i + 1, goneMs: gone, fullLists: full.length, changes: changes.length, bytes });
      assert.equal(full.length, 0, `cycle ${i + 1}: B got ${full.length} full presence lists after its first`);
      assert.ok(changes.length >= 2, `cycle ${i + 1}: B heard C come and go (${changes.length} changes)`);
      for (const f of changes) {
        const upsert = Array.isArray(f.content.upsert) ? f.content.upsert : [];
        const left = Array.isArray(f.content.left) ? f.content.left : [];
        assert.ok(
          upsert.every((p) => p.peerId === cPeer) && left.every((p) => p === cPeer),
          `cycle ${i + 1}: a presence change about others than C: ${JSON.stringify(f.content)}`,
        );
      }
      assert.ok(
        changes.some((f) => (f.content.left ?? []).includes(cPeer)),
        `cycle ${i + 1}: no change said C left`,
      );
    }
    console.log("presence cycles (ms until C is gone at A and B, B's presence frames and bytes):", JSON.stringify(cycles));
    // One cycle costs B about the same whatever came before.
    const sizes = cycles.map((c) => c.bytes);
    assert.ok(Math.max(...sizes) <= 2 * Math.min(...sizes) + 2048, `presence bytes per cycle vary: ${sizes}`);
    await shot(b.page, "presence-b");
  });
});
