import { defineConfig } from "vite";

// The production build must be byte-for-byte reproducible (the built app is
// committed and served by the Rust server): content-hashed file names, no
// timestamps, no source maps.
export default defineConfig({
  base: "/",
  resolve: {
    // Automerge's default browser entry imports its WebAssembly as an ES
    // module, which needs bundler plugins. Everything here uses the "slim"
    // entry instead, and src/automerge.ts loads the .wasm file once by URL.
    alias: [
      { find: /^@automerge\/automerge$/, replacement: "@automerge/automerge/slim" },
      { find: /^@automerge\/automerge-repo$/, replacement: "@automerge/automerge-repo/slim" },
    ],
  },
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
    modulePreload: { polyfill: false },
  },
});
