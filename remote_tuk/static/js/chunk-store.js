// chunk-store.js — the candidate's recording chunks kept in IndexedDB until the server has acknowledged them, so
// that a closed tab, a browser crash or a reboot loses nothing that was recorded: the live page of the same session,
// opened again, finds them here and uploads them first (issue 19 #5).
//
//   const store = await RtukChunkStore.open(sessionId);   // never throws: without IndexedDB it keeps nothing
//   const left = await store.pending();                   // [{id, seq, blob, start, sha}] by seq, from before
//   store.put(chunk)      // chunk: {id?, seq, blob, start, sha}; gives chunk.id; fire and forget
//   store.remove(chunk)   // acknowledged (or given up for good): forget it
//
// A record is the chunk's bytes as a Blob, its sequence number, the recorder's start time and the SHA-256 once known;
// records are per session (index "session"). Writes are queued so a remove never overtakes the put before it.
(function () {
  "use strict";
  const DB = "rtuk-live";
  const STORE = "chunks";

  function request(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: "id" });
        store.createIndex("session", "session", { unique: false });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error("IndexedDB blocked"));
    });
  }

  const none = {
    durable: false,
    pending: async () => [],
    put: () => {},
    remove: () => {},
  };

  async function open(session) {
    if (!window.indexedDB) return none;
    let db;
    try {
      db = await openDb();
    } catch (err) {
      console.warn("chunk-store: IndexedDB unavailable, chunks are kept in memory only", err);
      return none;
    }
    let chain = Promise.resolve();
    const write = (fn) => {
      chain = chain.then(() => new Promise((resolve) => {
        try {
          const tx = db.transaction(STORE, "readwrite");
          fn(tx.objectStore(STORE));
          tx.oncomplete = () => resolve();
          tx.onerror = tx.onabort = () => { console.warn("chunk-store: write failed", tx.error); resolve(); };
        } catch (err) {
          console.warn("chunk-store: write failed", err);
          resolve();
        }
      }));
      return chain;
    };
    let counter = 0;
    const newId = () => `${session}:${Date.now().toString(36)}:${(counter++).toString(36)}:${Math.random().toString(36).slice(2, 8)}`;
    return {
      durable: true,
      async pending() {
        await chain;
        try {
          const tx = db.transaction(STORE, "readonly");
          const rows = await request(tx.objectStore(STORE).index("session").getAll(session));
          return rows
            .filter((r) => r && r.blob instanceof Blob && Number.isInteger(r.seq))
            .sort((a, b) => a.seq - b.seq)
            .map((r) => ({ id: r.id, seq: r.seq, blob: r.blob, start: r.start, sha: r.sha || null }));
        } catch (err) {
          console.warn("chunk-store: cannot read what was kept", err);
          return [];
        }
      },
      put(chunk) {
        if (!chunk.id) chunk.id = newId();
        const row = { id: chunk.id, session, seq: chunk.seq, blob: chunk.blob, start: chunk.start, sha: chunk.sha || null };
        return write((s) => s.put(row));
      },
      remove(chunk) {
        if (!chunk.id) return chain;
        return write((s) => s.delete(chunk.id));
      },
    };
  }

  window.RtukChunkStore = Object.freeze({ open });
})();
