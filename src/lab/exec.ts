// Runs a program to completion and returns what it printed; throws with its stderr when it fails.
import { spawn } from "node:child_process";

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export function exec(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; allowFailure?: boolean } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const result = { stdout, stderr, code: code ?? -1 };
      if (code !== 0 && !options.allowFailure)
        reject(new Error(`${command} ${args.join(" ")} failed (${code}): ${stderr.trim().slice(-2000)}`));
      else resolve(result);
    });
  });
}

export async function which(command: string): Promise<string | undefined> {
  const { stdout, code } = await exec("sh", ["-c", `command -v ${command}`], { allowFailure: true });
  return code === 0 ? stdout.trim() : undefined;
}
