import { MemimageError } from "../core/errors.js";

/** Turns SIGINT and SIGTERM into an abort of the running pipeline, so it can stop cleanly and write its report. */
export function stopOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onInt = () =>
    controller.abort(
      new MemimageError("interrupted", "interrupted (SIGINT); the partial image is kept and marked"),
    );
  const onTerm = () =>
    controller.abort(
      new MemimageError("terminated", "terminated (SIGTERM); the partial image is kept and marked"),
    );
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}
