// Everyday use, as a responder or a script meets it: the progress bar (only on a terminal), --json events (every
// line valid against schema/events.schema.json, and complete), help with examples, the man page, bash completion.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { encodeRecordHeader } from "../../src/formats/lime.js";
import { formatNames } from "../../src/formats/registry.js";
import { CLI, memimage, scratchDir } from "../helpers/cli.js";
import { assertValidEvent, assertValidReport } from "../helpers/schema.js";

const scratch = scratchDir("memimage-everyday-");
after(scratch.cleanup);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const image = scratch.path("input.lime");
const RANGES = [
  { start: 0x1000n, mib: 4 },
  { start: 0x10000000n, mib: 8 },
  { start: 0x40000000n, mib: 4 },
];

before(() => {
  writeFileSync(
    image,
    Buffer.concat(
      RANGES.flatMap((r, i) => {
        const bytes = Buffer.alloc(r.mib << 20, i + 1);
        return [encodeRecordHeader(r.start, bytes.length), bytes];
      }),
    ),
  );
});

/** The command names memimage --help lists. */
function commands(): string[] {
  const list = /\nCommands:\n([\s\S]*?)\n\n/.exec(memimage(["--help"]).stdout)?.[1] ?? "";
  return [...list.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1] as string);
}

interface Event {
  type: string;
  [field: string]: unknown;
}

/** Every line must be one event valid against the schema; returns them in order. */
function parseEvents(text: string): Event[] {
  const lines = text.split("\n").filter((l) => l !== "");
  assert.ok(lines.length > 0, "no events");
  return lines.map((line) => {
    const event = JSON.parse(line) as Event;
    assertValidEvent(event);
    return event;
  });
}

/** A run's events are complete: one start first, one done last, every range once, progress up to the last byte. */
function assertComplete(events: Event[]): { start: Event; done: Event } {
  const start = events[0] as Event;
  const done = events.at(-1) as Event;
  assert.equal(start.type, "start");
  assert.equal(done.type, "done");
  assert.equal(events.filter((e) => e.type === "start" || e.type === "done").length, 2);
  const ranges = events.filter((e) => e.type === "range").map((e) => e.index);
  assert.deepEqual(
    ranges,
    Array.from({ length: start.ranges as number }, (_, i) => i),
  );
  const progress = events.filter((e) => e.type === "progress");
  const read = progress.map((e) => e.bytesRead as number);
  assert.deepEqual(
    read,
    [...read].sort((a, b) => a - b),
    "bytesRead only grows",
  );
  return { start, done };
}

