// Entity colours for the history views (compare, attribution, timeline):
// one colour per entity, derived from its index in the draft's entity list
// (`GET /api/v1/drafts/{id}` → `entities`), so every view and every browser
// shows an entity in the same colour. Hues step by the golden angle (each
// new entity lands far from the ones before it); each colour comes as a
// light tint for backgrounds (≥ 10:1 against the text colour) and a strong
// variant for text, underlines and borders (≥ 5:1 against white). Colour is
// never the only cue: legends and tooltips name the entity.

import type { Entity } from "./api";

export interface EntityColour {
  /** Background tint (text on it stays in the normal text colour). */
  bg: string;
  /** Strong variant: text, underlines, strike-throughs, borders, swatches. */
  fg: string;
}

/** Text with no entity (the server's original text, or an author without
 * an entity): neutral grey. */
export const NEUTRAL: EntityColour = { bg: "#e4e7ec", fg: "#4f5866" };

const GOLDEN_ANGLE = 137.508;
const TEXT = [0x1b, 0x22, 0x30]; // --text in styles.css

function linear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function gamma(c: number): number {
  return c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
}

/** OKLCH → linear sRGB (may fall outside 0..1). */
function oklchLinear(l: number, c: number, hueDeg: number): [number, number, number] {
  const h = (hueDeg * Math.PI) / 180;
  const a = c * Math.cos(h);
  const b = c * Math.sin(h);
  const l_ = (l + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m_ = (l - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s_ = (l - 0.0894841775 * a - 1.291485548 * b) ** 3;
  return [
    4.0767416621 * l_ - 3.3077115913 * m_ + 0.2309699292 * s_,
    -1.2684380046 * l_ + 2.6097574011 * m_ - 0.3413193965 * s_,
    -0.0041960863 * l_ - 0.7034186147 * m_ + 1.707614701 * s_,
  ];
}

/** The colour at lightness `l`, hue `h`, with the most chroma up to `c`
 * that sRGB can show; as linear RGB. */
function inGamut(l: number, c: number, h: number): [number, number, number] {
  let chroma = c;
  for (;;) {
    const rgb = oklchLinear(l, chroma, h);
    if (rgb.every((v) => v >= -1e-4 && v <= 1 + 1e-4) || chroma <= 0) return rgb.map((v) => Math.min(1, Math.max(0, v))) as [number, number, number];
    chroma = Math.max(0, chroma - 0.005);
  }
}

function luminance(rgb: readonly number[]): number {
  return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
}

function contrast(a: readonly number[], b: readonly number[]): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

function hex(rgb: readonly number[]): string {
  return `#${rgb.map((v) => Math.round(gamma(v) * 255).toString(16).padStart(2, "0")).join("")}`;
}

const WHITE = [1, 1, 1];
const TEXT_LINEAR = TEXT.map((v) => linear(v / 255));

/** The colour of the entity at `index` in the draft's entity list. */
export function colourAt(index: number): EntityColour {
  // The first hues: teal, purple, ochre, blue (not red first: it reads as
  // an error or an objection).
  const hue = (160 + index * GOLDEN_ANGLE) % 360;
  // Every other lap of the hue circle a little darker and lighter, so
  // neighbours in hue still differ.
  const lap = Math.floor((index * GOLDEN_ANGLE) / 360) % 2;
  let l = lap ? 0.44 : 0.5;
  let fg = inGamut(l, 0.15, hue);
  while (contrast(fg, WHITE) < 5 && l > 0.2) {
    l -= 0.01;
    fg = inGamut(l, 0.15, hue);
  }
  let tl = lap ? 0.9 : 0.93;
  let bg = inGamut(tl, 0.055, hue);
  while (contrast(bg, TEXT_LINEAR) < 10 && tl < 0.99) {
    tl += 0.01;
    bg = inGamut(tl, 0.055, hue);
  }
  return { bg: hex(bg), fg: hex(fg) };
}

/** Colours and names of a draft's entities. */
export class Palette {
  private readonly index = new Map<string, number>();
  private readonly names = new Map<string, string>();
  private readonly cache = new Map<number, EntityColour>();

  constructor(entities: readonly Entity[]) {
    entities.forEach((e, i) => {
      this.index.set(e.code, i);
      this.names.set(e.code, e.name);
    });
  }

  /** The entity's colour; neutral grey for none. An entity missing from the
   * draft's list gets a colour after the listed ones. */
  of(code: string | null | undefined): EntityColour {
    if (!code) return NEUTRAL;
    let i = this.index.get(code);
    if (i === undefined) {
      i = this.index.size;
      this.index.set(code, i);
    }
    let colour = this.cache.get(i);
    if (!colour) {
      colour = colourAt(i);
      this.cache.set(i, colour);
    }
    return colour;
  }

  /** The entity's name (its code when unknown). */
  name(code: string): string {
    return this.names.get(code) ?? code;
  }

  /** CSS custom properties for an element coloured by the entity. */
  style(code: string | null | undefined): Record<string, string> {
    const c = this.of(code);
    return { "--c-bg": c.bg, "--c-fg": c.fg };
  }
}

/** A stable colour slot (0–5) for a user's cursor. */
export function colourOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 6;
}
