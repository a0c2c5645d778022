// The history views in a real browser on a long history (run by
// history-bench.sh after the API timings): Debian's headless Chromium signs
// in as a reviewer and times, RUNS times each, how long each view takes to
// show its content, against the same API call fetched from the same page
// (the baseline: what the view cannot be faster than).
//
//   ACCORD_URL=http://127.0.0.1:PORT ACCORD_INVITE=TOKEN node history-views.mjs
//
// Needs tests/web's node_modules (playwright-core); ACCORD_CHROMIUM
// overrides /usr/bin/chromium; RUNS (default 7).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../../tests/web/package.json"));
const { chromium } = require("playwright-core");

const base = process.env.ACCORD_URL.replace(/\/$/, "");
const invite = process.env.ACCORD_INVITE;
const runs = Number(process.env.RUNS || 7);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];

const browser = await chromium.launch({
  executablePath: process.env.ACCORD_CHROMIUM || "/usr/bin/chromium",
  headless: true,
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
await page.goto(`${base}/join?invite=${encodeURIComponent(invite)}`);
await page.locator('[data-testid="draft"]').waitFor({ timeout: 120000 });
const drafts = await page.evaluate(async () => (await fetch("/api/v1/drafts")).json());
const draft = drafts[0];
const d = encodeURIComponent(draft.id);
const element = draft.elements.find((e) => e.text.length > 1000) ?? draft.elements[0];
const versions = await page.evaluate(async (d) => (await fetch(`/api/v1/drafts/${d}/versions`)).json(), d);
const version = versions.versions[0]?.name;
if (!version) throw new Error("the benchmark needs a named version");

/** Milliseconds for the page to fetch `path` and parse its JSON. */
async function fetchMs(path) {
  return page.evaluate(async (path) => {
    const t = performance.now();
    const r = await fetch(path);
    await r.json();
    return performance.now() - t;
  }, path);
}

/** Milliseconds from an in-app navigation to `url` until `selector` shows
 *  (the app's own router, as a click on a link does). */
async function viewMs(url, selector) {
  // Leave for the draft first, so the view mounts afresh.
  await page.evaluate(() => {
    history.pushState(null, "", "/");
    dispatchEvent(new PopStateEvent("popstate"));
  });
  await page.locator('[data-testid="draft"]').waitFor({ timeout: 60000 });
  const t = await page.evaluate(() => performance.now());
  await page.evaluate((url) => {
    history.pushState(null, "", url);
    dispatchEvent(new PopStateEvent("popstate"));
  }, url);
  await page.locator(selector).first().waitFor({ state: "visible", timeout: 120000 });
  return (await page.evaluate(() => performance.now())) - t;
}

const rows = [];
async function measure(name, api, url, selector) {
  const apiTimes = [];
  const viewTimes = [];
  for (let i = 0; i < runs; i++) {
    apiTimes.push(await fetchMs(api));
    viewTimes.push(await viewMs(url, selector));
  }
  rows.push([name, median(apiTimes), median(viewTimes), p95(viewTimes)]);
}

const history = `/api/v1/drafts/${d}/history`;
const eid = encodeURIComponent(element.id);
await measure("timeline, first page", `${history}?limit=100`, `/drafts/${d}/history`, '[data-testid="timeline-item"]');
await measure(
  "read at the named version",
  `/api/v1/drafts/${d}/read?version=${encodeURIComponent(version)}`,
  `/drafts/${d}/read?version=${encodeURIComponent(version)}`,
  `[data-testid="reading"][data-version-label="${version}"] [data-testid="reading-element-text"]`,
);
await measure(
  "compare version with now",
  `/api/v1/drafts/${d}/compare?from=name:${encodeURIComponent(version)}&to=now&granularity=word`,
  `/drafts/${d}/compare?from=name:${encodeURIComponent(version)}&to=now`,
  '[data-testid="compare-element"][data-changed="true"] [data-testid^="diff-"]',
);
await measure(
  "who wrote what (the element)",
  `/api/v1/drafts/${d}/elements/${eid}/attribution`,
  `/drafts/${d}/attribution?element=${eid}`,
  '[data-testid="attr-span"]',
);

// Paging: scroll the timeline to its end, page after page.
await viewMs(`/drafts/${d}/history`, '[data-testid="timeline-item"]');
const pages = Number(process.env.PAGES || 20);
const pageTimes = [];
let shown = await page.locator('[data-testid="timeline-item"]').count();
for (let i = 0; i < pages; i++) {
  if ((await page.locator('[data-testid="timeline-end"]').count()) > 0) break;
  const t = Date.now();
  await page.mouse.wheel(0, 1e6);
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid="timeline-item"]').length > n,
    shown,
    { timeout: 60000, polling: 10 },
  );
  pageTimes.push(Date.now() - t);
  shown = await page.locator('[data-testid="timeline-item"]').count();
}
const pageApi = [];
const first = await page.evaluate(async (h) => (await fetch(`${h}?limit=100`)).json(), history);
for (let i = 0; i < runs; i++) pageApi.push(await fetchMs(`${history}?limit=100&cursor=${encodeURIComponent(first.next)}`));
rows.push([`timeline, next page on scroll (${pageTimes.length} pages)`, median(pageApi), median(pageTimes), p95(pageTimes)]);
const frame = await page.evaluate(
  () =>
    new Promise((resolve) => {
      // The longest frame while scrolling back through everything shown.
      let last = performance.now();
      let worst = 0;
      let frames = 0;
      const step = () => {
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
        window.scrollBy(0, -400);
        if (++frames < 120 && window.scrollY > 0) requestAnimationFrame(step);
        else resolve(worst);
      };
      requestAnimationFrame(step);
    }),
);

console.log(`history views in Chromium (${runs} runs each; draft ${draft.id}, ${shown} timeline entries shown at the end)`);
console.log(`${"view".padEnd(44)} ${"API ms".padStart(8)} ${"view p50".padStart(9)} ${"p95".padStart(8)} ${"×API".padStart(6)}`);
for (const [name, api, p50, p95v] of rows) {
  console.log(`${name.padEnd(44)} ${api.toFixed(1).padStart(8)} ${p50.toFixed(1).padStart(9)} ${p95v.toFixed(1).padStart(8)} ${(p50 / api).toFixed(1).padStart(6)}`);
}
console.log(`longest frame scrolling back through ${shown} entries: ${frame.toFixed(1)} ms`);
await browser.close();
