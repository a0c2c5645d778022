// The timeline's entries: one page of them (rendered once), each kind of
// entry (a revision, a position, a procedural event, folded positions) and
// who made it.

import { Component } from "preact";
import type { EventItem, HistoryItem, PositionItem, RevisionItem, Stance } from "../lib/api";
import type { Palette } from "../lib/colours";
import { STANCE_LABEL } from "../lib/format";
import { clockTime, dayName, isoMs, utcTime } from "../lib/time";
import { blockItem, isLandmark, itemAt, itemKey, versionName, type Block } from "./fold";
import { EntityChip, Link, reviewPath, type Navigate } from "./kit";
import { negotiationSentence } from "./negotiation";

interface PageProps {
  blocks: Block[];
  previous: HistoryItem | null;
  draftId: string;
  palette: Palette;
  labels: Map<string, string>;
  navigate: Navigate;
}

/** One page of entries; rendered once (pages loaded later leave it alone). */
export class TimelinePage extends Component<PageProps> {
  shouldComponentUpdate(next: PageProps) {
    return next.blocks !== this.props.blocks || next.previous !== this.props.previous || next.palette !== this.props.palette || next.labels.size !== this.props.labels.size;
  }

  render() {
    const { blocks, previous } = this.props;
    const out = [];
    let lastDay = previous ? dayName(itemAt(previous)) : null;
    for (const block of blocks) {
      const item = blockItem(block);
      const day = dayName(itemAt(item));
      if (day !== lastDay) {
        out.push(
          <li key={`day-${itemKey(item)}`} class="tl-day">
            <h2>{day}</h2>
          </li>,
        );
        lastDay = day;
      }
      if (block.kind === "silence") out.push(<SilenceGroup key={`group-${itemKey(item)}`} {...this.props} group={block.items} />);
      else if (block.kind === "positions") out.push(<PositionGroup key={`group-${itemKey(item)}`} {...this.props} group={block.items} />);
      else out.push(<Entry key={itemKey(item)} item={item} {...this.props} />);
    }
    return <>{out}</>;
  }
}

/** Chair actions on an element that read "<chair> <verb> <element>". */
const CHAIR_ACTS: Record<string, string> = {
  element_archived: "archived",
  element_restored: "restored",
  silence_started: "started the silence procedure on",
  silence_cancelled: "cancelled the silence procedure on",
  element_adopted: "adopted",
  element_reopened: "reopened",
};

/** Positions recorded by one silence, folded: who, then each on request. */
function SilenceGroup(props: PageProps & { group: PositionItem[] }) {
  const items = props.group;
  const first = items[0];
  const label = (first.element && (first.label ?? props.labels.get(first.element))) || first.element || "";
  return (
    <li class="tl-group" data-testid="timeline-silence-group">
      <details>
        <summary>
          <span class="tl-when">
            <time dateTime={first.at} title={utcTime(first.at)}>
              {clockTime(first.at)}
            </time>
          </span>
          <span class="tl-marker tl-fold" aria-hidden="true">
            ▸
          </span>
          <span>
            Support recorded by silence for {plural(items.length, "entity", "entities")} on <strong class="tl-label">{label}</strong>:{" "}
            {items.map((i) => i.entity).join(", ")}
          </span>
        </summary>
        <ol class="tl-list tl-group-list">
          {items.map((item) => (
            <Entry key={itemKey(item)} item={item} {...props} />
          ))}
        </ol>
      </details>
    </li>
  );
}

/** The order stances are counted in. */
const STANCES: Stance[] = ["support", "support_ad_ref", "reservation", "abstain", "object"];

/** Positions stated on one element close together, folded: how many of
 *  each stance and by whom, then each on request. */
function PositionGroup(props: PageProps & { group: PositionItem[] }) {
  const items = props.group;
  const first = items[0];
  const last = items[items.length - 1];
  const label = (first.element && (first.label ?? props.labels.get(first.element))) || first.element || "";
  const tally = new Map<string, number>();
  for (const item of items) tally.set(item.position, (tally.get(item.position) ?? 0) + 1);
  const order = [...STANCES.filter((s) => tally.has(s)), ...[...tally.keys()].filter((s) => !STANCES.includes(s as Stance))];
  const counts = order.map((s) => `${tally.get(s)} ${(STANCE_LABEL[s as Stance] ?? s).toLowerCase()}`).join(", ");
  const entities = [...new Set(items.map((i) => i.entity))];
  const range = clockTime(first.at) === clockTime(last.at) ? clockTime(first.at) : `${clockTime(first.at)}–${clockTime(last.at)}`;
  return (
    <li
      class="tl-group tl-position-group"
      data-testid="timeline-position-group"
      data-element-id={first.element ?? ""}
      data-count={items.length}
      data-counts={order.map((s) => `${s}:${tally.get(s)}`).join(" ")}
      data-at={first.at}
    >
      <details>
        <summary>
          <span class="tl-when">
            <time dateTime={first.at} title={`${utcTime(first.at)} to ${utcTime(last.at)}`}>
              {range}
            </time>
          </span>
          <span class="tl-marker tl-fold" aria-hidden="true">
            ▸
          </span>
          <span class="tl-group-text">
            <span class="tl-group-summary" data-testid="position-group-summary">
              {plural(items.length, "position")} on <strong class="tl-label">{label}</strong>: {counts}
            </span>
            <span class="tl-group-who muted">
              {" "}
              — {entities.length === 1 ? "by " : `${entities.length} entities: `}
              {entities.join(", ")}
            </span>
          </span>
        </summary>
        <ol class="tl-list tl-group-list">
          {items.map((item) => (
            <Entry key={itemKey(item)} item={item} {...props} />
          ))}
        </ol>
      </details>
    </li>
  );
}

