import { createHash, type Hash } from "node:crypto";
import type { IHasher } from "hash-wasm";

export type HashName = "sha256" | "blake3";

const ZERO_BLOCK = Buffer.alloc(1 << 20);

/** One or more digests fed with the same bytes. SHA-256 from Node's crypto; BLAKE3 from hash-wasm, on request. */
export class MultiHash {
  private constructor(
    private readonly sha256: Hash,
    private readonly blake3: IHasher | undefined,
  ) {}

  static async create(names: readonly HashName[]): Promise<MultiHash> {
    // hash-wasm carries every algorithm's WebAssembly: load it only when asked, it costs ~14 MiB of RSS.
    const blake3 = names.includes("blake3") ? await (await import("hash-wasm")).createBLAKE3() : undefined;
    blake3?.init();
    return new MultiHash(createHash("sha256"), blake3);
  }

  update(bytes: Uint8Array): void {
    this.sha256.update(bytes);
    this.blake3?.update(bytes);
  }

  updateZeros(length: number): void {
    for (let left = length; left > 0; left -= ZERO_BLOCK.length)
      this.update(ZERO_BLOCK.subarray(0, Math.min(left, ZERO_BLOCK.length)));
  }

  digest(): { sha256: string; blake3?: string } {
    const sha256 = this.sha256.digest("hex");
    return this.blake3 ? { sha256, blake3: this.blake3.digest("hex") } : { sha256 };
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
