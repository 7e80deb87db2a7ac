// Stopping a process while it is read, and always letting it go again. With the ptrace addon every thread is
// seized and interrupted (the kernel resumes them by itself if memimage dies); without it, SIGSTOP and SIGCONT.
// Without --freeze the threads are stopped only long enough to copy their registers.
import { readdirSync, readFileSync } from "node:fs";
import { parseStat } from "./proc-status.js";
import {
  errnoName,
  NT_PRFPREG,
  NT_PRSTATUS,
  NT_X86_XSTATE,
  type PtraceBinding,
  ptraceBinding,
} from "./ptrace.js";

export interface ThreadRegisters {
  /** The general registers as PTRACE_GETREGSET NT_PRSTATUS gives them (elf_gregset_t). */
  general: Buffer;
  fp?: Buffer;
  xstate?: Buffer;
}

export interface StoppedThread {
  tid: number;
  registers?: ThreadRegisters;
  /** Why there are no registers for this thread. */
  problem?: string;
}

export type FreezeMethod = "ptrace" | "SIGSTOP" | "none";

/** What the report says about freezing; durations are measured, not assumed. */
export interface FreezeRecord {
  requested: boolean;
  method: FreezeMethod;
  /** Whether the process was stopped for the whole memory read. */
  frozen: boolean;
  ranWhileRead: boolean;
  /** How long the process was stopped, in ms (for the registers only, without --freeze). */
  stoppedMs?: number;
  /** True when the report was written while the process was still stopped (it is resumed right after). */
  stillStoppedAtReport?: boolean;
  note?: string;
}

export function listThreads(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .map(Number)
      .filter((t) => Number.isInteger(t) && t > 0)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

function threadState(pid: number, tid: number): string | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1")).state;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

export class Freezer {
  private readonly seized = new Map<number, number>(); // tid -> signal to give back on detach
  private sigstopped = false;
  private stoppedAt: number | undefined;
  private resumedAt: number | undefined;
  private method: FreezeMethod = "none";
  private notes: string[] = [];
  /** Why registers could not be had, if they could not. */
  registersProblem: string | undefined;
  threads: StoppedThread[] = [];

  constructor(
    private readonly pid: number,
    private readonly freeze: boolean,
  ) {}

  /** Stops the threads (ptrace, else SIGSTOP if --freeze) and copies their registers. Never throws. */
  stop(): void {
    const { binding, problem } = ptraceBinding();
    if (binding) this.seizeAll(binding);
    else this.registersProblem = problem;
    if (this.method === "none" && this.freeze) this.sigstop();
    if (this.stoppedAt === undefined) this.stoppedAt = performance.now();
    const tids = listThreads(this.pid);
    this.threads = binding && this.method === "ptrace" ? this.copyRegisters(binding, tids) : [];
    if (this.threads.length === 0)
      this.threads = tids.map((tid) => ({
        tid,
        problem: this.registersProblem ?? "registers were not read",
      }));
    if (!this.freeze) this.resume();
  }

  /** Lets the process run again. Synchronous and idempotent, so it is safe from signal handlers and 'exit'. */
  resume(): void {
    if (this.resumedAt !== undefined || this.stoppedAt === undefined) return;
    this.resumedAt = performance.now();
    const { binding } = ptraceBinding();
    if (binding)
      for (const [tid, signal] of this.seized) {
        const errno = binding.detach(tid, signal);
        if (errno !== 0 && errno !== 3)
          this.notes.push(`detaching thread ${tid} failed: ${errnoName(errno)}`);
      }
    this.seized.clear();
    if (this.sigstopped) {
      try {
        process.kill(this.pid, "SIGCONT");
      } catch {
        // The process is gone: nothing to resume.
      }
    }
  }

  record(): FreezeRecord {
    const stillStopped = this.stoppedAt !== undefined && this.resumedAt === undefined;
    const until = this.resumedAt ?? performance.now();
    return {
      requested: this.freeze,
      method: this.method,
      frozen: this.freeze && this.method !== "none",
      ranWhileRead: !(this.freeze && this.method !== "none"),
      ...(this.stoppedAt !== undefined && this.method !== "none"
        ? { stoppedMs: Math.round((until - this.stoppedAt) * 1000) / 1000 }
        : {}),
      ...(stillStopped && this.method !== "none" ? { stillStoppedAtReport: true } : {}),
      ...(this.notes.length > 0 ? { note: this.notes.join("; ") } : {}),
    };
  }

  private seizeAll(binding: PtraceBinding): void {
    // Threads may start while we seize the others: list again until no new one appears.
    for (let round = 0; round < 20; round++) {
      const fresh = listThreads(this.pid).filter((t) => !this.seized.has(t));
      if (fresh.length === 0) break;
      for (const tid of fresh) {
        const errno = binding.seize(tid);
        if (errno === 3) continue; // the thread exited meanwhile
        if (errno !== 0) {
          this.registersProblem = `ptrace refused (${errnoName(errno)}): ${
            errno === 1
              ? "another debugger is attached, or ptrace is restricted (kernel.yama.ptrace_scope, missing CAP_SYS_PTRACE)"
              : "cannot attach"
          }`;
          this.resume();
          this.resumedAt = undefined;
          this.stoppedAt = undefined;
          this.seized.clear();
          return;
        }
        if (this.stoppedAt === undefined) this.stoppedAt = performance.now();
        const wait = binding.waitStop(tid, 2000);
        if (wait.status === "stopped") this.seized.set(tid, wait.signal);
        else if (wait.status === "timeout") {
          this.seized.set(tid, 0);
          this.notes.push(`thread ${tid} did not stop within 2 s`);
        }
      }
    }
    if (this.seized.size > 0) this.method = "ptrace";
  }

  private sigstop(): void {
    const before = listThreads(this.pid).map((t) => threadState(this.pid, t));
    if (before.length > 0 && before.every((s) => s === "T")) {
      this.notes.push("the process was already stopped (SIGSTOP); it is left stopped");
      this.method = "SIGSTOP";
      return;
    }
    try {
      process.kill(this.pid, "SIGSTOP");
    } catch {
      return;
    }
    this.sigstopped = true;
    this.method = "SIGSTOP";
    this.stoppedAt = performance.now();
    for (let waited = 0; waited < 2000; waited += 2) {
      const states = listThreads(this.pid).map((t) => threadState(this.pid, t));
      if (states.every((s) => s === "T" || s === "t" || s === undefined)) return;
      sleep(2);
    }
    this.notes.push("not every thread had stopped 2 s after SIGSTOP");
  }

  private copyRegisters(binding: PtraceBinding, tids: number[]): StoppedThread[] {
    return tids.map((tid) => {
      if (!this.seized.has(tid)) return { tid, problem: "the thread started after the others were stopped" };
      const general = binding.getRegset(tid, NT_PRSTATUS, 4096);
      if (typeof general === "number")
        return { tid, problem: `PTRACE_GETREGSET failed: ${errnoName(general)}` };
      const fp = binding.getRegset(tid, NT_PRFPREG, 4096);
      const xstate = process.arch === "x64" ? binding.getRegset(tid, NT_X86_XSTATE, 65536) : 0;
      return {
        tid,
        registers: {
          general,
          ...(typeof fp === "number" ? {} : { fp }),
          ...(typeof xstate === "number" ? {} : { xstate }),
        },
      };
    });
  }
}
