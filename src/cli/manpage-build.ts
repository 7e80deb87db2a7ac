// npm run man (run by npm run build): writes man/memimage.1 from the program definition.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { VERSION } from "../core/version.js";
import { renderManPage } from "./manpage.js";
import { buildProgram } from "./program.js";

const target = resolve(process.argv[2] ?? "man/memimage.1");
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, renderManPage(buildProgram(), VERSION));
process.stdout.write(`wrote ${target}\n`);
