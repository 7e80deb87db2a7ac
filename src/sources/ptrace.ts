// The native ptrace binding (native/ptrace.c, built by node-gyp on npm install), loaded if it was built.
// Without it memimage still works: it freezes with SIGSTOP and reports registers as unavailable.
import { loadAddon } from "../core/native.js";

export interface WaitResult {
  status: "stopped" | "exited" | "timeout" | "error";
  /** A signal that arrived before the stop; it must be handed back on detach. */
  signal: number;
  errno: number;
}

export interface PtraceBinding {
  /** PTRACE_SEIZE then PTRACE_INTERRUPT; returns an errno (0 on success). */
  seize(tid: number): number;
  waitStop(tid: number, timeoutMs: number): WaitResult;
  /** PTRACE_GETREGSET: the register set's bytes, or an errno. */
  getRegset(tid: number, type: number, maxSize: number): Buffer | number;
  detach(tid: number, signal: number): number;
}

// Register sets (the NT_* note types the kernel uses for them).
export const NT_PRSTATUS = 1;
export const NT_PRFPREG = 2;
export const NT_X86_XSTATE = 0x202;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  3: "ESRCH",
  5: "EIO",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  22: "EINVAL",
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** The binding, or why it is not there (core/native.ts: from build/Release, or the binary's own copy). */
export function ptraceBinding(): { binding?: PtraceBinding; problem?: string } {
  if (process.platform !== "linux") return { problem: "ptrace is Linux-only" };
  return loadAddon<PtraceBinding>("memimage_ptrace");
}
