// A QEMU Machine Protocol client: JSON lines over a UNIX socket. Commands are answered in order; events
// (STOP, RESUME, DUMP_COMPLETED...) arrive in between and are kept for waitEvent().
import { createConnection, type Socket } from "node:net";

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; command: string };

export class QmpClient {
  private buffer = "";
  private readonly pending: Pending[] = [];
  private readonly events: QmpEvent[] = [];
  private readonly waiters: { name: string; resolve: (e: QmpEvent) => void }[] = [];
  private greeted: Promise<void>;

  private constructor(private readonly socket: Socket) {
    let greet: () => void = () => {};
    this.greeted = new Promise((resolve) => {
      greet = resolve;
    });
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      this.buffer += text;
      for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (line) this.onMessage(JSON.parse(line) as Record<string, unknown>, greet);
      }
    });
    socket.on("close", () => {
      for (const p of this.pending.splice(0)) p.reject(new Error(`QMP closed before answering ${p.command}`));
    });
  }

  static async connect(path: string): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection(path, () => resolve(s));
      s.once("error", reject);
    });
    const client = new QmpClient(socket);
    await client.greeted;
    await client.execute("qmp_capabilities");
    return client;
  }

  private onMessage(message: Record<string, unknown>, greet: () => void): void {
    if ("QMP" in message) {
      greet();
      return;
    }
    if (typeof message.event === "string") {
      const event = message as unknown as QmpEvent;
      const waiter = this.waiters.findIndex((w) => w.name === event.event);
      if (waiter >= 0) this.waiters.splice(waiter, 1)[0]?.resolve(event);
      else this.events.push(event);
      return;
    }
    const pending = this.pending.shift();
    if (!pending) return;
    if ("error" in message) {
      const error = message.error as { class?: string; desc?: string };
      pending.reject(new Error(`QMP ${pending.command}: ${error.class ?? "error"}: ${error.desc ?? ""}`));
    } else pending.resolve(message.return);
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ resolve: resolve as (v: unknown) => void, reject, command });
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    });
  }

  /** Resolves with the next event of that name (or one already received and not yet taken). */
  waitEvent(name: string, timeoutMs = 600_000): Promise<QmpEvent> {
    const seen = this.events.findIndex((e) => e.event === name);
    if (seen >= 0) return Promise.resolve(this.events.splice(seen, 1)[0] as QmpEvent);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no QMP ${name} event in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        name,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
