// Whether a path exists (stat succeeds): for the lab's build-or-reuse caches and for refusing to overwrite.
import { stat } from "node:fs/promises";

export function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
