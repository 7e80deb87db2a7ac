import { DeviceSource } from "./device.js";

/** /dev/crash, the Red Hat crash utility's driver: physical memory at offset = address, one page per read. */
export function openCrash(path = "/dev/crash", iomemPath = "/proc/iomem"): Promise<DeviceSource> {
  return DeviceSource.open({
    kind: "crash",
    path,
    iomemPath,
    maxRead: 4096,
    refused: `${path} refuses System RAM (EPERM)`,
  });
}
