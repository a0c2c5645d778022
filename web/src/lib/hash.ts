import * as sha256 from "fast-sha256";

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** Lowercase hex SHA-256 of the text as UTF-8 (the server's `text_hash`). */
export async function textHash(text: string): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  // crypto.subtle exists only in secure contexts (https, localhost); a
  // server reached over plain http on a local network still works.
  if (globalThis.crypto?.subtle) {
    return hex(new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes)));
  }
  return hex(sha256.hash(bytes));
}
