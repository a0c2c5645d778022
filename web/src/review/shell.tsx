// The reviewer's history views (timeline, reading at a moment, compare,
// attribution): their shell — the navigation between them, the data they
// all need (the draft now, named versions, the people in the history) and
// the view chosen. Read-only, for every role that sees the draft.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, type Draft, type Me, type NamedVersion, type Person } from "../lib/api";
import { Palette } from "../lib/colours";
import { Attribution } from "./attribution";
import { Compare } from "./compare";
import { draftPath, errorMessage, Link, ReviewError, reviewPath, type Navigate, type ReviewContext, type ReviewView } from "./kit";
import { Reading } from "./reading";
import { Timeline } from "./timeline";

export { REVIEW_VIEWS, type ReviewView } from "./kit";

const VIEW_TITLES: Record<ReviewView, string> = {
  history: "History",
  read: "Read the draft at a moment",
  compare: "Compare two versions",
  attribution: "Who wrote what",
};

const NAV: { view: ReviewView; label: string; testid: string }[] = [
  { view: "history", label: "Timeline", testid: "nav-timeline" },
  { view: "read", label: "Read at a moment", testid: "nav-read" },
  { view: "compare", label: "Compare", testid: "nav-compare" },
  { view: "attribution", label: "Who wrote what", testid: "nav-attribution" },
];

/** The review views of one draft: navigation, shared data, the view. */
export function Review(props: { draft: Draft; me: Me; view: ReviewView; search: string; navigate: Navigate }) {
  const { view, navigate } = props;
  const draftId = props.draft.id;
  const [draft, setDraft] = useState<Draft>(props.draft);
  const [versions, setVersions] = useState<NamedVersion[] | null>(null);
  const [people, setPeople] = useState<Person[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const firstView = useRef(true);

  // The draft as it is now (elements added or archived since sign-in) and
  // the named versions: at the start and on each change of view.
  useEffect(() => {
    let live = true;
    api
      .draft(draftId)
      .then((d) => live && setDraft(d))
      .catch((e) => live && setLoadError(errorMessage(e)));
    api
      .versions(draftId)
      .then((v) => {
        if (!live) return;
        setVersions([...v.versions].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at)));
        setLoadError(null);
      })
      .catch((e) => {
        if (!live) return;
        setVersions((before) => before ?? []);
        setLoadError(errorMessage(e));
      });
    return () => {
      live = false;
    };
  }, [draftId, view]);

  useEffect(() => {
    let live = true;
    api
      .historyPeople(draftId)
      .then((p) => live && setPeople([...p.people].sort((a, b) => a.name.localeCompare(b.name))))
      .catch(() => live && setPeople(null));
    return () => {
      live = false;
    };
  }, [draftId]);

  const palette = useMemo(() => new Palette(draft.entities ?? []), [draft.entities]);

  useEffect(() => {
    document.title = `${VIEW_TITLES[view]} — ${draft.title} — Accord`;
  }, [view, draft.title]);

  // A new view: its heading takes the focus (not on the first page load).
  useEffect(() => {
    if (firstView.current) {
      firstView.current = false;
      return;
    }
    heading.current?.focus({ preventScroll: true });
  }, [view]);

  const ctx: ReviewContext = { draftId, draft, palette, versions, people, me: props.me, search: props.search, navigate };

  return (
    <main class="review" id="main" data-view={view}>
      <div class="review-head">
        <p class="back">
          <Link href={draftPath(draftId)} navigate={navigate} testid="back-to-draft">
            ← Back to the draft
          </Link>
        </p>
        <p class="review-kicker">
          <span class="review-kicker-tag">Review</span> {draft.title}
        </p>
        <nav class="review-nav" data-testid="review-nav" aria-label="History views">
          <ul>
            {NAV.map((n) => (
              <li key={n.view}>
                <Link href={reviewPath(draftId, n.view)} navigate={navigate} testid={n.testid} aria-current={n.view === view ? "page" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <h1 ref={heading} tabIndex={-1}>
          {VIEW_TITLES[view]}
        </h1>
        <p class="review-note muted">Read-only: nothing here changes the draft. All times are UTC.</p>
      </div>
      <ReviewError message={loadError} />
      {view === "history" && <Timeline ctx={ctx} />}
      {view === "read" && <Reading ctx={ctx} />}
      {view === "compare" && <Compare ctx={ctx} />}
      {view === "attribution" && <Attribution ctx={ctx} />}
    </main>
  );
}
