// memimage validate: measure an imager (memimage, LiME or any command) in the lab guest against the hypervisor's
// ground truth, and report a table, --json, and a self-contained HTML report with a picture of each run.
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { ExitCode, MemimageError } from "../core/errors.js";
import { exists } from "../core/exists.js";
import { parseSize } from "../core/units.js";
import { Guest } from "../lab/guest.js";
import { buildLime } from "../lab/lime.js";
import { provisionLab } from "../lab/provision.js";
import { WriteLog, writeLogArgs, writeLogPlugin } from "../lab/write-log.js";
import { writeNewFile } from "../report/files.js";
import { renderHtml } from "../validate/html.js";
import { guestFacts, measure, type RunResult } from "../validate/measure.js";
import { markdownTable, summarise, tableRows, textTable } from "../validate/summary.js";
import { toolSpec } from "../validate/tools.js";
import { WORKLOADS, type Workload } from "../validate/workload.js";

interface ValidateOptions {
  tool: string[];
  toolFormat?: string;
  memory: string;
  cpus: string;
  runs: string;
  sampleEvery?: string;
  writeLog: boolean;
  workload: string[];
  json?: boolean;
  html?: string;
  keep?: string;
  markdown?: boolean;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("measure a memory imager in the lab guest against the hypervisor's view of its RAM")
    .option(
      "--tool <name|command>",
      "memimage, lime, or a shell command run in the guest that writes an image at {out} (repeatable)",
      collect,
    )
    .option("--tool-format <format>", "raw or padded: how to read a command's headerless image")
    .option("--memory <size>", "guest RAM", "512M")
    .option("--cpus <n>", "guest vCPUs", "2")
    .option("--runs <n>", "runs of each tool on each workload", "1")
    .option(
      "--sample-every <seconds>",
      "dump the guest also every this many seconds while the imager runs, to see changes undone by the end (0: never; default 0 with the write log, 5 without)",
    )
    .option("--no-write-log", "do not record the guest's stores with the QEMU plugin (the guest runs faster)")
    .option("--workload <idle|busy>", "what the guest does meanwhile (repeatable)", collect)
    .option("--json", "the results as JSON on stdout")
    .option("--html <path>", "write the HTML report here (default: memimage-validate-TIME.html)")
    .option("--keep <dir>", "keep every image and both dumps of each run in this directory")
    .option("--markdown", "print the table as Markdown")
    .addHelpText(
      "after",
      `
In a command, {out} is the image path, {memimage} this memimage and {lime} LiME's module for the guest kernel.
The image's format is read from its header (LiME, ELF, AVML) or from a memimage report beside it; a raw or
padded image without one needs --tool-format. Meanwhile a QEMU plugin (built with gcc on first use) records
every page the guest stores to, so a page changed and changed back between the dumps is smear, not an error; the
guest runs about 3 times slower while it records (--no-write-log: faster, but such pages count as errors). Exit 0
when every run passed (no error pages, no missing pages that the imager did not declare, kernel code and rodata
identical), 5 when one failed, 1 when validate could not finish (the runs that did are still reported).

Examples:
  memimage validate --tool memimage --tool lime --workload idle --workload busy --runs 3
  memimage validate --tool '{memimage} acquire -q -f padded -o {out}' --memory 1G
  memimage validate --tool 'insmod {lime} "path={out} format=padded" && rmmod lime' --tool-format padded
`,
    )
    .action(async (options: ValidateOptions) => {
      process.exitCode = await validate(options);
    });
}

