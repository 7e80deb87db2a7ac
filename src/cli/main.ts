#!/usr/bin/env -S UV_THREADPOOL_SIZE=6 node --max-semi-space-size=1
// Entry point of the package (bin). start.ts loads nothing else before it has set V8's flags.
// Two settings must be made before Node starts, so they are on the line above: the ESM loader reads this very file
// on libuv's pool, which starts it with the size it has then (6 threads: a block's read, its write and its two
// hashes at once, beside a blocked FIFO read); and V8's young generation capped at 1 MiB a semi-space collects the
// per-block garbage before it grows RSS (AVML convert of 512 MiB: 65 -> 57 MiB peak, same time).
import { start } from "./start.js";

await start();
