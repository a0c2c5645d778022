// Loads Automerge's WebAssembly once, from the built app's own assets (no
// network but the Accord server). Every Automerge import in the app resolves
// to the "slim" entry (vite.config.ts), which needs this call before use.

import { initializeWasm, isWasmInitialized } from "@automerge/automerge/slim";
import wasmUrl from "@automerge/automerge/automerge.wasm?url";

let loading: Promise<void> | undefined;

export function loadAutomerge(): Promise<void> {
  if (isWasmInitialized()) return Promise.resolve();
  loading ??= (async () => {
    const response = await fetch(wasmUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`could not load the editor engine (HTTP ${response.status})`);
    await initializeWasm(new Uint8Array(await response.arrayBuffer()));
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}
