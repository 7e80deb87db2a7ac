// The hashes taken as bytes pass. SHA-256 runs on libuv's thread pool through the native addon (native/sha256.c)
// when it is built, so that the per-range and whole-output hashes run beside the reads and writes; otherwise on
// the main thread with Node's crypto. BLAKE3 (hash-wasm) on request, on the main thread.
import { createHash } from "node:crypto";
import type { IHasher } from "hash-wasm";
import { loadAddon } from "../core/native.js";

export type HashName = "sha256" | "blake3";

interface NativeSha256 {
  create(): object;
  update(handle: object, bytes: Uint8Array): Promise<void>;
  digest(handle: object): Buffer;
}

/** One digest being computed; update() may finish later (on the thread pool), and the bytes must stay unchanged until it does. */
interface Digest {
  readonly name: HashName;
  update(bytes: Uint8Array): Promise<void> | undefined;
  hex(): string;
}

function sha256(): Digest {
  const native = loadAddon<NativeSha256>("memimage_sha256").binding;
  if (native) {
    const handle = native.create();
    return {
      name: "sha256",
      update: (bytes) => native.update(handle, bytes),
      hex: () => native.digest(handle).toString("hex"),
    };
  }
  const hash = createHash("sha256");
  return {
    name: "sha256",
    update: (bytes) => {
      hash.update(bytes);
      return undefined;
    },
    hex: () => hash.digest("hex"),
  };
}

async function blake3(): Promise<Digest> {
  // hash-wasm carries every algorithm's WebAssembly: load it only when asked, it costs ~14 MiB of RSS.
  const hasher: IHasher = await (await import("hash-wasm")).createBLAKE3();
  hasher.init();
  return {
    name: "blake3",
    update: (bytes) => {
      hasher.update(bytes);
      return undefined;
    },
    hex: () => hasher.digest("hex"),
  };
}

/** Where SHA-256 is computed, for the report. */
export function sha256Engine(): string {
  return loadAddon("memimage_sha256").binding
    ? "OpenSSL on the thread pool (native addon)"
    : "Node crypto on the main thread";
}

const ZERO_BLOCK = new Uint8Array(1 << 20);

/**
 * Digests fed with the same bytes, in order. update() returns when these bytes have been hashed; meanwhile the
 * caller may read and write, but must not change the bytes.
 */
export class HashStream {
  private tail: Promise<void> = Promise.resolve();

  private constructor(private readonly digests: Digest[]) {}

  static async create(names: readonly HashName[] = ["sha256"]): Promise<HashStream> {
    const digests = [sha256()];
    if (names.includes("blake3")) digests.push(await blake3());
    return new HashStream(digests);
  }

  update(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return this.tail;
    this.tail = this.tail.then(async () => {
      await Promise.all(this.digests.map((d) => d.update(bytes)));
    });
    return this.tail;
  }

  updateZeros(length: number): Promise<void> {
    for (let left = length; left > 0; left -= ZERO_BLOCK.length)
      this.update(ZERO_BLOCK.subarray(0, Math.min(left, ZERO_BLOCK.length)));
    return this.tail;
  }

  async digest(): Promise<{ sha256: string; blake3?: string }> {
    await this.tail;
    const out: { sha256: string; blake3?: string } = { sha256: "" };
    for (const d of this.digests) out[d.name] = d.hex();
    return out;
  }
}
