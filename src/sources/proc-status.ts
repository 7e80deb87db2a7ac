// /proc/PID/stat and /proc/PID/status: the fields a core's notes and the report need.

/** PF_KTHREAD in the stat flags: a kernel thread, which has no user memory. */
export const PF_KTHREAD = 0x00200000;

export interface ProcStat {
  pid: number;
  comm: string;
  /** One letter: R running, S sleeping, D disk sleep, T stopped, t traced, Z zombie, X dead, I idle. */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  flags: number;
  /** Clock ticks (USER_HZ, 100 per second on Linux). */
  utime: number;
  stime: number;
  nice: number;
  threads: number;
}

/** Parses /proc/PID/stat. The command name sits in parentheses and may itself hold ") ", so cut at the last ")". */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new RangeError(`not a /proc stat line: ${text.slice(0, 60)}`);
  // fields[0] is field 3 of proc(5) (state).
  const fields = text
    .slice(close + 2)
    .trim()
    .split(" ");
  const field = (n: number) => Number(fields[n - 3]);
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: fields[0] ?? "?",
    ppid: field(4),
    pgrp: field(5),
    session: field(6),
    flags: field(9),
    utime: field(14),
    stime: field(15),
    nice: field(19),
    threads: field(20),
  };
}

export interface ProcStatus {
  uid: number;
  gid: number;
  sigPending: bigint;
  sigBlocked: bigint;
}

export function parseStatus(text: string): ProcStatus {
  const value = (key: string) => new RegExp(`^${key}:\\s*(.*)$`, "m").exec(text)?.[1]?.trim() ?? "";
  return {
    uid: Number(value("Uid").split(/\s+/)[0] ?? 0),
    gid: Number(value("Gid").split(/\s+/)[0] ?? 0),
    sigPending: BigInt(`0x${value("SigPnd") || "0"}`),
    sigBlocked: BigInt(`0x${value("SigBlk") || "0"}`),
  };
}

/** /proc/PID/cmdline: arguments separated by NULs. */
export function parseCmdline(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes).toString("utf8");
  const parts = text.split("\0");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts;
}
