// What `memimage --version` states beyond the package version: the git commit and the build time. Written to
// dist/build-info.json when the package is packed (npm pack/publish run prepack) and put into the single
// executable by build-binary.mjs. Outside a git checkout the commit is "unknown", never guessed.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function git(args) {
  return execFileSync("git", args, {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  }).trim();
}

/** The commit of HEAD, marked "-dirty" (as git describe does) when tracked files differ from it. */
export function gitCommit() {
  try {
    const commit = git(["rev-parse", "HEAD"]);
    return git(["status", "--porcelain", "--untracked-files=no"]) ? `${commit}-dirty` : commit;
  } catch {
    return "unknown";
  }
}

/** SOURCE_DATE_EPOCH (reproducible builds) if set, else now. */
export function buildDate() {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return new Date(epoch ? Number(epoch) * 1000 : Date.now()).toISOString();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const info = { commit: gitCommit(), date: buildDate() };
  writeFileSync(new URL("../dist/build-info.json", import.meta.url), `${JSON.stringify(info)}\n`);
  console.log(`dist/build-info.json: commit ${info.commit}, built ${info.date}`);
}
