// The guest's initramfs: a static busybox, the modules that mount the host over virtio-9p, and an init that
// mounts the host's root read-only and one host directory writable, then chroots into the host and runs the
// lab agent from that directory. Node and memimage from the host then run in the guest unchanged.
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exists } from "../core/exists.js";
import { exec } from "./exec.js";
import type { LabKernel } from "./provision.js";

/** Loaded in this order, in a few passes: some are built in on some kernels, some depend on others. */
export const GUEST_MODULES = [
  "virtio",
  "virtio_ring",
  "virtio_pci_legacy_dev",
  "virtio_pci_modern_dev",
  "virtio_pci",
  "netfs",
  "fscache",
  "9pnet",
  "9pnet_virtio",
  "9p",
  // Tells QEMU's vmcoreinfo device where the kernel's VMCOREINFO note is, so that QEMU's dump carries it.
  "qemu_fw_cfg",
];

export const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /host /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for pass in 1 2 3; do
  for m in $(cat /modules.order); do [ -f /modules/$m.ko ] && insmod /modules/$m.ko 2>/dev/null; done
done
arg() { sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p" /proc/cmdline; }
out=$(arg memimage.out)
life=$(arg memimage.lifetime)
# The guest never outlives its lifetime, whatever happens to the host side.
[ -n "$life" ] && (sleep "$life"; echo "lab: lifetime over" > /dev/console; echo o > /proc/sysrq-trigger) &
o=trans=virtio,version=9p2000.L,msize=512000
if mount -t 9p -o $o,ro host /host && mount -t 9p -o $o,cache=none out "/host$out"; then
  mount --bind /proc /host/proc
  mount --bind /sys /host/sys
  mount --bind /dev /host/dev
  # Scratch space in guest RAM at /dev/shm, not over /tmp: the host's /tmp (where a checkout may live) must stay visible.
  mkdir -p /host/dev/shm && mount -t tmpfs tmpfs /host/dev/shm
  chroot /host /bin/sh "$out/agent.sh" "$out"
else
  echo "lab: cannot mount the host over 9p" > /dev/console
fi
echo o > /proc/sysrq-trigger
poweroff -f
`;

async function findModules(root: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else {
        const m = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/.exec(entry.name);
        if (m?.[1]) found.set(m[1].replaceAll("-", "_"), path);
      }
    }
  };
  await walk(join(root, "kernel"));
  return found;
}

/** The cached initramfs's file name: a new init script or module list makes a new one. */
export function initramfsName(release: string): string {
  const version = createHash("sha256")
    .update(INIT_SCRIPT)
    .update(GUEST_MODULES.join(","))
    .digest("hex")
    .slice(0, 12);
  return `initramfs-${release}-${version}.cpio.gz`;
}

/** Builds the initramfs at `output` unless it is already there. */
export async function buildInitramfs(kernel: LabKernel, busybox: string, output: string): Promise<string> {
  if (await exists(output)) return output;
  const dir = `${output}.d`;
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "bin"), { recursive: true });
  await mkdir(join(dir, "modules"));
  await copyFile(busybox, join(dir, "bin", "busybox"));
  const available = await findModules(kernel.modules);
  const order: string[] = [];
  for (const name of GUEST_MODULES) {
    const path = available.get(name);
    if (!path) continue; // built in
    const target = join(dir, "modules", `${name}.ko`);
    if (path.endsWith(".xz")) await exec("sh", ["-c", `xz -dc '${path}' > '${target}'`]);
    else if (path.endsWith(".zst")) await exec("sh", ["-c", `zstd -qdc '${path}' > '${target}'`]);
    else if (path.endsWith(".gz")) await exec("sh", ["-c", `gzip -dc '${path}' > '${target}'`]);
    else await copyFile(path, target);
    order.push(name);
  }
  await writeFile(join(dir, "modules.order"), `${order.join("\n")}\n`);
  await writeFile(join(dir, "init"), INIT_SCRIPT, { mode: 0o755 });
  await exec("chmod", ["755", join(dir, "bin", "busybox")]);
  await exec("sh", ["-c", `cd '${dir}' && find . | cpio -o -H newc --quiet | gzip -1 > '${output}.tmp'`]);
  await exec("mv", [`${output}.tmp`, output]);
  await rm(dir, { recursive: true, force: true });
  return output;
}