describe("--json events", () => {
  test("a conversion to a file: events on stdout, each valid, complete, the report in done", () => {
    const out = scratch.path("events.padded");
    const run = memimage(["convert", image, out, "-f", "padded", "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const events = parseEvents(run.stdout);
    const { start, done } = assertComplete(events);
    assert.equal(start.output, out);
    assert.equal(start.format, "padded");
    assert.equal(start.bytesPlanned, 16 << 20);
    assert.equal(start.ranges, RANGES.length);
    const last = events.filter((e) => e.type === "progress").at(-1);
    assert.equal(last?.bytesRead, 16 << 20, "a progress event says the last byte was read");
    assert.equal(done.status, "complete");
    assert.equal(done.exitCode, 0);
    assert.equal(done.sha256, sha256(readFileSync(out)));
    assert.equal(done.reportPath, `${out}.report.json`);
    const onDisk = JSON.parse(readFileSync(`${out}.report.json`, "utf8")) as unknown;
    assertValidReport(done.report);
    assert.deepEqual(done.report, onDisk);
  });

  test("with the image on stdout (-o -): the image alone on stdout, nothing but events on stderr", () => {
    const run = spawnSync(process.execPath, [CLI, "convert", image, "-", "-f", "raw", "--json"], {
      maxBuffer: 64 << 20,
    });
    assert.equal(run.status, 0, run.stderr.toString());
    assert.equal(run.stdout.length, 16 << 20);
    const { done } = assertComplete(parseEvents(run.stderr.toString()));
    assert.equal(done.sha256, sha256(run.stdout));
    assert.equal(done.reportPath, null);
  });
});

describe("progress bar", () => {
  const bar = /\d+% [\d.]+ \S+\/[\d.]+ \S+ [\d.]+ \S+\/s ETA \d/;
  /** Runs `command` under a pseudo-terminal (util-linux script); returns what the terminal showed. */
  const onTerminal = (command: string) => {
    const run = spawnSync("script", ["-qfec", command, "/dev/null"], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stdout);
    return run.stdout;
  };
  const convert = (name: string, extra = "") =>
    `${process.execPath} ${CLI} convert ${image} ${scratch.path(name)} -f lime ${extra}`;

  test("drawn on stderr when it is a terminal", () => {
    const shown = onTerminal(convert("tty.lime"));
    assert.match(shown, bar);
    assert.match(shown, /100% 16\.0 MiB\/16\.0 MiB .* 0x[0-9a-f]+ in 3\/3 record/, "the last range named");
  });

  test("not drawn with --quiet, nor when stderr is a file or a pipe", () => {
    assert.doesNotMatch(onTerminal(convert("quiet.lime", "-q")), bar);
    const stderrFile = scratch.path("stderr.txt");
    const shown = onTerminal(`${convert("file.lime")} 2>${stderrFile}`);
    assert.doesNotMatch(`${shown}${readFileSync(stderrFile, "utf8")}`, bar);
    assert.match(readFileSync(stderrFile, "utf8"), /^memimage: complete/m, "the summary still is");
    const piped = memimage(["convert", image, scratch.path("pipe.lime"), "-f", "lime"]);
    assert.equal(piped.status, 0);
    assert.doesNotMatch(piped.stderr, bar);
  });

  test("verify and info --hash draw one too (they read the whole image)", () => {
    const out = scratch.path("verify.lime");
    assert.equal(memimage(["convert", image, out, "-f", "lime", "-q"]).status, 0);
    const shown = onTerminal(`${process.execPath} ${CLI} verify ${out}`);
    assert.match(shown, bar);
    assert.match(shown, /verified/);
    const info = onTerminal(`${process.execPath} ${CLI} info --hash ${out}`);
    assert.match(info, bar);
    assert.match(info, /sha256 +[0-9a-f]{64}/);
  });
});

describe("receive progress", () => {
  const freePort = () =>
    new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
      });
    });

  /** Runs receive (under a terminal or with pipes), sends it one image, and returns what receive wrote. */
  async function receiveOne(terminal: boolean): Promise<string> {
    const port = await freePort();
    const dir = scratch.path(`received-${terminal}`);
    mkdirSync(dir);
    const receive = `${process.execPath} ${CLI} receive --listen 127.0.0.1:${port} -o ${dir} --count 1`;
    const child = terminal
      ? spawn("script", ["-qfec", receive, "/dev/null"], { stdio: ["ignore", "pipe", "pipe"] })
      : spawn(
          process.execPath,
          [CLI, "receive", "--listen", `127.0.0.1:${port}`, "-o", dir, "--count", "1"],
          {
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    for (let i = 0; i < 200 && !output.includes("receiving on"); i++)
      await new Promise((r) => setTimeout(r, 50));
    const send = memimage(["convert", image, `tcp://127.0.0.1:${port}/sent.lime`, "-f", "lime", "-q"]);
    assert.equal(send.status, 0, send.stderr);
    assert.equal(await exited, 0, output);
    return output;
  }
  const line = /sent\.lime from 127\.0\.0\.1:\d+: [\d.]+ (B|KiB|MiB) \| [\d.]+ (B|KiB|MiB|GiB)\/s/;

  test("each arriving image has a line with its bytes and rate on a terminal, none otherwise", async () => {
    const shown = await receiveOne(true);
    assert.match(shown, line);
    assert.match(shown, /memimage: complete: .*sent\.lime \(\d+ bytes\)/);
    const piped = await receiveOne(false);
    assert.doesNotMatch(piped, line);
    assert.match(piped, /memimage: complete: .*sent\.lime/);
  });
});

