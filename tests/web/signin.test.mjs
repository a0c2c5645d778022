// Sign-in: a used invite gives a clear error page, not a blank one; a good
// invite leads to the draft, and signing out leads to the signed-out page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { base, invite, newPage, shot, signIn, tid, withBrowser } from "./lib.mjs";

async function postInvite(token) {
  const r = await fetch(`${base}/api/v1/session`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ invite: token }),
  });
  return { status: r.status, json: await r.json() };
}

test("sign-in with a used invite fails cleanly", async () => {
  const token = invite("used");
  const first = await postInvite(token);
  assert.equal(first.status, 200, JSON.stringify(first.json));
  // What the server says about it now.
  const again = await postInvite(token);
  assert.equal(again.status, 409, JSON.stringify(again.json));
  assert.equal(again.json.error, "invite_used");

  await withBrowser("signin-used", async (browser) => {
    const { page } = await newPage(browser, "used-invite");
    await page.goto(`${base}/join?invite=${encodeURIComponent(token)}`);
    const error = page.locator(tid("signin-error"));
    await error.waitFor({ timeout: 20000 });
    const text = (await error.innerText()).trim();
    // The server's words (the app may capitalise them as a sentence).
    assert.ok(text.toLowerCase().includes(again.json.message.toLowerCase()), `signin-error says ${JSON.stringify(text)}, the server said ${JSON.stringify(again.json.message)}`);
    assert.equal(await page.locator(tid("draft")).count(), 0, "a draft is shown after a failed sign-in");
    const body = (await page.evaluate(() => document.body.innerText)).trim();
    assert.ok(body.length > text.length, "the page shows nothing but the error");
    await shot(page, "signin-used-invite");
  });
});

test("a good invite signs in; sign-out leads to the signed-out page", async () => {
  await withBrowser("signin-good", async (browser) => {
    const { page } = await signIn(browser, "signout", "signout");
    await page.locator(tid("draft-title")).waitFor();
    await page.locator(tid("draft-preamble")).waitFor();
    const me = (await page.locator(tid("me")).innerText()).trim();
    assert.ok(me.includes("Kofi Mensah"), `me shows ${JSON.stringify(me)}`);
    await shot(page, "draft");
    await page.locator(tid("sign-out")).click();
    await page.locator(tid("signed-out")).waitFor({ timeout: 20000 });
    assert.equal(await page.locator(tid("draft")).count(), 0);
    // Still signed out after a reload: the session is over.
    await page.reload();
    await page.locator(tid("signed-out")).waitFor({ timeout: 20000 });
    await shot(page, "signed-out");
  });
});
