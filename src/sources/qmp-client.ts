// A QEMU Machine Protocol client: JSON lines over a UNIX socket. Commands are answered in order; events
// (STOP, RESUME, DUMP_COMPLETED...) arrive in between and are kept for waitEvent(). The lab and `memimage vm`
// share it. Connection problems become MemimageError("source") with a message that says what to check.
import { createConnection, type Socket } from "node:net";
import { errnoCode, MemimageError } from "../core/errors.js";

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  /** When QEMU emitted it (its own clock), in ms since the epoch. */
  timestampMs?: number;
}

/** QEMU answered a command with an error: its class (GenericError, CommandNotFound...) and its description. */
export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly description: string,
  ) {
    super(`QEMU refused ${command}: ${description} (${errorClass})`);
    this.name = "QmpError";
  }
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; command: string };
type Waiter = { name: string; resolve: (e: QmpEvent) => void; reject: (error: Error) => void };

const GREETING_TIMEOUT_MS = 5_000;

export class QmpClient {
  private buffer = "";
  private readonly pending: Pending[] = [];
  private readonly events: QmpEvent[] = [];
  private readonly waiters: Waiter[] = [];
  private closedError: Error | undefined;
  /** Resolves when the socket closes (QEMU quit or was killed); the value says why. */
  readonly closed: Promise<Error>;
  private greeting: { resolve: (g: Record<string, unknown>) => void; reject: (e: Error) => void } | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly path: string,
  ) {
    let onClose: (e: Error) => void = () => {};
    this.closed = new Promise((resolve) => {
      onClose = resolve;
    });
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      this.buffer += text;
      for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (line) this.onLine(line);
      }
    });
    socket.on("error", () => {}); // the close that follows carries the news
    socket.on("close", () => {
      const error = new MemimageError(
        "source-gone",
        `the QMP socket ${path} closed (QEMU quit or was killed)`,
      );
      this.closedError = error;
      this.greeting?.reject(error);
      for (const p of this.pending.splice(0)) p.reject(error);
      for (const w of this.waiters.splice(0)) w.reject(error);
      onClose(error);
    });
  }

  /** Connects, waits for QEMU's greeting and negotiates capabilities. */
  static async connect(path: string): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection(path, () => resolve(s));
      s.once("error", (error) => reject(connectError(path, error)));
    });
    const client = new QmpClient(socket, path);
    try {
      await client.greeted();
      await client.execute("qmp_capabilities");
    } catch (error) {
      client.close();
      throw error instanceof QmpError ? new MemimageError("source", error.message) : error;
    }
    return client;
  }

  private greeted(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            notQmp(
              this.path,
              `no QMP greeting within ${GREETING_TIMEOUT_MS / 1000} s (QEMU serves one client per QMP socket: is another connected?)`,
            ),
          ),
        GREETING_TIMEOUT_MS,
      );
      this.greeting = {
        resolve: (g) => {
          clearTimeout(timer);
          resolve(g);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  private onLine(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.greeting?.reject(notQmp(this.path, `it sent "${line.slice(0, 60)}"`));
      this.socket.destroy();
      return;
    }
    if ("QMP" in message) {
      this.greeting?.resolve(message);
      this.greeting = undefined;
      return;
    }
    if (typeof message.event === "string") {
      const stamp = message.timestamp as { seconds?: number; microseconds?: number } | undefined;
      const event: QmpEvent = {
        event: message.event,
        ...(message.data ? { data: message.data as Record<string, unknown> } : {}),
        ...(stamp?.seconds !== undefined
          ? { timestampMs: stamp.seconds * 1000 + (stamp.microseconds ?? 0) / 1000 }
          : {}),
      };
      const waiter = this.waiters.findIndex((w) => w.name === event.event);
      if (waiter >= 0) this.waiters.splice(waiter, 1)[0]?.resolve(event);
      else this.events.push(event);
      return;
    }
    const pending = this.pending.shift();
    if (!pending) return;
    if ("error" in message) {
      const error = message.error as { class?: string; desc?: string };
      pending.reject(new QmpError(pending.command, error.class ?? "error", error.desc ?? ""));
    } else pending.resolve(message.return);
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ resolve: resolve as (v: unknown) => void, reject, command });
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    });
  }

  /** Resolves with the next event of that name (or one already received and not yet taken). */
  waitEvent(name: string, timeoutMs = 600_000): Promise<QmpEvent> {
    const seen = this.events.findIndex((e) => e.event === name);
    if (seen >= 0) return Promise.resolve(this.events.splice(seen, 1)[0] as QmpEvent);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.waiters.findIndex((w) => w.resolve === done);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(new Error(`no QMP ${name} event in ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (e: QmpEvent) => {
        clearTimeout(timer);
        resolve(e);
      };
      this.waiters.push({
        name,
        resolve: done,
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  /** Drops events of that name received so far (so that a later waitEvent sees only new ones). */
  forget(name: string): void {
    for (let i = this.events.length - 1; i >= 0; i--)
      if (this.events[i]?.event === name) this.events.splice(i, 1);
  }

  close(): void {
    this.socket.destroy();
  }
}

function connectError(path: string, error: Error): MemimageError {
  const code = errnoCode(error);
  const why =
    code === "ENOENT"
      ? "no such socket; start QEMU with -qmp unix:PATH,server=on,wait=off"
      : code === "ECONNREFUSED"
        ? "nothing listens there (QEMU exited?)"
        : code === "ENOTSOCK"
          ? "not a socket"
          : code === "EACCES"
            ? "permission denied"
            : (code ?? error.message);
  return new MemimageError("source", `cannot connect to QMP at ${path}: ${why}`, { cause: error });
}

function notQmp(path: string, what: string): MemimageError {
  return new MemimageError("source", `${path} is not a QEMU QMP socket: ${what}`);
}
