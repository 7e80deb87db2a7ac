// The Linux banner: "Linux version RELEASE (BUILDER) (COMPILER) #N ...", the string /proc/version prints. It sits
// in kernel rodata (linux_banner) and is copied into the kernel log at boot; Volatility and most tools identify a
// kernel by it.

const PREFIX = Buffer.from("Linux version ", "latin1");
const MAX_LENGTH = 512;
const SHAPE = /^Linux version (\S+) \(/;

export interface Banner {
  text: string;
  release: string;
  /** Offset of the banner's first byte in the buffer searched. */
  offset: number;
}

/** Every well-formed banner in `bytes` from `from` on; a banner cut by the end of the buffer is not returned. */
export function* findBanners(bytes: Buffer, from = 0): Generator<Banner> {
  for (let at = bytes.indexOf(PREFIX, from); at >= 0; at = bytes.indexOf(PREFIX, at + 1)) {
    const end = terminator(bytes, at, Math.min(bytes.length, at + MAX_LENGTH));
    if (end < 0) continue;
    const text = bytes.toString("latin1", at, end);
    const release = SHAPE.exec(text)?.[1];
    if (release && /^[\x20-\x7e]+$/.test(text)) yield { text, release, offset: at };
  }
}

/** The offset of the newline or NUL that ends the banner, or -1 if none comes before `limit`. */
function terminator(bytes: Buffer, from: number, limit: number): number {
  for (let i = from; i < limit; i++) if (bytes[i] === 0x0a || bytes[i] === 0) return i;
  return -1;
}

/** The release named in a banner ("6.1.0-56-amd64"), as uname -r gives it. */
export function bannerRelease(text: string): string | undefined {
  return SHAPE.exec(text)?.[1];
}