function Entry(props: PageProps & { item: HistoryItem }) {
  const { item, draftId, palette, navigate } = props;
  const at = itemAt(item);
  const landmark = isLandmark(item);
  const type = item.kind === "revision" ? "revision" : item.kind === "position" ? item.position : item.type;
  const name = landmark ? versionName(item) : "";
  const label = (item.element && (item.label ?? props.labels.get(item.element))) || item.element || "";
  return (
    <li
      class={`tl-item tl-${item.kind}${landmark ? " tl-landmark" : ""}`}
      data-testid="timeline-item"
      data-kind={item.kind}
      data-type={type}
      data-entity={item.entity ?? ""}
      data-user={item.user ?? ""}
      data-element-id={item.element ?? ""}
      data-at={at}
      data-version={landmark ? name : undefined}
      style={palette.style(item.entity)}
    >
      <div class="tl-when">
        <time dateTime={at} title={utcTime(at)}>
          {item.kind === "revision" && clockTime(item.start) !== clockTime(item.end) ? `${clockTime(item.start)}–${clockTime(item.end)}` : clockTime(at)}
        </time>
      </div>
      <div class="tl-marker" aria-hidden="true">
        {landmark ? "⚑" : item.kind === "revision" ? "✎" : item.kind === "position" ? "●" : "◆"}
      </div>
      <div class="tl-body">
        {item.kind === "revision" && <RevisionEntry item={item} label={label} palette={palette} />}
        {item.kind === "position" && <PositionEntry item={item} label={label} palette={palette} />}
        {item.kind === "event" && <EventEntry item={item} label={label} />}
        <p class="tl-links">
          {landmark && name && (
            <>
              <Link href={reviewPath(draftId, "read", { version: name })} navigate={navigate} testid="read-version">
                Read {name}
              </Link>
              <Link href={reviewPath(draftId, "compare", { from: `name:${name}`, to: "now" })} navigate={navigate} testid="compare-version-now">
                Compare {name} with now
              </Link>
            </>
          )}
          {item.kind === "revision" && (
            <Link
              href={reviewPath(draftId, "compare", { from: `at:${isoMs(Date.parse(item.start) - 1)}`, to: `at:${item.end}` })}
              navigate={navigate}
              testid="compare-revision"
            >
              See this change
            </Link>
          )}
          <Link href={reviewPath(draftId, "read", { at })} navigate={navigate} testid="read-at">
            Read the draft then
          </Link>
        </p>
      </div>
    </li>
  );
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function Who(props: { name: string | null; entity: string | null; palette: Palette }) {
  return (
    <>
      <strong>{props.name ?? "Someone"}</strong>
      {props.entity && (
        <>
          {" "}
          <EntityChip code={props.entity} palette={props.palette} />
        </>
      )}
    </>
  );
}

function RevisionEntry(props: { item: RevisionItem; label: string; palette: Palette }) {
  const { item } = props;
  const counts = [item.inserted > 0 ? `+${plural(item.inserted, "character")} inserted` : "", item.deleted > 0 ? `−${plural(item.deleted, "character")} deleted` : ""].filter(Boolean);
  return (
    <>
      <p class="tl-summary">
        <Who name={item.user_name} entity={item.entity} palette={props.palette} /> edited <strong class="tl-label">{props.label}</strong>
      </p>
      <p class="tl-detail">
        {counts.length ? counts.join(", ") : "No characters changed"} · {plural(item.changes, "change")}
        {item.start.slice(0, 10) !== item.end.slice(0, 10) && (
          <span class="muted">
            {" "}
            · from {utcTime(item.start)} to {utcTime(item.end)}
          </span>
        )}
      </p>
    </>
  );
}

function PositionEntry(props: { item: PositionItem; label: string; palette: Palette }) {
  const { item } = props;
  return (
    <>
      <p class="tl-summary">
        <EntityChip code={item.entity} palette={props.palette} />{" "}
        <span class={`cell cell-${item.position}`}>{STANCE_LABEL[item.position] ?? item.position}</span> on <strong class="tl-label">{props.label}</strong>
        <span class="muted">
          {" "}
          — {item.by_silence ? "by silence (no objection before the deadline)" : `stated by ${item.user_name ?? "a delegate"}`}
        </span>
      </p>
      {item.note && (
        <p class="tl-detail">
          {item.position === "object" ? "Reason" : "Note"}: {item.note}
        </p>
      )}
      {item.wording && (
        <p class="tl-detail">
          Proposed wording: <q class="tl-wording">{item.wording}</q>
        </p>
      )}
    </>
  );
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : null;
}

function EventEntry(props: { item: EventItem; label: string }) {
  const { item, label } = props;
  const d = item.data ?? {};
  const who = item.user_name ?? (item.user ? item.user : null);
  const by = who ? (
    <>
      <strong>{who}</strong>
      {item.entity ? ` (${item.entity})` : ""}
    </>
  ) : null;
  const el = <strong class="tl-label">{label || str(d.label) || "an element"}</strong>;
  let sentence;
  let detail: string | null = null;
  switch (item.type) {
    case "draft_created":
      sentence = <>The draft was created{str(d.title) ? <>: “{str(d.title)}”</> : ""}</>;
      break;
    case "draft_updated": {
      const what = [d.title !== undefined ? "title" : "", d.preamble !== undefined ? "preamble" : ""].filter(Boolean).join(" and ") || "title or preamble";
      sentence = <>{by ?? "A chair"} changed the draft’s {what}</>;
      if (str(d.title)) detail = `New title: ${str(d.title)}`;
      break;
    }
    case "element_added":
      sentence = (
        <>
          {by ?? "A chair"} added the element <strong class="tl-label">{str(d.label) ?? label}</strong>
        </>
      );
      break;
    case "element_renamed":
      sentence = (
        <>
          {by ?? "A chair"} renamed <strong class="tl-label">{str(d.from) ?? "an element"}</strong> to <strong class="tl-label">{str(d.to) ?? label}</strong>
        </>
      );
      break;
    case "element_moved": {
      const from = typeof d.from === "number" ? d.from + 1 : null;
      const to = typeof d.to === "number" ? d.to + 1 : null;
      sentence = (
        <>
          {by ?? "A chair"} moved {el}
          {from && to ? ` from position ${from} to ${to}` : ""}
        </>
      );
      break;
    }
    case "element_archived":
    case "element_restored":
    case "silence_started":
    case "silence_cancelled":
    case "element_adopted":
    case "element_reopened":
      sentence = (
        <>
          {by ?? "A chair"} {CHAIR_ACTS[item.type]} {el}
        </>
      );
      if (item.type === "silence_started" && (typeof d.deadline === "number" || typeof d.deadline === "string")) detail = `Deadline: ${utcTime(d.deadline)}`;
      break;
    case "silence_broken":
      sentence = (
        <>
          {item.entity ? <strong>{item.entity}</strong> : by ?? "Someone"} broke the silence on {el}
          {who && item.entity ? <span class="muted"> (by {who})</span> : ""}
        </>
      );
      if (str(d.reason)) detail = `Reason: ${str(d.reason)}`;
      break;
    case "silence_fired":
      sentence = <>The silence on {el} ended with no objection: agreed by silence</>;
      if (typeof d.recorded === "number") detail = `${plural(d.recorded, "position")} recorded by silence`;
      break;
    case "positions_stale": {
      const stale = Array.isArray(d.stale) ? d.stale.filter((e): e is string => typeof e === "string") : [];
      sentence = (
        <>
          {by ? <>Edit by {by}</> : "An edit"} made the {stale.length === 1 ? "position" : "positions"} of <strong data-testid="stale-entities">{stale.join(", ")}</strong> on {el} stale
        </>
      );
      detail = `Positions given on the earlier text no longer count until ${stale.length === 1 ? "it is" : "they are"} stated again.`;
      break;
    }
    case "version_named":
      sentence = (
        <>
          Version <strong class="tl-version">{str(d.name) ?? ""}</strong> named{who ? <> by {by}</> : ""}
        </>
      );
      break;
    case "draft_adopted":
      sentence = (
        <>
          The draft was adopted{str(d.name) ? <> as <strong class="tl-version">{str(d.name)}</strong></> : ""}
          {who ? <> by {by}</> : ""}
        </>
      );
      break;
    default: {
      const words = negotiationSentence(item, by, el);
      if (words) {
        sentence = words.sentence;
        detail = words.detail;
        break;
      }
      sentence = (
        <>
          {String(item.type).replace(/_/g, " ")}
          {label ? <> — {el}</> : ""}
          {by ? <> — {by}</> : ""}
        </>
      );
    }
  }
  return (
    <>
      <p class="tl-summary">{sentence}</p>
      {detail && <p class="tl-detail">{detail}</p>}
    </>
  );
}
