// Writes a LiME image of the given size (four ranges with small gaps, as RAM looks below and above the PCI hole),
// filled with non-repeating bytes, for the benchmarks. Usage: node dist/bench/make-lime.js OUT SIZE_MIB
import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { encodeRecordHeader } from "../src/formats/lime.js";

const [out, sizeMiB] = process.argv.slice(2);
if (!out || !sizeMiB) throw new Error("usage: make-lime OUT SIZE_MIB");
const total = Number(sizeMiB) * 1024 * 1024;
const quarter = total / 4;
const block = randomBytes(4 << 20);
const file = await open(out, "wx");
let address = 0x1000n;
for (let range = 0; range < 4; range++) {
  await file.write(encodeRecordHeader(address, quarter));
  for (let done = 0; done < quarter; done += block.length) {
    block.writeUInt32LE(done ^ range, 0); // no two blocks alike
    await file.write(block, 0, Math.min(block.length, quarter - done));
  }
  address += BigInt(quarter) + 0x100000n;
}
await file.close();
