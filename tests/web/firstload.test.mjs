// The first visit on a slow link: Chromium throttled to 10 Mbit/s down and
// up with 40 ms of latency (DevTools' network emulation) opens the draft as
// a delegate with an empty cache, once asking for the files as built
// (`Accept-Encoding: identity`, the server before precompression) and once
// as browsers ask (brotli), alternately, three times each; then reloads
// with the cache kept. It checks what was sent (encodings, `Vary`, bytes,
// the immutable cache) and prints the times and bytes; BENCHMARKS.md
// ("First load") quotes them. Times are reported, never asserted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { base, delegateToken, launch, shots, tid } from "./lib.mjs";

const LINK = { latency: 40, downloadThroughput: 10e6 / 8, uploadThroughput: 10e6 / 8 };

/** Opens the draft in `context` (signed in as IOM's delegate) on the
 * throttled link; returns the time to a live draft view and what crossed
 * the network, by request. */
async function load(context, { identity, fresh }) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, ...LINK });
  if (fresh) await cdp.send("Network.clearBrowserCache");
  if (identity) await cdp.send("Network.setExtraHTTPHeaders", { headers: { "Accept-Encoding": "identity" } });
  const requests = new Map();
  cdp.on("Network.responseReceived", ({ requestId, response }) => {
    const h = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k.toLowerCase(), v]));
    requests.set(requestId, {
      url: new URL(response.url).pathname,
      encoding: h["content-encoding"] ?? null,
      vary: h["vary"] ?? null,
      cacheControl: h["cache-control"] ?? null,
      fromCache: response.fromDiskCache || response.fromMemoryCache || false,
      bytes: 0,
    });
  });
  cdp.on("Network.loadingFinished", ({ requestId, encodedDataLength }) => {
    const r = requests.get(requestId);
    if (r) r.bytes = encodedDataLength;
  });
  const started = Date.now();
  await page.goto(`${base}/`);
  await page.locator(tid("draft")).waitFor({ timeout: 120000 });
  await page.locator(tid("connection", { "data-state": "connected" })).waitFor({ timeout: 120000 });
  const ms = Date.now() - started;
  await page.close();
  const list = [...requests.values()];
  return { ms, list, bytes: list.reduce((n, r) => n + r.bytes, 0) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const assetsOf = (run) => run.list.filter((r) => r.url.startsWith("/assets/"));

test("the first visit on a 10 Mbit/s link, as built and precompressed", async () => {
  const browser = await launch();
  const token = delegateToken("IOM");
  const runs = { identity: [], compressed: [], cached: [] };
  try {
    for (let i = 0; i < 3; i++) {
      for (const identity of [true, false]) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        await context.addCookies([{ name: "accord_session", value: token, url: base }]);
        const run = await load(context, { identity, fresh: true });
        runs[identity ? "identity" : "compressed"].push(run);
        if (!identity && i === 0) runs.cached.push(await load(context, { identity, fresh: false }));
        await context.close();
      }
    }
  } finally {
    await browser.close();
  }

  for (const run of runs.identity) {
    for (const a of assetsOf(run)) assert.equal(a.encoding, null, `${a.url} asked as identity came ${a.encoding}`);
  }
  for (const run of runs.compressed) {
    const assets = assetsOf(run);
    for (const kind of [".wasm", ".js", ".css"]) {
      const a = assets.find((r) => r.url.endsWith(kind));
      assert.ok(a, `the first visit loads a ${kind} asset: ${JSON.stringify(assets)}`);
      assert.equal(a.encoding, "br", `${a.url} is sent as brotli`);
      assert.match(a.vary ?? "", /accept-encoding/i, `${a.url} varies by Accept-Encoding`);
      assert.match(a.cacheControl ?? "", /immutable/, `${a.url} is cached for good`);
    }
  }
  const identityAssets = median(runs.identity.map((r) => assetsOf(r).reduce((n, a) => n + a.bytes, 0)));
  const compressedAssets = median(runs.compressed.map((r) => assetsOf(r).reduce((n, a) => n + a.bytes, 0)));
  assert.ok(
    compressedAssets * 3 < identityAssets,
    `precompressed assets ${compressedAssets} bytes against ${identityAssets} as built`,
  );
  // The second visit takes the hashed assets from the cache.
  const again = assetsOf(runs.cached[0]);
  assert.ok(again.length > 0 && again.every((a) => a.fromCache || a.bytes === 0), `assets reloaded: ${JSON.stringify(again)}`);

  const figures = {
    link: "10 Mbit/s down and up, 40 ms latency (Chromium network emulation), empty cache",
    identity: { ms: runs.identity.map((r) => r.ms), bytes: runs.identity.map((r) => r.bytes), asset_bytes: identityAssets },
    compressed: { ms: runs.compressed.map((r) => r.ms), bytes: runs.compressed.map((r) => r.bytes), asset_bytes: compressedAssets },
    cached_reload: { ms: runs.cached.map((r) => r.ms), bytes: runs.cached.map((r) => r.bytes) },
  };
  const mi = median(figures.identity.ms);
  const mc = median(figures.compressed.ms);
  console.log(
    `first load, ${figures.link}: as built ${mi} ms, ${(median(figures.identity.bytes) / 1e6).toFixed(2)} MB; ` +
      `precompressed ${mc} ms, ${(median(figures.compressed.bytes) / 1e6).toFixed(2)} MB ` +
      `(time ${(mc / mi).toFixed(2)}x, bytes ${(median(figures.compressed.bytes) / median(figures.identity.bytes)).toFixed(2)}x); ` +
      `reload with the cache ${figures.cached_reload.ms[0]} ms, ${(figures.cached_reload.bytes[0] / 1e3).toFixed(1)} kB`,
  );
  writeFileSync(join(shots, "first-load.json"), JSON.stringify(figures, null, 1));
});