describe("help", () => {
  test("every command's --help has examples", () => {
    const names = commands();
    assert.ok(names.length >= 11, names.join(" "));
    for (const name of names) {
      const run = memimage([name, "--help"]);
      assert.equal(run.status, 0, name);
      assert.match(run.stdout, /\nExamples?:\n {2}.*memimage /, `${name} --help has no examples`);
    }
  });

  test("help formats names every format and the tools that open it", () => {
    const run = memimage(["help", "formats"]);
    assert.equal(run.status, 0);
    for (const name of formatNames) assert.match(run.stdout, new RegExp(`^ {2}${name} `, "m"));
    for (const tool of ["Volatility 3", "gdb", "crash", "drgn", "avml-convert"])
      assert.ok(run.stdout.includes(tool), tool);
  });

  test("help COMMAND is that command's --help; an unknown topic is a usage error", () => {
    assert.equal(memimage(["help", "convert"]).stdout, memimage(["convert", "--help"]).stdout);
    const bad = memimage(["help", "nonsense"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^memimage: no command or help topic "nonsense"/);
  });
});

describe("man page", () => {
  test("generated from the program: every command with its options and examples, and it renders", (t) => {
    const page = scratch.path("memimage.1");
    const build = spawnSync(
      process.execPath,
      [new URL("../../src/cli/manpage-build.js", import.meta.url).pathname, page],
      { encoding: "utf8" },
    );
    assert.equal(build.status, 0, build.stderr);
    const roff = readFileSync(page, "utf8");
    assert.match(roff, /^\.TH MEMIMAGE 1 /);
    for (const section of ["NAME", "SYNOPSIS", "COMMANDS", '"FORMATS"', '"EXIT STATUS"'])
      assert.match(roff, new RegExp(`^\\.SH ${section}$`, "m"));
    for (const name of commands()) assert.match(roff, new RegExp(`^\\.SS "memimage ${name} `, "m"));
    assert.match(roff, /^\.B \\-\\-freeze$/m);
    const missing = ["groff", "man"].filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0);
    if (missing.length > 0) {
      // CI installs man-db (with groff-base); elsewhere the structural checks above are what can run
      assert.notEqual(process.env.CI, "true", `${missing.join(", ")} missing: install man-db`);
      t.skip(`${missing.join(", ")} not installed (apt-get install man-db): rendering not checked`);
      return;
    }
    // groff warns (-ww) about anything malformed; -z formats without output
    const lint = spawnSync("groff", ["-man", "-ww", "-z", page], { encoding: "utf8" });
    assert.equal(lint.status, 0);
    assert.equal(lint.stderr, "");
    const shown = spawnSync("man", ["-l", page], {
      encoding: "utf8",
      env: { ...process.env, MANPAGER: "cat" },
    });
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /memimage process 1234 --freeze -o app\.core/);
    assert.match(shown.stdout, /130, 143 +interrupted by SIGINT or SIGTERM/);
  });
});

describe("bash completion", () => {
  /** Sources the generated script in a real bash and completes the words, the last one being completed. */
  const complete = (...words: string[]) => {
    const script = scratch.path("completion.bash");
    writeFileSync(script, memimage(["completion", "bash"]).stdout);
    const line = words.map((w) => `'${w}'`).join(" ");
    const run = spawnSync(
      "bash",
      [
        "--norc",
        "-c",
        `source '${script}'; complete -p memimage; COMP_WORDS=(memimage ${line}); COMP_CWORD=${words.length}; _memimage; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { encoding: "utf8", cwd: scratch.dir },
    );
    assert.equal(run.status, 0, run.stderr);
    const [registered, ...replies] = run.stdout.trimEnd().split("\n");
    assert.equal(registered, "complete -o filenames -F _memimage memimage");
    return replies;
  };

  test("commands, flags of a command, values of a flag, files for arguments", () => {
    assert.deepEqual(complete("c").sort(), ["case", "completion", "convert"]);
    assert.ok(complete("").includes("acquire") && complete("").includes("help"));
    assert.deepEqual(complete("process", "--f"), ["--format", "--freeze", "--filter"]);
    assert.deepEqual(complete("convert", "in.lime", "out", "-f", ""), formatNames);
    assert.deepEqual(complete("acquire", "--source", "k"), ["kcore"]);
    assert.deepEqual(complete("help", "fo"), ["formats"]);
    writeFileSync(scratch.path("sample.lime"), "");
    assert.deepEqual(complete("info", "samp"), ["sample.lime"], "file names for an image argument");
  });
});
