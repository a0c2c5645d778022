// An element's comment threads, live from the index document: the passage
// a thread is anchored to, the comment with its mentions highlighted, the
// replies; writing a comment (anchored to the selection if the user asks),
// replying, resolving (the author or a chair).

import * as A from "@automerge/automerge/slim";
import { useMemo, useState } from "preact/hooks";
import { ApiError } from "../lib/api";
import { amendApi, codePoints, mentionParts } from "../lib/amendments";
import { plural } from "../lib/format";
import { useSignal } from "../lib/signal";
import { utc } from "../lib/time";
import type { LiveThread } from "../live/amendments";
import type { DraftSession, ElementState } from "../live/model";

const NONE: LiveThread[] = [];

function Words(props: { text: string; names: string[] }) {
  return (
    <>
      {mentionParts(props.text, props.names).map((p, i) =>
        p.mention ? (
          <mark key={i} class="mention" data-testid="mention">
            {p.text}
          </mark>
        ) : (
          <span key={i}>{p.text}</span>
        ),
      )}
    </>
  );
}

const byline = (name: string | null, entity: string | null, at: number | null) =>
  `${name ?? "Someone"}${entity ? ` (${entity})` : ""}${at != null ? `, ${utc(at)}` : ""}`;

export function Comments(props: { session: DraftSession; state: ElementState; label: string }) {
  const { session, state, label } = props;
  const index = useSignal(session.index);
  const presence = useSignal(session.presence);
  const selection = useSignal(state.selection);
  const threads = index.negotiation.comments[state.id] ?? NONE;
  const open = threads.filter((t) => !t.resolved);
  const resolved = threads.filter((t) => t.resolved);
  const names = useMemo(() => {
    const all = new Set<string>(session.entities.map((e) => e.code));
    for (const p of presence) all.add(p.name);
    for (const t of threads) {
      if (t.user_name) all.add(t.user_name);
      for (const r of t.replies) if (r.user_name) all.add(r.user_name);
    }
    all.add(session.user.name);
    return [...all];
  }, [session, presence, threads]);
  const canWrite = session.user.role !== "reviewer";
  const [text, setText] = useState("");
  const [anchored, setAnchored] = useState(false);
  const [replyTo, setReplyTo] = useState<number | null>(null);
  const [reply, setReply] = useState("");
  const [busy, setBusy] = useState(false);
  const [feedback, setFeedback] = useState<{ state: "ok" | "error"; message: string } | null>(null);
  const base = `comments-${state.id}`;
  const hasSelection = !!selection && selection.from !== selection.to;

  const send = async (body: Parameters<typeof amendApi.comment>[2], done: string) => {
    setBusy(true);
    setFeedback(null);
    try {
      await amendApi.comment(session.draft.id, state.id, body);
      setFeedback({ state: "ok", message: done });
      return true;
    } catch (e) {
      setFeedback({ state: "error", message: e instanceof ApiError ? e.message : String(e) });
      return false;
    } finally {
      setBusy(false);
    }
  };

  const post = async () => {
    const words = text.trim();
    if (!words) return;
    const body: Parameters<typeof amendApi.comment>[2] = { text: words };
    const handle = state.handle.value;
    if (anchored && hasSelection && selection && handle?.isReady()) {
      const doc = handle.doc();
      const full = String(doc.text ?? "");
      const [f, t] = selection.from <= selection.to ? [selection.from, selection.to] : [selection.to, selection.from];
      Object.assign(body, { from: codePoints(full, f), to: codePoints(full, t), heads: A.getHeads(doc) });
    }
    if (await send(body, "Comment added.")) {
      setText("");
      setAnchored(false);
    }
  };

  const resolve = async (id: number) => {
    setBusy(true);
    setFeedback(null);
    try {
      await amendApi.resolve(session.draft.id, state.id, id);
      setFeedback({ state: "ok", message: "Thread resolved." });
    } catch (e) {
      setFeedback({ state: "error", message: e instanceof ApiError ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  };

  const thread = (t: LiveThread) => (
    <li key={t.id} class="thread" data-testid="comment-thread" data-comment-id={String(t.id)} data-resolved={String(t.resolved)}>
      {t.original && (
        <blockquote class="thread-quote" data-testid="comment-quote">
          {t.original}
        </blockquote>
      )}
      <p class="thread-text" data-testid="comment-body">
        <Words text={t.text} names={names} />
      </p>
      <p class="muted thread-by">{byline(t.user_name, t.entity, t.created_at)}</p>
      {t.replies.length > 0 && (
        <ul class="thread-replies" aria-label="Replies">
          {t.replies.map((r) => (
            <li key={r.id} data-testid="comment-reply" data-comment-id={String(r.id)}>
              <p class="thread-text">
                <Words text={r.text} names={names} />
              </p>
              <p class="muted thread-by">{byline(r.user_name, r.entity, r.created_at)}</p>
            </li>
          ))}
        </ul>
      )}
      {canWrite && !t.resolved && (
        <div class="thread-actions">
          {replyTo === t.id ? (
            <form
              class="thread-reply-form"
              onSubmit={async (e) => {
                e.preventDefault();
                const words = reply.trim();
                if (!words) return;
                if (await send({ text: words, reply_to: t.id }, "Reply added.")) {
                  setReply("");
                  setReplyTo(null);
                }
              }}
            >
              <label for={`${base}-reply-${t.id}`}>Your reply</label>
              <textarea id={`${base}-reply-${t.id}`} data-testid="comment-reply-text" rows={2} maxLength={10000} value={reply} onInput={(e) => setReply((e.target as HTMLTextAreaElement).value)} />
              <div class="submit-row">
                <button type="submit" class="compact" data-testid="comment-reply-submit" disabled={busy}>
                  Reply
                </button>
                <button type="button" class="compact secondary" onClick={() => setReplyTo(null)}>
                  Cancel
                </button>
              </div>
            </form>
          ) : (
            <button type="button" class="compact secondary" data-testid="comment-reply-open" onClick={() => setReplyTo(t.id)}>
              Reply
            </button>
          )}
          {(t.user === session.user.id || session.user.role === "chair") && (
            <button type="button" class="compact secondary" data-testid="comment-resolve" disabled={busy} onClick={() => void resolve(t.id)}>
              Resolve
            </button>
          )}
        </div>
      )}
    </li>
  );

  return (
    <details class="threads" data-testid="comments" data-count={String(open.length)}>
      <summary data-testid="comments-toggle">
        {open.length === 0 ? "Comments" : plural(open.length, "open comment", "open comments")}
        <span class="visually-hidden"> on {label}</span>
      </summary>
      {open.length === 0 && <p class="muted">No open comments.</p>}
      <ul class="thread-list">{open.map(thread)}</ul>
      {resolved.length > 0 && (
        <details class="threads-resolved">
          <summary>{plural(resolved.length, "resolved thread", "resolved threads")}</summary>
          <ul class="thread-list">{resolved.map(thread)}</ul>
        </details>
      )}
      {canWrite && (
        <form
          class="thread-new"
          onSubmit={(e) => {
            e.preventDefault();
            void post();
          }}
        >
          <label for={`${base}-new`}>New comment (mention with @ and an entity code or a person’s name)</label>
          <textarea id={`${base}-new`} data-testid="comment-input" rows={2} maxLength={10000} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          <label class="check">
            <input type="checkbox" data-testid="comment-anchor" checked={anchored && hasSelection} disabled={!hasSelection} onChange={(e) => setAnchored((e.target as HTMLInputElement).checked)} />{" "}
            {hasSelection && selection
              ? `About the selected passage “${(state.text() ?? "").slice(Math.min(selection.from, selection.to), Math.max(selection.from, selection.to)).slice(0, 60)}”`
              : "About a passage (select it in the text first)"}
          </label>
          <div class="submit-row">
            <button type="submit" class="compact" data-testid="comment-submit" disabled={busy || !text.trim()}>
              Comment
            </button>
          </div>
        </form>
      )}
      {feedback && (
        <p class={`feedback feedback-${feedback.state}`} data-testid="comment-feedback" data-state={feedback.state} role="status">
          {feedback.message}
        </p>
      )}
    </details>
  );
}
