// This memimage again, as a shell command the guest can run (it sees the host's root read-only): the single
// executable is itself; the package is this Node and the CLI's main.js.
import { fileURLToPath } from "node:url";
import { inBinary } from "../core/embedded.js";

export function selfCommand(): string {
  return inBinary()
    ? process.execPath
    : `${process.execPath} ${fileURLToPath(new URL("../cli/main.js", import.meta.url))}`;
}
