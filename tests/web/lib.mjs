// Shared helpers of the browser tests: the environment tests/e2e.rs sets,
// Debian's headless Chromium through playwright-core, sign-in through
// `/join?invite=…` (or with a session token as the browser's cookie), the UI
// contract's selectors, the JSON API as the chair, the websocket frames of
// a page (CBOR-decoded with cbor-x, as the stock client does), and
// screenshots.
//
// Environment (set by tests/e2e.rs):
// - ACCORD_URL: the server, exactly its --public-url (http://127.0.0.1:PORT);
// - ACCORD_INVITES: JSON object, key → one-time invite token, one per
//   browser context (see tests/e2e.rs for the keys);
// - ACCORD_CHAIR_TOKEN: a chair's session token for API calls;
// - ACCORD_DELEGATE_TOKENS: JSON object, entity code → a session token of a
//   delegate of that entity (one per entity of the draft), for positions
//   recorded through the API, and for browser contexts beyond the invites
//   (`signInWithSession`);
// - ACCORD_SHOTS: the folder screenshots go to.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Decoder } from "cbor-x";
import { chromium } from "playwright-core";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name} (tests/e2e.rs does)`);
  return value;
}

export const base = required("ACCORD_URL").replace(/\/$/, "");
const invites = JSON.parse(required("ACCORD_INVITES"));
export const chairToken = required("ACCORD_CHAIR_TOKEN");
export const shots = required("ACCORD_SHOTS");
const delegateTokens = JSON.parse(process.env.ACCORD_DELEGATE_TOKENS || "{}");
mkdirSync(shots, { recursive: true });

export const CHROMIUM = process.env.ACCORD_CHROMIUM || "/usr/bin/chromium";

/** The one-time invite token stored under `key`. */
export function invite(key) {
  const token = invites[key];
  if (!token) throw new Error(`no invite "${key}" in ACCORD_INVITES`);
  return token;
}

/** A session token of a delegate of `entity` (API calls as that delegate). */
export function delegateToken(entity) {
  const token = delegateTokens[entity];
  if (!token) throw new Error(`no delegate session for ${entity} in ACCORD_DELEGATE_TOKENS`);
  return token;
}

/** A CSS selector for a `data-testid`, with optional extra attributes. */
export function tid(name, attrs = {}) {
  let sel = `[data-testid="${name}"]`;
  for (const [k, v] of Object.entries(attrs)) sel += `[${k}="${v}"]`;
  return sel;
}

/** The `element` container of element `id`. */
export function elementSel(id) {
  return tid("element", { "data-element-id": id });
}

export async function until(what, predicate, ms = 20000) {
  const start = Date.now();
  let last;
  for (;;) {
    last = await predicate();
    if (last) return last;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------
// The API, as the chair (or as the holder of `token`)

export async function api(method, path, body, token = chairToken) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text };
}

export async function apiJson(path) {
  const r = await api("GET", path);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text}`);
  return r.json;
}

/** The first (in the reference scenario: only) draft. */
export async function draft() {
  const drafts = await apiJson("/api/v1/drafts");
  return drafts[0];
}

/** Element `id` of the first draft as the API shows it now. */
export async function apiElement(id) {
  const d = await draft();
  const e = d.elements.find((x) => x.id === id);
  if (!e) throw new Error(`no element ${id} in the draft`);
  return e;
}

export async function consensus(draftId) {
  return apiJson(`/api/v1/drafts/${draftId}/consensus`);
}

// ---------------------------------------------------------------------------
// The browser

/** Launches Debian's Chromium headless. */
export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/**
 * Runs `body(browser)` with a fresh browser; on failure saves a screenshot
 * of every open page (`FAIL-<name>-<n>.png`) before rethrowing.
 */
export async function withBrowser(name, body) {
  const browser = await launch();
  try {
    return await body(browser);
  } catch (e) {
    let n = 0;
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        n += 1;
        await page
          .screenshot({ path: join(shots, `FAIL-${name}-${n}.png`), fullPage: true })
          .catch(() => {});
        const body = await page
          .evaluate(() => document.body?.innerText ?? "")
          .catch(() => "(unreadable)");
        console.error(`--- page ${n} (${page.url()}) text at failure ---\n${body.slice(0, 3000)}`);
      }
    }
    throw e;
  } finally {
    await browser.close();
  }
}

/** A new browser context whose console errors and page errors are printed. */
export async function newPage(browser, who) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${who}] page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") console.error(`[${who}] console error: ${m.text()}`);
  });
  return { context, page };
}

/**
 * Signs in through `/join?invite=…` in a fresh context and waits for the
 * draft view with a live connection. Returns { context, page }.
 */
export async function signIn(browser, key, who = key) {
  const { context, page } = await newPage(browser, who);
  await page.goto(`${base}/join?invite=${encodeURIComponent(invite(key))}`);
  await page.locator(tid("draft")).waitFor({ timeout: 20000 });
  await page.locator(tid("connection", { "data-state": "connected" })).waitFor({ timeout: 20000 });
  return { context, page };
}

/**
 * Opens the app in a fresh context signed in with the session `token` (the
 * browser's session cookie), and waits for the draft view with a live
 * connection. `beforeOpen(page)` runs before the page loads (to listen to
 * its websocket from the start). Returns { context, page }.
 */
export async function signInWithSession(browser, token, who, beforeOpen) {
  const { context, page } = await newPage(browser, who);
  await context.addCookies([{ name: "accord_session", value: token, url: base }]);
  if (beforeOpen) beforeOpen(page);
  await page.goto(`${base}/`);
  await page.locator(tid("draft")).waitFor({ timeout: 20000 });
  await page.locator(tid("connection", { "data-state": "connected" })).waitFor({ timeout: 20000 });
  return { context, page };
}

