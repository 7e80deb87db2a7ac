// The flags every image-writing command takes besides -o and --format: the report, hashes, where else the image
// may go (TCP, S3, a disk budget), output style, and the evidence flags. One place, so every command agrees.
import type { Command } from "commander";
import { addEvidenceOptions } from "./evidence.js";

export function addOutputOptions(command: Command): Command {
  return addEvidenceOptions(
    command
      .option("--report <path>", "where to write the report (default: OUTPUT.report.json; - for stdout)")
      .option("--blake3", "also compute BLAKE3 of the output")
      .option(
        "--listen <[host:]port>",
        "serve the raw image to the first TCP client instead of -o, as LiME does (collect with: nc HOST PORT > image)",
      )
      .option(
        "--max-disk-usage <bytes|percent>",
        "file output: stop (exit 4, image left .partial) before the output's filesystem has more than this in use, e.g. 90% or 200G",
      )
      .option(
        "--endpoint <url>",
        "for -o s3://BUCKET/KEY: an S3-compatible endpoint (credentials from the AWS standard chain)",
      )
      .option(
        "--json",
        'newline-delimited JSON events (start, range, progress, warning, done) on stdout, or on stderr with -o -; "done" carries the report',
      )
      .option("-q, --quiet", "no progress bar and no summary"),
  );
}
