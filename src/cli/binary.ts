// Entry point of the single executable (scripts/build-binary.mjs bundles it as CommonJS, which has no top-level
// await). It does what main.ts does.
import { start } from "./start.js";

void start();