const cbor = new Decoder({ useRecords: false, int64AsNumber: true });
const decode = (bytes) => cbor.decode(bytes);

/** One websocket frame of the sync protocol, CBOR-decoded; an `ephemeral`
 * message's `data` decoded too (as `content`). */
function decodeFrame(payload) {
  const bytes = typeof payload === "string" ? Buffer.from(payload) : payload;
  let message;
  try {
    message = decode(bytes);
  } catch {
    return { type: "(undecodable)", bytes: bytes.length };
  }
  let content;
  if (message?.type === "ephemeral" && message.data) {
    try {
      content = decode(message.data);
    } catch {
      content = undefined;
    }
  }
  return { ...message, content, bytes: bytes.length };
}

/**
 * Records every frame of `page`'s `/sync` websockets (call before the page
 * loads): `frames` holds { dir: "sent"|"received", at, ...decoded message }.
 * `mark()` is the number of frames so far, `since(mark)` those after it.
 */
export function recordSync(page) {
  const frames = [];
  page.on("websocket", (ws) => {
    if (!new URL(ws.url()).pathname.endsWith("/sync")) return;
    ws.on("framesent", (f) => frames.push({ dir: "sent", at: Date.now(), ...decodeFrame(f.payload) }));
    ws.on("framereceived", (f) => frames.push({ dir: "received", at: Date.now(), ...decodeFrame(f.payload) }));
  });
  /** Writes the frames (without sync data) to `<shots>/<name>.json`. */
  const save = (name) => {
    try {
      const plain = (_, v) => (typeof v === "bigint" ? Number(v) : v instanceof Uint8Array ? `(${v.length} bytes)` : v);
      const list = frames.map(({ data, ...f }) => ({ ...f, data: f.type === "ephemeral" ? undefined : data?.length }));
      writeFileSync(join(shots, `${name}.json`), JSON.stringify(list, plain, 1));
    } catch (e) {
      console.error(`saving the frames ${name}: ${e}`);
    }
  };
  return { frames, mark: () => frames.length, since: (mark) => frames.slice(mark), save };
}

/** The document id of an `automerge:` URL. */
export function documentIdOf(url) {
  return String(url).replace(/^automerge:/, "");
}

/** This page's automerge-repo peer id. */
export async function peerIdOf(page) {
  return page.evaluate(() => window.__accord?.repo?.peerId);
}

export async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Waits until `element` `id` is on the page and its editor shows text. */
export async function waitEditor(page, id) {
  const editor = page.locator(`${elementSel(id)} ${tid("element-editor")} .cm-content`);
  await editor.waitFor({ timeout: 20000 });
  return editor;
}

/**
 * The text of element `id`'s editor: CodeMirror's own document (its
 * EditorView hangs off the `.cm-content` node), or, failing that, the
 * text of its lines without widgets (remote cursors, name tags).
 */
export async function editorText(page, id) {
  return page.evaluate((sel) => {
    const content = document.querySelector(sel);
    if (!content) return null;
    const view =
      content.cmTile?.root?.view ?? content.cmView?.view ?? content.cmView?.rootView?.view;
    if (view?.state?.doc) return view.state.doc.toString();
    const lines = [...content.querySelectorAll(".cm-line")].map((line) => {
      const copy = line.cloneNode(true);
      for (const w of copy.querySelectorAll('[contenteditable="false"], .cm-widgetBuffer, img')) {
        w.remove();
      }
      return copy.textContent;
    });
    return lines.join("\n");
  }, `${elementSel(id)} ${tid("element-editor")} .cm-content`);
}

/**
 * Changes element `id`'s text the way a keystroke does, whether or not the
 * editor accepts input: a CodeMirror transaction dispatched on its view
 * (read-only only stops user input), which the automerge-codemirror plugin
 * turns into a change to the element's document.
 */
export async function dispatchInsert(page, id, at, text) {
  return page.evaluate(
    ({ sel, at, text }) => {
      const content = document.querySelector(sel);
      const view =
        content?.cmTile?.root?.view ?? content?.cmView?.view ?? content?.cmView?.rootView?.view;
      if (!view) throw new Error("no CodeMirror EditorView on .cm-content");
      const pos = at === "end" ? view.state.doc.length : at;
      view.dispatch({ changes: { from: pos, insert: text }, userEvent: "input.type" });
      return view.state.doc.toString();
    },
    { sel: `${elementSel(id)} ${tid("element-editor")} .cm-content`, at, text },
  );
}

/** Reads an attribute of the first match of `sel` (null when absent). */
export async function attr(page, sel, name) {
  const loc = page.locator(sel).first();
  if ((await loc.count()) === 0) return null;
  return loc.getAttribute(name);
}

/** Waits until `sel` has attribute `name` equal to `value`. */
export async function waitAttr(page, sel, name, value, ms = 20000) {
  try {
    await until(`${sel} [${name}=${value}]`, async () => (await attr(page, sel, name)) === value, ms);
  } catch (e) {
    const got = await attr(page, sel, name);
    throw new Error(`${sel}: expected ${name}="${value}", got ${JSON.stringify(got)} (${e.message})`);
  }
}

/** Picks elements of the draft for a test: the element at `index`. */
export async function elementAt(index) {
  const d = await draft();
  return { draft: d, element: d.elements[index] };
}
