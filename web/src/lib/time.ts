// Times: the server keeps UTC and so does every view (typed, shown and
// sent in UTC; a browser's local time is never used).

/** "2026-05-01 12:00 UTC" from Unix ms (the server's time is UTC). */
export function utc(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "";
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** "2026-05-01 12:00:05 UTC" from an RFC 3339 time (or Unix ms). */
export function utcTime(at: string | number | null | undefined, seconds = true): string {
  if (at == null || at === "") return "";
  const ms = typeof at === "number" ? at : Date.parse(at);
  if (!Number.isFinite(ms)) return String(at);
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)} UTC`;
}

/** "12:00:05" (UTC). */
export function clockTime(at: string): string {
  const ms = Date.parse(at);
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 19) : at;
}

const DAY = new Intl.DateTimeFormat("en-GB", { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });

/** "Friday 1 May 2026" (UTC). */
export function dayName(at: string): string {
  const ms = Date.parse(at);
  return Number.isFinite(ms) ? DAY.format(ms) : at;
}

/** "2026-05-01 12:00:05.123 UTC": two sides in the same second. */
export function preciseTime(at: string): string {
  const iso = new Date(Date.parse(at)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)} UTC`;
}

/** "1 h 05 min 10 s", "3 d 4 h 10 min", "45 s": a duration for a countdown. */
export function duration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  if (d > 0) return `${d} d ${h} h ${two(m)} min`;
  if (h > 0) return `${h} h ${two(m)} min ${two(s)} s`;
  if (m > 0) return `${m} min ${two(s)} s`;
  return `${s} s`;
}

/** Unix ms → RFC 3339 UTC with milliseconds, as the API writes times. */
export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

/** "12:00:05" (UTC) from Unix ms: a clock. */
export function clockOf(ms: number): string {
  return isoMs(ms).slice(11, 19);
}

/** 1 ms later: "up to then" includes the moment itself (`to` is exclusive). */
export function isoAfter(at: string): string {
  const ms = Date.parse(at);
  return Number.isFinite(ms) ? new Date(ms + 1).toISOString() : at;
}

/** Unix ms → "2026-05-01T12:00:00Z", as the API takes deadlines. */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** A UTC date and time typed as YYYY-MM-DDTHH:MM (a space for the T,
 * seconds, a trailing Z or "UTC" are accepted) → Unix ms; NaN otherwise. */
export function parseUtcInput(value: string): number {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})[T\s](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(?:Z|UTC|\+00:?00)?\s*$/i.exec(value);
  if (!m) return NaN;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? "0"].map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return NaN;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Reject dates that roll over (31 February).
  return new Date(ms).getUTCDate() === d ? ms : NaN;
}

/** Unix ms → "YYYY-MM-DDTHH:MM" (UTC), the deadline field's format. */
export function utcInputValue(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

/**
 * A UTC time typed as `YYYY-MM-DDTHH:MM`, with seconds and a fraction if
 * wanted (a space for the T, a trailing Z or "UTC" are accepted) → RFC 3339
 * UTC (milliseconds kept); null when it is not one.
 */
export function parseTyped(value: string): string | null {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})[T\s](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?\s*(?:Z|UTC|\+00:?00)?\s*$/i.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? "0"].map(Number);
  const frac = Number((m[7] ?? "0").padEnd(3, "0"));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s, frac);
  // Reject dates that roll over (31 February).
  if (new Date(ms).getUTCDate() !== d) return null;
  return isoMs(ms);
}

/** RFC 3339 → the text field's form: `YYYY-MM-DDTHH:MM:SS` (and `.mmm`
 * when there are milliseconds); "" for none. */
export function typedValue(at: string | null | undefined): string {
  if (!at) return "";
  const ms = Date.parse(at);
  if (!Number.isFinite(ms)) return at;
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? iso.slice(0, 19) : iso.slice(0, 23);
}

export function roundUp(ms: number, minutes = 5): number {
  const step = minutes * 60_000;
  return Math.ceil(ms / step) * step;
}

export function weekday(ms: number): string {
  return ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"][new Date(ms).getUTCDay()];
}
