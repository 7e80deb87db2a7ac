// Why the kernel refused a physical memory device: the message says which obstacle it is and what to do.
import { access, readFile } from "node:fs/promises";

/** The active lockdown mode ("none", "integrity", "confidentiality"), or undefined when the kernel has none. */
export async function lockdownMode(path = "/sys/kernel/security/lockdown"): Promise<string | undefined> {
  const text = await readFile(path, "latin1").catch(() => undefined);
  return text ? /\[(\w+)\]/.exec(text)?.[1] : undefined;
}

export async function inContainer(): Promise<boolean> {
  if (process.env.container) return true;
  for (const marker of ["/.dockerenv", "/run/.containerenv"]) {
    if (
      await access(marker).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

const missing: Record<string, string> = {
  "/proc/kcore": "the kernel was built without CONFIG_PROC_KCORE",
  "/dev/mem": "the kernel was built without CONFIG_DEVMEM",
  "/dev/crash": "the crash driver is not loaded (Red Hat kernels: modprobe crash)",
};

/** A sentence for an errno met opening or reading `path`. */
export async function whyDenied(path: string, code: string | undefined): Promise<string> {
  const container = await inContainer();
  if (code === "ENOENT") {
    const why = container ? "this is a container without the device" : (missing[path] ?? "it does not exist");
    return `${path} is absent: ${why}`;
  }
  if (code === "EACCES" || code === "EPERM") {
    if (process.getuid?.() !== 0)
      return `${path}: permission denied: not root (run memimage acquire as root)`;
    const lockdown = await lockdownMode();
    if (lockdown && lockdown !== "none")
      return `${path}: denied by kernel lockdown (${lockdown} mode, often from Secure Boot)`;
    if (container) return `${path}: denied in a container (it lacks CAP_SYS_RAWIO or the device)`;
    return `${path}: denied to root (${code}; an LSM such as SELinux or AppArmor may forbid it)`;
  }
  return `${path}: ${code ?? "cannot be opened"}`;
}
