import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";

// Automerge's WebAssembly carries the build machine's source paths in its
// panic messages, package-cache folder names included. They are replaced
// by a neutral name of the same length (so no offset moves) before the
// file is written: the committed bundle names no package host.
function neutralSourcePaths(): Plugin {
  // "index.<host>-<16 hex>": the folder a package cache names after its source.
  const isHex = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66);
  const isHostChar = (b: number) =>
    (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2e || b === 0x2d;
  const prefix = new TextEncoder().encode("index.");
  const filler = new TextEncoder().encode("pkgsrc");
  return {
    name: "accord-neutral-source-paths",
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type !== "asset" || !file.fileName.endsWith(".wasm")) continue;
        if (typeof file.source === "string") continue;
        const bytes = new Uint8Array(file.source);
        for (let i = 0; i + prefix.length < bytes.length; i++) {
          if (!prefix.every((b, k) => bytes[i + k] === b)) continue;
          // The host runs to the last "-" before 16 hex digits.
          let end = i + prefix.length;
          while (end < bytes.length && isHostChar(bytes[end])) end++;
          const dash = end - 17;
          if (dash <= i + prefix.length || bytes[dash] !== 0x2d) continue;
          let hex = true;
          for (let k = dash + 1; k < end; k++) hex &&= isHex(bytes[k]);
          if (!hex) continue;
          for (let k = i; k < end; k++) bytes[k] = k - i < filler.length ? filler[k - i] : 0x2d;
          i = end;
        }
        file.source = bytes;
      }
    },
  };
}

// Every text asset and the WebAssembly are also written precompressed,
// `NAME.br` (brotli, best quality) and `NAME.gz` (gzip, best), by Node's
// zlib: the server picks one by the request's Accept-Encoding (src/web.rs)
// and never compresses at run time. Both are deterministic (gzip's header
// carries no time), so the bundle stays reproducible. Runs after the
// WebAssembly's source paths are neutralised.
function precompress(): Plugin {
  const worth = /\.(js|css|wasm|html|svg|json)$/;
  return {
    name: "accord-precompress",
    generateBundle: {
      order: "post",
      handler(_options, bundle) {
        for (const file of Object.values(bundle)) {
          if (!worth.test(file.fileName)) continue;
          const raw = file.type === "chunk" ? Buffer.from(file.code) : Buffer.from(file.source);
          if (raw.length < 1024) continue;
          const br = brotliCompressSync(raw, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
              [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
            },
          });
          const gz = gzipSync(raw, { level: constants.Z_BEST_COMPRESSION });
          for (const [ext, bytes] of [[".br", br], [".gz", gz]] as const) {
            if (bytes.length >= raw.length) continue;
            this.emitFile({ type: "asset", fileName: file.fileName + ext, source: bytes });
          }
        }
      },
    },
  };
}

// The production build must be byte-for-byte reproducible (the built app is
// committed and served by the Rust server): content-hashed file names, no
// timestamps, no source maps.
export default defineConfig({
  base: "/",
  plugins: [neutralSourcePaths(), precompress()],
  resolve: {
    // Automerge's default browser entry imports its WebAssembly as an ES
    // module, which needs bundler plugins. Everything here uses the "slim"
    // entry instead, and src/live/automerge.ts loads the .wasm file once by URL.
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
