import { DeviceSource } from "./device.js";

/** /dev/mem over System RAM. Most distribution kernels (CONFIG_STRICT_DEVMEM) refuse RAM through it. */
export function openDevmem(path = "/dev/mem", iomemPath = "/proc/iomem"): Promise<DeviceSource> {
  return DeviceSource.open({
    kind: "devmem",
    path,
    iomemPath,
    maxRead: 1 << 30,
    refused: `${path} refuses System RAM: the kernel has CONFIG_STRICT_DEVMEM (boot with iomem=relaxed, or use /proc/kcore)`,
  });
}
