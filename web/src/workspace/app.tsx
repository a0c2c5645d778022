// Sign-in, the signed-out and error pages, and the workspace: header
// (who, connection, save state, sign out), the drafts and the routes to
// the draft view, the board and the history views.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { Board } from "../board/board";
import { api, ApiError, setUnauthorizedHandler, type Draft, type Me } from "../lib/api";
import { ROLE_WORDS } from "../lib/format";
import { Signal, useSignal } from "../lib/signal";
import { loadAutomerge } from "../live/automerge";
import { DraftSession } from "../live/model";
import { SyncClient } from "../live/sync";
import { REVIEW_VIEWS, Review, type ReviewView } from "../review/shell";
import { DraftView } from "./draft";

declare global {
  interface Window {
    __accord?: { repo: SyncClient["repo"]; setOnline(online: boolean): void };
  }
}

type Screen =
  | { kind: "loading"; message: string }
  | { kind: "signin-error"; message: string }
  | { kind: "signed-out"; why: "expired" | "signed-out" | "not-signed-in"; detail?: string }
  | { kind: "error"; message: string }
  | { kind: "workspace"; me: Me; drafts: Draft[]; sync: SyncClient };

const CACHE_ME = "accord-last-me";
const CACHE_DRAFTS = "accord-last-drafts";

function cache(me: Me, drafts: Draft[]) {
  try {
    localStorage.setItem(CACHE_ME, JSON.stringify(me));
    localStorage.setItem(CACHE_DRAFTS, JSON.stringify(drafts));
  } catch {
    // only the offline start needs it
  }
}

function cached(): { me: Me; drafts: Draft[] } | undefined {
  try {
    const me = localStorage.getItem(CACHE_ME);
    const drafts = localStorage.getItem(CACHE_DRAFTS);
    if (me && drafts) return { me: JSON.parse(me) as Me, drafts: JSON.parse(drafts) as Draft[] };
  } catch {
    // unreadable: start online
  }
  return undefined;
}

function forgetLocal() {
  for (const key of [CACHE_ME, CACHE_DRAFTS]) localStorage.removeItem(key);
}

