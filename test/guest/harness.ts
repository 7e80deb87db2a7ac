// How a guest test decides to run: in CI (CI=true) a guest test never skips, so a missing QEMU fails it;
// elsewhere, without QEMU, it reports itself skipped with the reason.
import { which } from "../../src/lab/exec.js";

export async function guestSkipReason(): Promise<string | false> {
  if (process.env.CI === "true") return false;
  if (process.env.MEMIMAGE_GUEST_TESTS === "0") return "MEMIMAGE_GUEST_TESTS=0";
  if (!(await which("qemu-system-x86_64")))
    return "no qemu-system-x86_64: run node dist/src/lab/provision.js --lime (as root) to provision the lab";
  return false;
}
