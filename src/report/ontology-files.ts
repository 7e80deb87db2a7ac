// The UCO 1.4 and CASE 1.4 Turtle files that CASE output is validated against: read from the package's ontology/
// (three levels above dist/src/report), or, in the single executable, from the copies it carries.
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { embeddedFiles, embeddedText, inBinary } from "../core/embedded.js";

export interface OntologyFile {
  /** The file's own location, as the parser's base for relative IRIs. */
  baseIRI: string;
  turtle: string;
}

const PROJECTS = ["uco", "case"];

export async function ontologyFiles(): Promise<OntologyFile[]> {
  if (inBinary())
    return PROJECTS.flatMap((project) =>
      embeddedFiles(`ontology/${project}/`)
        .filter((path) => path.endsWith(".ttl"))
        .map((path) => ({ baseIRI: `file:///memimage/${path}`, turtle: embeddedText(path) })),
    );
  const root = fileURLToPath(new URL("../../../ontology/", import.meta.url));
  const files: OntologyFile[] = [];
  for (const project of PROJECTS) {
    const dir = `${root}${project}/`;
    for (const name of (await readdir(dir)).filter((n) => n.endsWith(".ttl")).sort())
      files.push({ baseIRI: `file://${dir}${name}`, turtle: await readFile(dir + name, "utf8") });
  }
  return files;
}
