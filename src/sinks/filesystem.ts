// Which filesystem an output directory is on, by statfs(2) magic number. Writing a memory image into a
// RAM-backed filesystem overwrites the very memory being imaged, so acquire refuses it unless told otherwise.
import { statfs } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { MemimageError } from "../core/errors.js";

/** statfs f_type values of filesystems that live in RAM (linux/magic.h). */
const RAM_BACKED: Record<number, string> = {
  16914836: "tmpfs",
  2240043254: "ramfs",
};

export interface OutputFilesystem {
  directory: string;
  /** statfs f_type, as hex. */
  magic: string;
  ramBacked: string | undefined;
}

export async function outputFilesystem(outputPath: string): Promise<OutputFilesystem> {
  const directory = dirname(resolve(outputPath));
  const { type } = await statfs(directory);
  return { directory, magic: `0x${type.toString(16)}`, ramBacked: RAM_BACKED[type] };
}

/** Throws for a file output in tmpfs/ramfs unless allowed; returns what to record in the report. */
export async function checkOutputFilesystem(
  outputPath: string,
  allowRamBacked: boolean,
): Promise<OutputFilesystem & { allowedRamBacked: boolean }> {
  const fs = await outputFilesystem(outputPath).catch((error: unknown) => {
    throw new MemimageError("sink", `cannot inspect the filesystem of ${outputPath}: ${String(error)}`, {
      cause: error,
    });
  });
  if (fs.ramBacked && !allowRamBacked)
    throw new MemimageError(
      "usage",
      `${fs.directory} is on ${fs.ramBacked}, which lives in RAM: writing the image there overwrites the memory ` +
        "being imaged. Write to a disk, to standard output (-o -), or pass --allow-ram-backed-output (recorded in the report)",
    );
  return { ...fs, allowedRamBacked: Boolean(fs.ramBacked) && allowRamBacked };
}
