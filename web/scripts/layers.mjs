// Checks the web app's imports go one way: no import cycle between source
// files, and each folder of src/ imports only from the layers below it
// (lib ← live ← board, review ← workspace ← main.tsx). Run by
// `npm run typecheck`; no dependencies.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const src = resolve(dirname(fileURLToPath(import.meta.url)), "../src");

/** What each folder (or top-level file) may import, besides itself. */
const MAY_IMPORT = {
  lib: [],
  live: ["lib"],
  board: ["lib", "live"],
  review: ["lib"],
  workspace: ["lib", "live", "board", "review"],
  "main.tsx": ["workspace"],
};

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

function resolveImport(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not this one
    }
  }
  throw new Error(`${relative(src, from)}: cannot resolve ${spec}`);
}

const layerOf = (file) => relative(src, file).split("/")[0];
const graph = new Map();
const problems = [];

for (const file of files(src)) {
  const text = readFileSync(file, "utf8");
  const deps = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)) {
    if (m[1].endsWith(".css")) continue;
    const dep = resolveImport(file, m[1]);
    deps.push(dep);
    const [a, b] = [layerOf(file), layerOf(dep)];
    if (!(a in MAY_IMPORT)) problems.push(`${relative(src, file)}: not in a known folder`);
    else if (a !== b && !MAY_IMPORT[a].includes(b)) problems.push(`${relative(src, file)} imports ${relative(src, dep)}: ${a} may not import ${b}`);
  }
  for (const m of text.matchAll(/^\s*import\s+"(\.[^"]+)"/gm)) if (!m[1].endsWith(".css")) deps.push(resolveImport(file, m[1]));
  graph.set(file, deps);
}

// Cycles: depth-first search, reporting each back edge's cycle.
const state = new Map();
const stack = [];
function visit(file) {
  state.set(file, "open");
  stack.push(file);
  for (const dep of graph.get(file) ?? []) {
    if (state.get(dep) === "open") {
      const cycle = stack.slice(stack.indexOf(dep)).concat(dep);
      problems.push(`import cycle: ${cycle.map((f) => relative(src, f)).join(" → ")}`);
    } else if (!state.has(dep)) visit(dep);
  }
  stack.pop();
  state.set(file, "done");
}
for (const file of graph.keys()) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(`layers: ${graph.size} files, no import cycles, every import goes one way`);
