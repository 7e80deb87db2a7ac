import type { Region } from "../core/map.js";
import type { ImageLayout, Segment } from "./segments.js";

/** Without a map, a headerless image is one run of bytes from address 0. */
export function wholeFile(format: string, _path: string, size: number): ImageLayout {
  return {
    format,
    addressSpace: "physical",
    segments: size > 0 ? [{ start: 0n, length: size, fileOffset: 0, stored: true, kind: "file" }] : [],
    fileSize: size,
    details: {
      mapFrom: "none: addresses assumed to start at 0; pass the acquisition's report to restore them",
    },
  };
}

/** Regions the acquisition could not read are zero-filled in headerless formats: they hold no memory. */
export function storedOnlyWhereReadable(segments: Segment[], map: readonly Region[]): Segment[] {
  return segments.map((s, i) => ({ ...s, stored: map[i]?.readable !== false }));
}
