// The stock automerge-repo client: a Repo with the websocket network adapter
// (same origin, the session cookie authenticates the upgrade) and IndexedDB
// storage kept per user. No protocol or CRDT code of our own: the only
// additions around the stock adapter are an on/off switch around its
// connect, so that going offline (the browser's event, or the test hook)
// stops it reconnecting until we are back, and a filter on ephemeral
// messages (cursors):
//
// - The stock repo passes every ephemeral message it receives on to all its
//   other peers (`DocSynchronizer.receiveEphemeralMessage`, made for a mesh
//   of peers). Our only peer is the server, which already relays a message
//   to everyone on the document, so passing it on only sends it back: the
//   server relayed it to the others again, and to its author, who heard its
//   own cursor and passed that on too (each cursor crossed the network twice
//   per reader). The adapter sends only this client's own ephemerals.
// - An ephemeral message under this client's own peer id is its own, come
//   back: it is dropped before the repo sees it (which would pass it on).

import { Repo, type PeerId, type StorageId } from "@automerge/automerge-repo/slim";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import { IndexedDBStorageAdapter } from "@automerge/automerge-repo-storage-indexeddb";
import { Signal } from "../lib/signal";

export type ConnectionState = "connected" | "offline" | "connecting";

type PeerMetadata = NonNullable<WebSocketClientAdapter["peerMetadata"]>;

/** The stock adapter, which does not reconnect while switched off. */
class SwitchableWebSocketAdapter extends WebSocketClientAdapter {
  enabled = true;

  constructor(url: string, retryInterval: number) {
    super(url, retryInterval);
    const emit = this.emit.bind(this) as (event: string, ...args: unknown[]) => boolean;
    this.emit = ((event: string, ...args: unknown[]) => {
      const m = args[0] as { type?: unknown; senderId?: unknown } | undefined;
      // Our own ephemeral message come back: not news, and not to pass on.
      if (event === "message" && m?.type === "ephemeral" && m.senderId === this.peerId) return false;
      return emit(event, ...args);
    }) as typeof this.emit;
  }

  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    if (!this.enabled) {
      // Remember who we are, to connect when switched back on.
      this.peerId = peerId;
      this.peerMetadata = peerMetadata ?? this.peerMetadata ?? {};
      return;
    }
    super.connect(peerId, peerMetadata);
  }

  disconnect(): void {
    // The stock adapter asserts a socket; switched off there is none.
    if (this.socket && this.peerId) super.disconnect();
  }

  switchOff() {
    if (!this.enabled) return;
    this.enabled = false;
    this.disconnect();
  }

  switchOn() {
    if (this.enabled) return;
    this.enabled = true;
    if (this.peerId) this.connect(this.peerId, this.peerMetadata);
  }

  send(message: Parameters<WebSocketClientAdapter["send"]>[0]): void {
    // Someone else's ephemeral message, passed on by the repo: the server
    // has relayed it to everyone already.
    if (message.type === "ephemeral" && message.senderId !== this.peerId) return;
    super.send(message);
  }

}

const SERVER_STORAGE_KEY = "accord-server-storage-id";

export class SyncClient {
  readonly repo: Repo;
  readonly storage: IndexedDBStorageAdapter;
  readonly databaseName: string;
  readonly connection = new Signal<ConnectionState>("connecting");
  /** The server's peer id while connected (the sender of its notices and presence). */
  serverPeerId: PeerId | undefined;
  /** The server's storage id: the heads it reports for it are what it has stored. */
  readonly serverStorageId = new Signal<StorageId | undefined>(undefined);
  /** Fires when the server connects (again). */
  readonly connectedCount = new Signal(0);
  #adapter: SwitchableWebSocketAdapter;
  #cleanup: (() => void)[] = [];
  #closed = false;

  constructor(userId: string) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.#adapter = new SwitchableWebSocketAdapter(`${scheme}://${location.host}/sync`, 3000);
    if (typeof navigator !== "undefined" && navigator.onLine === false) this.#adapter.enabled = false;
    this.databaseName = `accord-${userId}`;
    this.storage = new IndexedDBStorageAdapter(this.databaseName);
    const remembered = localStorage.getItem(SERVER_STORAGE_KEY);
    if (remembered) this.serverStorageId.set(remembered as StorageId);
    this.repo = new Repo({ network: [this.#adapter], storage: this.storage });

    const network = this.repo.networkSubsystem;
    const onPeer = ({ peerId, peerMetadata }: { peerId: PeerId; peerMetadata: { storageId?: StorageId } }) => {
      this.serverPeerId = peerId;
      const storageId = peerMetadata?.storageId;
      if (storageId) {
        this.serverStorageId.set(storageId);
        try {
          localStorage.setItem(SERVER_STORAGE_KEY, storageId);
        } catch {
          // storage full or denied: only the offline start is less precise
        }
      }
      this.#updateState(true);
      this.connectedCount.set(this.connectedCount.value + 1);
    };
    const onPeerDisconnected = () => this.#updateState(false);
    network.on("peer", onPeer);
    network.on("peer-disconnected", onPeerDisconnected);
    this.#cleanup.push(() => {
      network.off("peer", onPeer);
      network.off("peer-disconnected", onPeerDisconnected);
    });

    const onOffline = () => this.setOnline(false);
    const onOnline = () => this.setOnline(true);
    window.addEventListener("offline", onOffline);
    window.addEventListener("online", onOnline);
    this.#cleanup.push(() => {
      window.removeEventListener("offline", onOffline);
      window.removeEventListener("online", onOnline);
    });
    this.#updateState(false);
  }

  #connected = false;
  #updateState(connected: boolean) {
    this.#connected = connected;
    if (!this.#adapter.enabled) this.connection.set("offline");
    else this.connection.set(connected ? "connected" : "connecting");
  }

  /** Disconnects (and stays disconnected) or reconnects the websocket. */
  setOnline(online: boolean) {
    if (this.#closed) return;
    if (online) this.#adapter.switchOn();
    else this.#adapter.switchOff();
    this.#updateState(online && this.#connected);
  }

  get online(): boolean {
    return this.#adapter.enabled;
  }

  /** Stops syncing and closes the local database. */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of this.#cleanup) f();
    this.#adapter.switchOff();
    try {
      await Promise.race([this.repo.shutdown(), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      // shutting down a disconnected repo may complain; nothing to keep
    }
    try {
      // The stock adapter keeps its connection in a field TypeScript calls private.
      await (this.storage as unknown as { dbPromise: Promise<IDBDatabase> }).dbPromise.then((db) => db.close());
    } catch {
      // never opened
    }
  }

  /** Deletes this user's local database (after close). */
  deleteDatabase(): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (!done) {
          done = true;
          resolve();
        }
      };
      try {
        const request = indexedDB.deleteDatabase(this.databaseName);
        request.onsuccess = finish;
        request.onerror = finish;
        // Another tab still holds it open: it is deleted once that tab closes.
        request.onblocked = () => setTimeout(finish, 1500);
      } catch {
        finish();
      }
      setTimeout(finish, 5000);
    });
  }
}