export function App() {
  const [screen, setScreen] = useState<Screen>({ kind: "loading", message: "Loading Accord…" });
  const syncRef = useRef<SyncClient | undefined>(undefined);

  const signedOut = async (why: "expired" | "signed-out", detail?: string) => {
    const sync = syncRef.current;
    syncRef.current = undefined;
    delete window.__accord;
    if (sync) await sync.close();
    setScreen({ kind: "signed-out", why, detail });
  };

  useEffect(() => {
    setUnauthorizedHandler(() => void signedOut("expired"));
    void boot();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  async function boot() {
    const url = new URL(location.href);
    if (url.pathname === "/join" || url.pathname === "/join/") {
      const invite = url.searchParams.get("invite")?.trim();
      // The token is spent (or useless) either way: keep it out of the history.
      history.replaceState(null, "", "/join");
      if (!invite) {
        setScreen({ kind: "signin-error", message: "This sign-in link is incomplete: it carries no invite. Open the whole link you were sent." });
        return;
      }
      setScreen({ kind: "loading", message: "Signing you in…" });
      try {
        await api.signIn(invite);
      } catch (e) {
        setScreen({ kind: "signin-error", message: e instanceof Error ? e.message : String(e) });
        return;
      }
      history.replaceState(null, "", "/");
    }
    const wasm = loadAutomerge();
    let me: Me;
    let drafts: Draft[];
    try {
      me = await api.me();
      drafts = await api.drafts();
      cache(me, drafts);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setScreen({ kind: "signed-out", why: "not-signed-in" });
        return;
      }
      const last = e instanceof ApiError && e.status === 0 ? cached() : undefined;
      if (!last) {
        setScreen({ kind: "error", message: e instanceof Error ? e.message : String(e) });
        return;
      }
      ({ me, drafts } = last);
    }
    try {
      await wasm;
    } catch (e) {
      setScreen({ kind: "error", message: `The editor could not start: ${e instanceof Error ? e.message : String(e)}` });
      return;
    }
    const sync = new SyncClient(me.user.id);
    syncRef.current = sync;
    window.__accord = { repo: sync.repo, setOnline: (online: boolean) => sync.setOnline(online) };
    setScreen({ kind: "workspace", me, drafts, sync });
  }

  switch (screen.kind) {
    case "loading":
      return (
        <Page title="Accord">
          <p role="status">{screen.message}</p>
        </Page>
      );
    case "signin-error":
      return (
        <Page title="Could not sign you in">
          <p class="error-box" data-testid="signin-error" role="alert">
            {screen.message}
          </p>
          <p>An invite link works once and for a limited time. Ask the chair or the secretariat for a new link.</p>
          <p>
            <a href="/">Go to Accord</a> (if you are already signed in on this browser)
          </p>
        </Page>
      );
    case "signed-out":
      return (
        <Page title="You are signed out">
          <div data-testid="signed-out" role="status">
            <p>
              {screen.why === "expired"
                ? "Your session has ended."
                : screen.why === "signed-out"
                  ? "You have signed out of Accord on this browser, and its local copy of the drafts was deleted."
                  : "You are not signed in on this browser."}
            </p>
            <p>To sign in, use your invite link, or ask the chair or the secretariat for a new one.</p>
            {screen.detail && <p class="muted">{screen.detail}</p>}
          </div>
        </Page>
      );
    case "error":
      return (
        <Page title="Accord cannot start">
          <p class="error-box" role="alert">
            {screen.message}
          </p>
          <p>
            <button type="button" onClick={() => location.reload()}>
              Try again
            </button>
          </p>
        </Page>
      );
    case "workspace":
      return <Workspace me={screen.me} drafts={screen.drafts} sync={screen.sync} onSignedOut={signedOut} />;
  }
}

function Page(props: { title: string; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} — Accord`;
  }, [props.title]);
  return (
    <main class="page" id="main">
      <p class="brand">Accord</p>
      <h1>{props.title}</h1>
      {props.children}
    </main>
  );
}

// ------------------------------------------------------------- navigation

/** The path and query; `navigate` pushes (or replaces) a history entry. */
function usePath(): [string, string, (to: string, replace?: boolean) => void] {
  const [where, setWhere] = useState({ path: location.pathname, search: location.search });
  useEffect(() => {
    const onPop = () => setWhere({ path: location.pathname, search: location.search });
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate = (to: string, replace = false) => {
    const url = new URL(to, location.href);
    if (url.pathname !== location.pathname || url.search !== location.search) {
      if (replace) history.replaceState(null, "", url.pathname + url.search);
      else history.pushState(null, "", url.pathname + url.search);
    }
    const samePage = url.pathname === where.path;
    setWhere({ path: url.pathname, search: url.search });
    if (!samePage) window.scrollTo(0, 0);
  };
  return [where.path, where.search, navigate];
}

const NO_SESSION = new Signal(0);

// -------------------------------------------------------------- workspace

function Workspace(props: { me: Me; drafts: Draft[]; sync: SyncClient; onSignedOut: (why: "expired" | "signed-out", detail?: string) => Promise<void> }) {
  const { me, sync } = props;
  const [drafts, setDrafts] = useState(props.drafts);
  const [path, search, navigate] = usePath();
  const match = /^\/drafts\/([^/]+?)(?:\/(board|history|read|compare|attribution))?\/?$/.exec(path);
  const wantedId = match ? decodeURIComponent(match[1]) : drafts[0]?.id;
  const isChair = me.user.role === "chair";
  const onBoard = match?.[2] === "board";
  const reviewView = REVIEW_VIEWS.includes(match?.[2] as ReviewView) ? (match?.[2] as ReviewView) : null;
  const projector = onBoard && new URLSearchParams(search).get("projector") === "1";
  const draftPath = (id: string) => `/drafts/${encodeURIComponent(id)}`;
  const draft = drafts.find((d) => d.id === wantedId);
  const [missing, setMissing] = useState<string | null>(null);
  const connection = useSignal(sync.connection);
  const [session, setSession] = useState<DraftSession | undefined>(undefined);
  const unsaved = useSignal(session?.unsaved ?? NO_SESSION);
  const [signOut, setSignOut] = useState<null | { phase: "waiting" | "working" | "error"; message?: string }>(null);
  const confirmRef = useRef<((choice: "confirmed" | "cancelled") => void) | undefined>(undefined);

  // Unknown paths go to the first draft; the board is for chairs only.
  useEffect(() => {
    if (path !== "/" && !match) navigate("/");
    else if (onBoard && !isChair && wantedId) navigate(draftPath(wantedId), true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path]);

  // A draft not in the list (created since): ask the server.
  useEffect(() => {
    if (!wantedId || draft) return;
    let live = true;
    api
      .draft(wantedId)
      .then((d) => live && setDrafts((list) => [...list.filter((x) => x.id !== d.id), d]))
      .catch((e) => live && setMissing(e instanceof ApiError && e.status === 404 ? "There is no draft at this address that you may see." : String(e.message ?? e)));
    return () => {
      live = false;
    };
  }, [wantedId, draft]);

  useEffect(() => {
    if (!draft) return;
    const s = new DraftSession(draft, me.user, sync);
    s.start();
    setSession(s);
    document.title = `${draft.title} — Accord`;
    return () => {
      s.dispose();
      setSession(undefined);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [draft?.id]);

  // Disconnected for a while: has the session ended? (The websocket upgrade
  // is refused without one, and the adapter would retry forever.)
  useEffect(() => {
    if (connection !== "connecting") return;
    let stopped = false;
    const check = async () => {
      if (stopped) return;
      try {
        await api.me();
      } catch (e) {
        if (!stopped && e instanceof ApiError && e.status === 401) void props.onSignedOut("expired");
      }
    };
    const first = setTimeout(check, 4000);
    const again = setInterval(check, 15000);
    return () => {
      stopped = true;
      clearTimeout(first);
      clearInterval(again);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [connection]);

  const finishSignOut = async () => {
    setSignOut({ phase: "working" });
    await sync.close();
    await sync.deleteDatabase();
    forgetLocal();
    try {
      await api.signOut();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) {
        await props.onSignedOut(
          "signed-out",
          `The server could not be reached to end the session (${e instanceof Error ? e.message : String(e)}). It ends by itself when it expires.`,
        );
        return;
      }
    }
    await props.onSignedOut("signed-out");
  };

  const startSignOut = async () => {
    if (signOut) return;
    if (!session || (await session.whenAllSaved(1500))) {
      await finishSignOut();
      return;
    }
    setSignOut({ phase: "waiting" });
    const decided = new Promise<"confirmed" | "cancelled">((resolve) => (confirmRef.current = resolve));
    const saved = session.whenAllSaved(24 * 3600 * 1000).then(() => "saved" as const);
    const outcome = await Promise.race([saved, decided]);
    confirmRef.current = undefined;
    if (outcome === "cancelled") setSignOut(null);
    else await finishSignOut();
  };

  const saveState = unsaved === 0 ? "saved" : connection === "connected" ? "saving" : "unsaved";
  const saveText =
    saveState === "saved"
      ? "All changes saved"
      : saveState === "saving"
        ? "Saving…"
        : `Offline — ${unsaved} ${unsaved === 1 ? "element" : "elements"} not saved yet`;
  const connectionText =
    connection === "connected" ? "Connected" : connection === "offline" ? "Offline — edits will sync on reconnect" : "Reconnecting…";
  // What a phone's one-row header shows instead (the full words stay for
  // screen readers): the dot alone while all is well.
  const saveShort = saveState === "saved" ? "Saved" : saveState === "saving" ? "Saving…" : `${unsaved} unsaved`;
  const connectionShort = connection === "connected" ? "" : connection === "offline" ? "Offline" : "Reconnecting…";

  return (
    <>
      <a class="skip" href="#main">
        Skip to the draft
      </a>
      <header class="topbar">
        <div class="topbar-inner">
          <span class="brand">Accord</span>
          <span class="me" data-testid="me">
            {me.user.name}
            <span class="muted">
              {" · "}
              {ROLE_WORDS[me.user.role] ?? me.user.role}
              {me.user.entity ? ` · ${me.user.entity}` : ""}
            </span>
          </span>
          <span class={`pill conn conn-${connection}`} data-testid="connection" data-state={connection} role="status" aria-live="polite">
            <span class="dot" aria-hidden="true" />
            <span class="pill-long">{connectionText}</span>
            {connectionShort && (
              <span class="pill-short" aria-hidden="true">
                {connectionShort}
              </span>
            )}
          </span>
          <span class={`pill save save-${saveState}`} data-testid="save-state" data-state={saveState} role="status" aria-live="polite">
            <span class="pill-long">{saveText}</span>
            <span class="pill-short" aria-hidden="true">
              {saveShort}
            </span>
          </span>
          <span class="spacer" />
          <DeviceLinkButton />
          <button type="button" class="compact" data-testid="sign-out" onClick={startSignOut} disabled={signOut?.phase === "working"}>
            Sign out
          </button>
        </div>
        {drafts.length > 1 && (
          <nav class="drafts-nav" aria-label="Drafts">
            <ul>
              {drafts.map((d) => (
                <li key={d.id}>
                  <a
                    href={`/drafts/${encodeURIComponent(d.id)}`}
                    aria-current={d.id === draft?.id ? "page" : undefined}
                    onClick={(e) => {
                      e.preventDefault();
                      navigate(`/drafts/${encodeURIComponent(d.id)}`);
                    }}
                  >
                    {d.title}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
      </header>
      {signOut && signOut.phase !== "error" && (
        <div class="overlay">
          <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="signout-h" aria-describedby="signout-d">
            <h2 id="signout-h">Signing out</h2>
            {signOut.phase === "waiting" ? (
              <>
                <p id="signout-d">
                  {unsaved} {unsaved === 1 ? "element has" : "elements have"} edits the server has not stored yet.{" "}
                  {connection === "connected" ? "Waiting for them to be saved…" : "You are offline: they will be lost if you sign out now."}
                </p>
                <div class="dialog-buttons">
                  <button type="button" onClick={() => confirmRef.current?.("confirmed")} class="danger">
                    Sign out anyway
                  </button>
                  <button type="button" autoFocus onClick={() => confirmRef.current?.("cancelled")}>
                    Cancel
                  </button>
                </div>
              </>
            ) : (
              <p id="signout-d" role="status">
                Deleting this browser’s copy of the drafts and ending your session…
              </p>
            )}
          </div>
        </div>
      )}
      {draft && reviewView ? (
        <Review key={draft.id} draft={draft} me={me} view={reviewView} search={search} navigate={navigate} />
      ) : session && draft ? (
        onBoard && isChair ? (
          <Board
            key={draft.id}
            session={session}
            draft={draft}
            me={me}
            projector={projector}
            onProjector={(on) => navigate(`${draftPath(draft.id)}/board${on ? "?projector=1" : ""}`, true)}
            onBack={() => navigate(draftPath(draft.id))}
          />
        ) : (
          <DraftView
            key={draft.id}
            session={session}
            draft={draft}
            me={me}
            onOpenBoard={isChair ? () => navigate(`${draftPath(draft.id)}/board`) : undefined}
            onOpenHistory={() => navigate(`${draftPath(draft.id)}/history`)}
          />
        )
      ) : (
        <main class="page" id="main">
          {drafts.length === 0 ? (
            <p>There is no draft for you yet.</p>
          ) : missing ? (
            <p class="error-box" role="alert">
              {missing}
            </p>
          ) : (
            <p role="status">Opening the draft…</p>
          )}
        </main>
      )}
    </>
  );
}

function DeviceLinkButton() {
  const [link, setLink] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const create = async () => {
    setOpen(true);
    setError(null);
    try {
      setLink((await api.deviceLink()).link);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <>
      <button type="button" class="secondary compact" onClick={create} title="Sign in on another device">
        Link a device
      </button>
      {open && (
        <div class="overlay">
          <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="device-h">
            <h2 id="device-h">Sign in on another device</h2>
            {error ? (
              <p class="error-box">{error}</p>
            ) : link ? (
              <>
                <p>Open this link on the other device. It works once, for a few minutes.</p>
                <label for="device-link">Sign-in link</label>
                <input id="device-link" class="link-box" readOnly value={link} onFocus={(e) => (e.target as HTMLInputElement).select()} />
              </>
            ) : (
              <p role="status">Creating a link…</p>
            )}
            <div class="dialog-buttons">
              {link && (
                <button type="button" onClick={() => void navigator.clipboard?.writeText(link)}>
                  Copy
                </button>
              )}
              <button
                type="button"
                autoFocus
                onClick={() => {
                  setOpen(false);
                  setLink(null);
                }}
              >
                Close
              </button>
            </div>
          </div>
        </div>
      )}
    </>
  );
}
