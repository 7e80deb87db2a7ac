// The lab guest's debug vmlinux, for opening its images with crash and drgn: Debian's linux-image-RELEASE-dbg
// (about 860 MB, 5.6 GB unpacked) is downloaded, only usr/lib/debug/boot/vmlinux-RELEASE is extracted into the
// lab cache, and the .deb is deleted. Also a vmlinux of another build (the same release's cloud flavour, taken
// out of its compressed boot image) for checking that a wrong vmlinux is told apart.
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exists } from "../core/exists.js";
import { labPath } from "./cache.js";
import { exec } from "./exec.js";
import { aptInstall, unpackPackage } from "./provision.js";

export const ANALYSIS_PACKAGES = ["crash", "python3-drgn", "lz4"];

const DECOMPRESSORS: [Buffer, string][] = [
  [Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), "xz"],
  [Buffer.from([0x02, 0x21, 0x4c, 0x18]), "lz4"],
  [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), "zstd"],
  [Buffer.from([0x1f, 0x8b]), "gzip"],
];

/** Where the guest kernel's debug vmlinux is cached. */
export function debugVmlinuxPath(release: string): string {
  return labPath("debug", `vmlinux-${release}`);
}

export async function ensureDebugVmlinux(release: string): Promise<string> {
  const target = debugVmlinuxPath(release);
  if (await exists(target)) return target;
  const scratch = labPath("debug", `download-${process.pid}`);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  try {
    const pkg = `linux-image-${release}-dbg`;
    await exec("apt-get", ["download", "-qq", pkg], { cwd: scratch });
    const deb = (await readdir(scratch)).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb`);
    const member = `./usr/lib/debug/boot/vmlinux-${release}`;
    await exec(
      "sh",
      ["-c", `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "$3"`, "sh", deb, scratch, member],
      {
        cwd: scratch,
      },
    );
    await rename(join(scratch, member), target);
    return target;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A vmlinux of another build than the guest's: the cloud flavour of the same release, decompressed. */
export async function ensureOtherVmlinux(release: string): Promise<string> {
  const cloud = release.replace(/-amd64$/, "-cloud-amd64");
  const target = labPath("debug", `vmlinux-${cloud}`);
  if (await exists(target)) return target;
  const root = labPath("kernel", `linux-image-${cloud}`);
  await unpackPackage(`linux-image-${cloud}`, root);
  const image = await readFile(join(root, "boot", `vmlinuz-${cloud}`));
  // x86 boot protocol: the compressed kernel starts payload_offset (0x248) bytes into the protected-mode code,
  // which follows the (setup_sects + 1) * 512 bytes of real-mode setup.
  const setupSects = image[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + image.readUInt32LE(0x248);
  const body = image.subarray(start, start + image.readUInt32LE(0x24c));
  const tool = DECOMPRESSORS.find(([magic]) => body.subarray(0, magic.length).equals(magic))?.[1];
  if (!tool) throw new Error(`vmlinuz-${cloud}: compressed with a method this lab does not unpack`);
  const payload = join(root, "payload");
  await writeFile(payload, body);
  // The payload ends with the kernel's own 4-byte size, which lz4 reports as trailing garbage: judge the output.
  await exec("sh", [
    "-c",
    `${tool} -dc "$1" > "$2.tmp"; head -c 4 "$2.tmp" | grep -q ELF && mv "$2.tmp" "$2"`,
    "sh",
    payload,
    target,
  ]);
  await rm(payload, { force: true });
  return target;
}

export async function ensureAnalysisTools(): Promise<void> {
  const missing: string[] = [];
  for (const pkg of ANALYSIS_PACKAGES) {
    const r = await exec("dpkg-query", ["-W", "-f=\u0024{Status}", pkg], { allowFailure: true });
    if (!r.stdout.includes("install ok installed")) missing.push(pkg);
  }
  await aptInstall(missing);
}
