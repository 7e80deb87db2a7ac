import { MemimageError } from "../core/errors.js";
import { avml } from "./avml.js";
import { elf } from "./elf-core.js";
import type { Format } from "./format.js";
import { lime } from "./lime.js";
import { padded } from "./padded.js";
import { raw } from "./raw.js";

/** Every format memimage writes and reads. A new format is one module and one line here. */
export const formats: readonly Format[] = [lime, raw, padded, elf, avml];

export const formatNames = formats.map((f) => f.name);

export function formatByName(name: string): Format {
  const format = formats.find((f) => f.name === name);
  if (!format)
    throw new MemimageError("usage", `unknown format "${name}"; choose one of: ${formatNames.join(", ")}`);
  return format;
}

/** The format whose magic the file starts with, if any (raw and padded have none). */
export function detectFormat(head: Uint8Array): Format | undefined {
  return formats.find((f) => f.detect(head));
}
