// The stock automerge-repo client (pinned in package.json) against a running
// Accord server. ACCORD_URL names it, e.g. http://127.0.0.1:8080, and
// ACCORD_TOKEN is a session token (the websocket takes it as ?token=, since
// the stock client cannot set headers).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Repo, generateAutomergeUrl } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import * as A from "@automerge/automerge";

const base = process.env.ACCORD_URL;
if (!base) throw new Error("set ACCORD_URL to the server under test");
const token = process.env.ACCORD_TOKEN;
if (!token) throw new Error("set ACCORD_TOKEN to a session token");
const wsUrl = base.replace(/^http/, "ws") + "/sync?token=" + token;
// A delegate's session (ACCORD_DELEGATE_TOKEN), for what delegates may not do.
const delegateToken = process.env.ACCORD_DELEGATE_TOKEN;

function api(path) {
  return fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
}

function client(session = token) {
  const url = base.replace(/^http/, "ws") + "/sync?token=" + session;
  return new Repo({ network: [new WebSocketClientAdapter(url)] });
}

async function until(what, predicate, ms = 15000) {
  const start = Date.now();
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The document at `url`, once synced. The stock websocket adapter calls
 * itself ready after 1 s even when it has not connected yet (a loaded
 * machine), and a find with no peer then reports "unavailable"; the handle
 * still becomes ready when the server answers, so wait for that (as the web
 * app does).
 */
async function findReady(repo, url) {
  const handle = await repo.find(url, { allowableStates: ["ready", "unavailable"] });
  await until(`${url} to sync`, () => handle.isReady());
  return handle;
}

async function shutdown(...repos) {
  for (const repo of repos) await repo.shutdown();
}

test("two stock clients edit an element and converge through the server", async () => {
  const [draft] = await (await api(`/api/v1/drafts`)).json();
  const element = draft.elements[1];
  const alice = client();
  const bob = client();
  try {
    const a = await findReady(alice, element.doc_url);
    const b = await findReady(bob, element.doc_url);
    assert.equal(a.doc().text, element.text);
    assert.equal(b.doc().text, element.text);

    const marker = ` [interop ${Date.now()}]`;
    a.change((d) => A.splice(d, ["text"], d.text.length, 0, marker));
    await until("bob to see alice's edit", () => b.doc().text.endsWith(marker));

    const prefix = `Bob ${Date.now()}: `;
    b.change((d) => A.splice(d, ["text"], 0, 0, prefix));
    await until("alice to see bob's edit", () => a.doc().text.startsWith(prefix));
    assert.equal(a.doc().text, b.doc().text);

    // The server stored it: its API shows the same text and heads.
    await until("the server to report the merged text", async () => {
      const fresh = await (await api(`/api/v1/drafts/${draft.id}`)).json();
      const el = fresh.elements.find((e) => e.id === element.id);
      return el.text === a.doc().text &&
        JSON.stringify([...el.heads].sort()) === JSON.stringify([...A.getHeads(a.doc())].sort());
    });

    // A third client joining later gets the full state.
    const carol = client();
    try {
      const c = await findReady(carol, element.doc_url);
      await until("carol to get the full text", () => c.doc().text === a.doc().text);
    } finally {
      await shutdown(carol);
    }
  } finally {
    await shutdown(alice, bob);
  }
});

test("the index document lists the elements and is served read-only", async () => {
  const [draft] = await (await api(`/api/v1/drafts`)).json();
  const repo = client();
  try {
    const index = await findReady(repo, draft.index_url);
    const doc = index.doc();
    assert.equal(doc.title, draft.title);
    assert.deepEqual(doc.elements.map((e) => e.doc), draft.elements.map((e) => e.doc_url));
  } finally {
    await shutdown(repo);
  }
});

test("a document the server never created is unavailable", async () => {
  const [draft] = await (await api(`/api/v1/drafts`)).json();
  const repo = client();
  try {
    // Connected first, so "unavailable" is the server's answer.
    await findReady(repo, draft.index_url);
    // A fresh random id: valid, but the server never created it.
    await assert.rejects(repo.find(generateAutomergeUrl()), /unavailable/i);
  } finally {
    await shutdown(repo);
  }
});

test("four stock clients typing at once converge with each other and the server", async () => {
  const [draft] = await (await api(`/api/v1/drafts`)).json();
  const element = draft.elements[2];
  const repos = [client(), client(), client(), client()];
  try {
    const handles = await Promise.all(repos.map((r) => findReady(r, element.doc_url)));
    const typist = async (handle, n) => {
      for (let i = 0; i < 60; i++) {
        handle.change((d) => {
          const len = d.text.length;
          const pos = Math.floor(Math.random() * (len + 1));
          if (i % 7 === 6 && len > 0) A.splice(d, ["text"], Math.min(pos, len - 1), 1);
          else A.splice(d, ["text"], pos, 0, String.fromCharCode(97 + n));
        });
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      }
    };
    await Promise.all(handles.map((h, n) => typist(h, n)));
    await until("all clients to converge", () =>
      handles.every((h) => h.doc().text === handles[0].doc().text));
    const heads = JSON.stringify([...A.getHeads(handles[0].doc())].sort());
    await until("all clients to hold the same heads", () =>
      handles.every((h) => JSON.stringify([...A.getHeads(h.doc())].sort()) === heads));
    await until("the server to hold the same text and heads", async () => {
      const fresh = await (await api(`/api/v1/drafts/${draft.id}`)).json();
      const el = fresh.elements.find((e) => e.id === element.id);
      return el.text === handles[0].doc().text && JSON.stringify([...el.heads].sort()) === heads;
    });
  } finally {
    await shutdown(...repos);
  }
});

test("in amendments mode a delegate's stock client cannot type, the chair's can", async () => {
  assert.ok(delegateToken, "set ACCORD_DELEGATE_TOKEN to a delegate's session token");
  const [draft] = await (await api(`/api/v1/drafts`)).json();
  const element = draft.elements[3];
  const patch = (mode) =>
    fetch(`${base}/api/v1/drafts/${draft.id}/elements/${element.id}`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ mode }),
    });
  const delegate = client(delegateToken);
  const chair = client();
  try {
    const d = await findReady(delegate, element.doc_url);
    const c = await findReady(chair, element.doc_url);
    const notices = [];
    d.on("ephemeral-message", ({ message }) => {
      if (message?.type === "accord-notice") notices.push(message.code);
    });
    assert.equal((await patch("amendments")).status, 200);
    await until("the amendments_only notice", () => notices.includes("amendments_only"));

    d.change((doc) => A.splice(doc, ["text"], 0, 0, "DELEGATE "));
    const mark = ` [chair ${Date.now()}]`;
    c.change((doc) => A.splice(doc, ["text"], doc.text.length, 0, mark));
    await until("the delegate to see the chair's edit", () => d.doc().text.endsWith(mark));
    const server = async () => {
      const fresh = await (await api(`/api/v1/drafts/${draft.id}`)).json();
      return fresh.elements.find((e) => e.id === element.id);
    };
    await until("the server to store the chair's edit", async () => (await server()).text.endsWith(mark));
    // The delegate's typing never reached the server, nor the chair.
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!(await server()).text.includes("DELEGATE"));
    assert.ok(!c.doc().text.includes("DELEGATE"));
    assert.equal((await server()).mode, "amendments");
  } finally {
    // The delegate's copy keeps its refused edit: close it before reopening.
    await shutdown(delegate, chair);
    await patch("open");
  }
});
