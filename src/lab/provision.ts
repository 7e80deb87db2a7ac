// Provisions the lab on a bare Debian machine: host packages, Debian's current kernel (resolved through
// linux-image-amd64, never pinned) unpacked without installing, and an initramfs that mounts the host over 9p.
// Everything lands in the lab cache; a second run only checks that it is there.
// Entry point for CI: node dist/src/lab/provision.js [--lime] [--dbg]
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { exists } from "../core/exists.js";
import { labCacheDir, labPath } from "./cache.js";
import { exec, which } from "./exec.js";
import { buildInitramfs, initramfsName } from "./initramfs.js";

export interface LabKernel {
  /** The package, e.g. linux-image-6.1.0-56-amd64. */
  package: string;
  /** The kernel release, e.g. 6.1.0-56-amd64 (uname -r in the guest). */
  release: string;
  vmlinuz: string;
  modules: string;
}

export interface Lab {
  kernel: LabKernel;
  initrd: string;
  qemu: string;
}

const HOST_PACKAGES: Record<string, string> = {
  "qemu-system-x86_64": "qemu-system-x86",
  cpio: "cpio",
  insmod: "kmod",
  time: "time",
  xz: "xz-utils",
  zstd: "zstd",
  gzip: "gzip",
};
const BUSYBOX = "/bin/busybox";

let updated = false;
async function aptUpdate(): Promise<void> {
  if (updated) return;
  await exec("apt-get", ["update", "-qq"]);
  updated = true;
}

export async function aptInstall(packages: string[]): Promise<void> {
  if (packages.length === 0) return;
  await aptUpdate();
  await exec("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

async function ensureHostPackages(): Promise<void> {
  const missing: string[] = [];
  for (const [command, pkg] of Object.entries(HOST_PACKAGES)) if (!(await which(command))) missing.push(pkg);
  // busybox-static: the initramfs needs a static busybox (the dynamic one cannot run without the host's libc).
  const busybox = await exec("dpkg-query", ["-W", "-f=\u0024{Status}", "busybox-static"], {
    allowFailure: true,
  });
  if (!busybox.stdout.includes("install ok installed")) missing.push("busybox-static");
  await aptInstall(missing);
}

/** The package linux-image-amd64 depends on now: Debian's current kernel. */
export async function resolveKernelPackage(): Promise<string> {
  const depends = async () =>
    (await exec("apt-cache", ["depends", "linux-image-amd64"], { allowFailure: true })).stdout;
  let text = await depends();
  if (!/Depends: linux-image-\S+/.test(text)) {
    await aptUpdate();
    text = await depends();
  }
  const match = /Depends: (linux-image-[0-9]\S*)/.exec(text);
  if (!match?.[1]) throw new Error(`apt-cache depends linux-image-amd64 names no kernel package:\n${text}`);
  return match[1];
}

/** apt-get download + dpkg -x into `into` (no install); skipped when `into` already holds it. */
export async function unpackPackage(pkg: string, into: string): Promise<void> {
  if (await exists(join(into, ".complete"))) return;
  const scratch = `${into}.download`;
  await rm(scratch, { recursive: true, force: true });
  await rm(into, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  await aptUpdate().catch(() => undefined);
  await exec("apt-get", ["download", "-qq", pkg], { cwd: scratch });
  const deb = (await readdir(scratch)).find((f) => f.endsWith(".deb"));
  if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb`);
  await exec("dpkg", ["-x", join(scratch, deb), into]);
  await exec("touch", [join(into, ".complete")]);
  await rm(scratch, { recursive: true, force: true });
}

async function ensureKernel(): Promise<LabKernel> {
  const pkg = await resolveKernelPackage();
  const root = labPath("kernel", pkg);
  await unpackPackage(pkg, root);
  const boot = await readdir(join(root, "boot"));
  const image = boot.find((f) => f.startsWith("vmlinuz-"));
  if (!image) throw new Error(`${pkg} has no boot/vmlinuz-*`);
  const release = image.slice("vmlinuz-".length);
  return {
    package: pkg,
    release,
    vmlinuz: join(root, "boot", image),
    modules: join(root, "lib", "modules", release),
  };
}

/** Makes sure every piece of the lab is in the cache and returns where. */
export async function provisionLab(): Promise<Lab> {
  await mkdir(labCacheDir(), { recursive: true });
  await ensureHostPackages();
  const kernel = await ensureKernel();
  const initrd = await buildInitramfs(kernel, BUSYBOX, labPath(initramfsName(kernel.release)));
  const qemu = await which("qemu-system-x86_64");
  if (!qemu) throw new Error("qemu-system-x86_64 is still missing after apt-get install qemu-system-x86");
  return { kernel, initrd, qemu };
}

async function main(): Promise<void> {
  const started = Date.now();
  const lab = await provisionLab();
  process.stdout.write(`lab kernel ${lab.kernel.package}, initrd ${lab.initrd}\n`);
  if (process.argv.includes("--dbg")) {
    const { ensureAnalysisTools, ensureDebugVmlinux, ensureOtherVmlinux } = await import("./debug-kernel.js");
    await ensureAnalysisTools();
    process.stdout.write(`debug vmlinux ${await ensureDebugVmlinux(lab.kernel.release)}\n`);
    process.stdout.write(`other build's vmlinux ${await ensureOtherVmlinux(lab.kernel.release)}\n`);
  }
  if (process.argv.includes("--lime")) {
    const { buildLime } = await import("./lime.js");
    process.stdout.write(`LiME module ${await buildLime(lab.kernel.release)}\n`);
  }
  process.stdout.write(
    `lab ready in ${((Date.now() - started) / 1000).toFixed(1)} s (cache ${labCacheDir()})\n`,
  );
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`provision: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
