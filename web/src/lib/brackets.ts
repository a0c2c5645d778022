// Square-bracketed passages (text not yet agreed) in an element's text:
// the board lists them and shows them marked. (The editor marks them as
// it draws, in live/editor.ts.)

/** The bracketed passages of a text (outermost), and whether a bracket is unmatched. */
export function brackets(text: string): { passages: string[]; unmatched: boolean } {
  const passages: string[] = [];
  let depth = 0;
  let start = -1;
  let unmatched = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "[") {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === "]") {
      if (depth === 0) unmatched = true;
      else if (--depth === 0) passages.push(text.slice(start, i + 1));
    }
  }
  return { passages, unmatched: unmatched || depth > 0 };
}

/** The text split into plain and bracketed runs. */
export function bracketRuns(text: string): { text: string; bracket: boolean }[] {
  const runs: { text: string; bracket: boolean }[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "[") {
      if (depth === 0 && i > from) {
        runs.push({ text: text.slice(from, i), bracket: false });
        from = i;
      }
      depth++;
    } else if (text[i] === "]" && depth > 0 && --depth === 0) {
      runs.push({ text: text.slice(from, i + 1), bracket: true });
      from = i + 1;
    }
  }
  if (from < text.length) runs.push({ text: text.slice(from), bracket: depth > 0 });
  return runs;
}