async function validate(options: ValidateOptions): Promise<number> {
  const tools = (options.tool ?? ["memimage"]).map(toolSpec);
  const workloads = (options.workload ?? ["idle"]).map((w) => {
    if (!WORKLOADS.includes(w as Workload))
      throw new MemimageError("usage", `--workload ${w}: choose ${WORKLOADS.join(" or ")}`);
    return w as Workload;
  });
  if (options.toolFormat && !["raw", "padded"].includes(options.toolFormat))
    throw new MemimageError("usage", "--tool-format is raw or padded (other formats say so in their header)");
  const runs = positive(options.runs, "--runs");
  const cpus = positive(options.cpus, "--cpus");
  const memoryMiB = Math.floor(parseSize(options.memory) / 2 ** 20);
  if (memoryMiB < 128) throw new MemimageError("usage", "--memory must be at least 128M");
  const startedAt = new Date();
  const html = resolve(
    options.html ?? `memimage-validate-${startedAt.toISOString().replace(/[-:]|\.\d+/g, "")}.html`,
  );
  // memimage never overwrites a file: say so now rather than after the runs.
  if (await exists(html))
    throw new MemimageError("output-exists", `${html} already exists (choose another --html)`);
  const keepDir = options.keep ? resolve(options.keep) : undefined;
  if (keepDir) await mkdir(keepDir, { recursive: true });
  const say = (text: string) => process.stderr.write(`validate: ${text}\n`);
  say("provisioning the lab (cached after the first run)...");
  const lab = await provisionLab();
  const needsLime = tools.some((t) => t.template.includes("{lime}"));
  const lime = needsLime ? await buildLime(lab.kernel.release) : undefined;
  const plugin = options.writeLog ? await writeLogPlugin(lab.qemu, memoryMiB) : undefined;
  if (plugin && "unavailable" in plugin)
    say(`no write log (${plugin.unavailable}): only dumps show which pages changed`);
  const pluginPath = plugin && "path" in plugin ? plugin.path : undefined;
  const sampleEverySeconds = Number(options.sampleEvery ?? (pluginPath ? 0 : 5));
  if (!(sampleEverySeconds >= 0))
    throw new MemimageError("usage", "--sample-every must be a number of seconds (0: never)");
  say(`booting Debian ${lab.kernel.release}, ${memoryMiB} MiB, ${cpus} vCPUs, QEMU TCG...`);
  const planned = runs * tools.length * workloads.length;
  const guest = await Guest.boot({
    lab,
    memoryMiB,
    cpus,
    // The guest powers itself off after this, should this process die without stopping it: room for every run.
    lifetimeSeconds: 1800 + planned * 1800,
    ...(pluginPath ? { qemuArgs: writeLogArgs(pluginPath, memoryMiB) } : {}),
  });
  const writeLog = pluginPath ? WriteLog.in(guest.runDir) : undefined;
  const results: RunResult[] = [];
  let facts: Awaited<ReturnType<typeof guestFacts>>;
  // Why validate stopped before its last run (the guest died, QMP failed): what was measured is still reported.
  let stopped: string | undefined;
  try {
    facts = await guestFacts(guest, memoryMiB, cpus);
    allRuns: for (let run = 1; run <= runs; run++)
      for (const workload of workloads)
        for (const tool of tools) {
          say(`run ${run}/${runs}: ${tool.name}, ${workload} guest...`);
          const r = await measure(guest, facts, {
            tool,
            workload,
            run,
            sampleEverySeconds,
            ...(writeLog ? { writeLog } : {}),
            ...(options.toolFormat ? { toolFormat: options.toolFormat } : {}),
            ...(lime ? { lime } : {}),
            ...(keepDir ? { keepDir } : {}),
          }).catch((error: unknown) => {
            stopped = `run ${run}/${runs} of ${tool.name} on the ${workload} guest did not finish: ${error instanceof Error ? error.message : String(error)}`;
          });
          if (!r) break allRuns;
          say(r.passed ? "passed" : `FAILED: ${r.failures.join("; ")}`);
          results.push(r);
        }
  } finally {
    await guest.shutdown();
  }
  const summaries = summarise(results);
  const command = ["memimage", ...process.argv.slice(2)].join(" ");
  // The results are printed even when the HTML report cannot be written: the runs took minutes.
  const htmlWritten = await writeNewFile(
    html,
    renderHtml({
      command,
      startedAt: startedAt.toISOString(),
      facts,
      summaries,
      results,
      ...(stopped ? { stopped } : {}),
    }),
    "HTML report",
  ).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  if (options.json) {
    const plain = results.map(({ classes: _c, readMs: _r, ...rest }) => rest);
    process.stdout.write(
      `${JSON.stringify(
        {
          command,
          startedAt: startedAt.toISOString(),
          guest: {
            ...facts,
            ram: facts.ram.map(hexSpan),
            kernel: facts.kernel.map((k) => ({ name: k.name, ...hexSpan(k.span) })),
          },
          html,
          ...(stopped ? { stopped, runsPlanned: planned } : {}),
          summaries,
          runs: plain,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const rows = tableRows(summaries);
    process.stdout.write(
      `${options.markdown ? markdownTable(rows) : textTable(rows)}\nDebian ${facts.release}, ${memoryMiB} MiB guest, QEMU ${facts.qemu} TCG; report: ${html}\n`,
    );
  }
  if (htmlWritten) say(htmlWritten);
  if (stopped) say(`stopped after ${results.length} of ${planned} runs: ${stopped}`);
  if (stopped || htmlWritten) return ExitCode.error;
  return results.every((r) => r.passed) ? ExitCode.complete : ExitCode.mismatch;
}

function hexSpan(s: { start: bigint; length: number }): { start: string; length: number } {
  return { start: `0x${s.start.toString(16)}`, length: s.length };
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new MemimageError("usage", `${flag} must be a whole number of at least 1`);
  return n;
}
