// LiME, the peer imager: built from Debian's lime-forensics-dkms source against the linux-headers package of
// the guest kernel's release, cached per release.
import { cp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { exists } from "../core/exists.js";
import { labPath } from "./cache.js";
import { exec } from "./exec.js";
import { aptInstall, unpackPackage } from "./provision.js";

/** Returns the path of lime.ko for `release`, building it first if needed. */
export async function buildLime(release: string): Promise<string> {
  const dir = labPath("lime", release);
  const module = join(dir, "lime.ko");
  if (await exists(module)) return module;
  const headers = `/usr/src/linux-headers-${release}`;
  if (!(await exists(join(headers, "Makefile")))) await aptInstall([`linux-headers-${release}`, "make"]);
  const source = labPath("lime-forensics-dkms");
  await unpackPackage("lime-forensics-dkms", source);
  const versions = await readdir(join(source, "usr", "src"));
  const tree = versions.find((v) => v.startsWith("lime-forensics-"));
  if (!tree) throw new Error(`lime-forensics-dkms holds no usr/src/lime-forensics-*: ${versions.join(", ")}`);
  await rm(dir, { recursive: true, force: true });
  await cp(join(source, "usr", "src", tree), dir, { recursive: true });
  await exec("make", ["-C", headers, `M=${dir}`, "modules"]);
  if (!(await exists(module))) throw new Error(`building LiME in ${dir} produced no lime.ko`);
  return module;
}
