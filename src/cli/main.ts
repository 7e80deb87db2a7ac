#!/usr/bin/env node
// Entry point of the package (bin). start.ts loads nothing else before it has set V8's flags and the thread pool.
import { start } from "./start.js";

await start();
