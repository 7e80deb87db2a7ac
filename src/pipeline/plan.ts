import type { Region } from "../core/map.js";

/** One read of the pipeline: up to `length` bytes of `region` from `address`. */
export interface Block {
  regionIndex: number;
  region: Region;
  address: bigint;
  length: number;
}

/** The plan: every region in the order of the map (address order, unless --priority reordered it), cut into blocks of at most `blockSize` bytes. */
export function* mapOrder(map: readonly Region[], blockSize: number): Iterable<Block> {
  for (const [regionIndex, region] of map.entries()) {
    if (!region.readable) {
      yield { regionIndex, region, address: region.start, length: 0 };
      continue;
    }
    for (let offset = 0; offset < region.length; offset += blockSize) {
      yield {
        regionIndex,
        region,
        address: region.start + BigInt(offset),
        length: Math.min(blockSize, region.length - offset),
      };
    }
  }
}
