// memimage receive on a terminal: one line per image arriving (name, sender, bytes, rate), redrawn in place, with
// messages printed above them. Senders do not say an image's size beforehand, so there is no percentage or ETA.
import { basename } from "node:path";
import type { MultiBar, SingleBar } from "cli-progress";
import { formatBytes } from "../core/units.js";
import type { Receiving } from "../sinks/tcp-receiver.js";

export interface ReceiveProgress {
  onData(receiving: Receiving): void;
  /** Prints a line above the bars (or plainly, when none is drawn). */
  say(line: string): void;
  /** The image ended: its line shows the final count; once none is arriving the lines stay and drawing stops. */
  done(location: string, bytes: number): void;
  stop(): void;
}

interface Line {
  bar: SingleBar;
  started: number;
  drawn: number;
  finished: boolean;
}

export async function receiveProgress(options: { quiet?: boolean }): Promise<ReceiveProgress> {
  const write = (line: string) => process.stderr.write(line);
  if (options.quiet || !process.stderr.isTTY) return { onData() {}, say: write, done() {}, stop() {} };
  // Loaded only for a terminal, as the acquisition bar is.
  const { MultiBar } = await import("cli-progress");
  // Drawn only while images are arriving: messages between them are plain lines.
  let multi: MultiBar | undefined;
  const lines = new Map<string, Line>();
  const stop = () => {
    multi?.stop();
    multi = undefined;
    lines.clear();
  };
  const draw = (line: Line, bytes: number, now: number) => {
    line.drawn = now;
    const seconds = (now - line.started) / 1000;
    line.bar.update(0, { done: formatBytes(bytes), rate: seconds > 0 ? formatBytes(bytes / seconds) : "-" });
  };
  return {
    onData({ location, from, bytes }) {
      const now = performance.now();
      let line = lines.get(location);
      if (!line) {
        multi ??= new MultiBar({
          stream: process.stderr,
          format: "{name} from {from}: {done} | {rate}/s",
          hideCursor: true,
        });
        const bar = multi.create(0, 0, { name: basename(location), from, done: "0 B", rate: "-" });
        line = { bar, started: now, drawn: 0, finished: false };
        lines.set(location, line);
      }
      if (now - line.drawn >= 100) draw(line, bytes, now);
    },
    say: (text) => (multi ? multi.log(text) : write(text)),
    done(location, bytes) {
      const line = lines.get(location);
      if (!line) return;
      draw(line, bytes, performance.now());
      line.finished = true;
      if ([...lines.values()].every((l) => l.finished)) stop();
    },
    stop,
  };
}
