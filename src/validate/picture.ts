// The guest's physical address space as a picture (self-contained SVG): one panel coloured by page class, one by
// when the imager read each page, cell for cell, so a reader sees where smear happened and when. A cell holds
// a power of two of pages and shows its worst page; read time is the mean over the cell's pages.
import { hex } from "../core/map.js";
import { PAGE, PAGE_CLASSES, type PageClassName } from "./classify.js";

export const CLASS_COLOURS: Record<PageClassName, string> = {
  outside: "#e6e6e6",
  identical: "#a5d6a7",
  before: "#64b5f6",
  after: "#ffb74d",
  between: "#ba68c8",
  declared: "#757575",
  missing: "#000000",
  error: "#e53935",
};

export const CLASS_LABELS: Record<PageClassName, string> = {
  outside: "not System RAM",
  identical: "identical to both dumps",
  before: "smear: as before only (changed after it was read)",
  after: "smear: as after only (changed before it was read)",
  between: "smear: neither (changed during the window)",
  declared: "declared unreadable by the imager",
  missing: "missing, not declared",
  error: "error: neither dump, and nothing saw it change",
};

const COLUMNS = 128;
const MAX_CELLS = COLUMNS * 128;
const CELL = 5;
const RAMP = ["#313695", "#4575b4", "#74add1", "#abd9e9", "#fee090", "#fdae61", "#f46d43", "#a50026"];

export interface PictureInput {
  title: string;
  /** One class per page frame from address 0. */
  classes: Uint8Array;
  /** Per frame, ms after the imager started reading; NaN where unknown. Absent: read times unknown. */
  readMs?: Float32Array;
  /** Why read times are unknown, when they are. */
  readTimes: string;
}

export function pagesPerCell(frames: number): number {
  let n = 1;
  while (frames / n > MAX_CELLS) n *= 2;
  return n;
}

export function renderPicture(input: PictureInput): string {
  const frames = input.classes.length;
  const per = pagesPerCell(frames);
  const cells = Math.ceil(frames / per);
  const rows = Math.ceil(cells / COLUMNS);
  const classOf = new Uint8Array(cells);
  const timeOf = new Float32Array(cells).fill(Number.NaN);
  let maxMs = 0;
  for (let c = 0; c < cells; c++) {
    let worst = 0;
    let sum = 0;
    let known = 0;
    for (let f = c * per; f < Math.min(frames, (c + 1) * per); f++) {
      worst = Math.max(worst, input.classes[f] ?? 0);
      const t = input.readMs?.[f];
      if (t !== undefined && !Number.isNaN(t)) {
        sum += t;
        known++;
      }
    }
    classOf[c] = worst;
    if (known > 0) {
      timeOf[c] = sum / known;
      maxMs = Math.max(maxMs, sum / known);
    }
  }
  const gutter = 90;
  const panelWidth = COLUMNS * CELL;
  const panelHeight = rows * CELL;
  const top = 50;
  const secondX = gutter + panelWidth + gutter;
  const width = secondX + panelWidth + 20;
  const legendTop = top + panelHeight + 20;
  const height = legendTop + PAGE_CLASSES.length * 16 + 30;
  const cellBytes = per * PAGE;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(input.title)}</title>`,
    `<text x="10" y="16" font-size="13" font-weight="bold">${escapeXml(input.title)}</text>`,
    `<text x="10" y="32">guest physical address space, ${COLUMNS} cells a row, ${per} page${per > 1 ? "s" : ""} (${cellBytes / 1024} KiB) a cell, address growing left to right and down</text>`,
    `<text x="${gutter}" y="${top - 5}" font-weight="bold">page class (a cell shows its worst page)</text>`,
    `<text x="${secondX}" y="${top - 5}" font-weight="bold">read time</text>`,
  ];
  for (let r = 0; r < rows; r += 16)
    for (const x of [gutter, secondX])
      parts.push(
        `<text x="${x - 4}" y="${top + r * CELL + CELL}" text-anchor="end">${hex(BigInt(r * COLUMNS) * BigInt(cellBytes))}</text>`,
      );
  rowRuns(
    classOf,
    rows,
    (v) => CLASS_COLOURS[PAGE_CLASSES[v] ?? "outside"],
    gutter,
    top,
    parts,
    (v) => CLASS_LABELS[PAGE_CLASSES[v] ?? "outside"],
  );
  if (input.readMs && maxMs > 0) {
    const bucket = (t: number) =>
      Number.isNaN(t) ? -1 : Math.min(RAMP.length - 1, Math.floor((t / maxMs) * RAMP.length));
    const buckets = Int8Array.from(timeOf, bucket);
    rowRuns(
      buckets,
      rows,
      (v) => (v < 0 ? CLASS_COLOURS.outside : (RAMP[v] as string)),
      secondX,
      top,
      parts,
      (v) => (v < 0 ? "not read" : `read ${msRange(v, maxMs)}`),
    );
    const rampWidth = panelWidth / RAMP.length;
    RAMP.forEach((colour, i) => {
      parts.push(
        `<rect x="${secondX + i * rampWidth}" y="${legendTop}" width="${rampWidth}" height="12" fill="${colour}"/>`,
      );
    });
    parts.push(
      `<text x="${secondX}" y="${legendTop + 26}">0 s</text>`,
      `<text x="${secondX + panelWidth}" y="${legendTop + 26}" text-anchor="end">${(maxMs / 1000).toFixed(1)} s after the imager started</text>`,
    );
  } else {
    parts.push(
      `<rect x="${secondX}" y="${top}" width="${panelWidth}" height="${panelHeight}" fill="#f5f5f5" stroke="#bdbdbd"/>`,
      `<text x="${secondX + panelWidth / 2}" y="${top + panelHeight / 2}" text-anchor="middle">${escapeXml(input.readTimes)}</text>`,
    );
  }
  PAGE_CLASSES.forEach((name, i) => {
    const y = legendTop + i * 16;
    parts.push(
      `<rect x="${gutter}" y="${y}" width="12" height="12" fill="${CLASS_COLOURS[name]}" stroke="#9e9e9e"/>`,
      `<text x="${gutter + 18}" y="${y + 10}">${escapeXml(CLASS_LABELS[name])}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** Draws each row as runs of equal cells (one rect per run keeps the file small). */
function rowRuns(
  values: ArrayLike<number>,
  rows: number,
  fill: (v: number) => string,
  x0: number,
  y0: number,
  out: string[],
  label: (v: number) => string,
): void {
  for (let r = 0; r < rows; r++) {
    let c = 0;
    while (c < COLUMNS && r * COLUMNS + c < values.length) {
      const v = values[r * COLUMNS + c] as number;
      let end = c + 1;
      while (end < COLUMNS && r * COLUMNS + end < values.length && values[r * COLUMNS + end] === v) end++;
      out.push(
        `<rect x="${x0 + c * CELL}" y="${y0 + r * CELL}" width="${(end - c) * CELL}" height="${CELL}" fill="${fill(v)}"><title>${escapeXml(label(v))}</title></rect>`,
      );
      c = end;
    }
  }
}

function msRange(bucket: number, maxMs: number): string {
  const lo = (bucket * maxMs) / RAMP.length / 1000;
  const hi = ((bucket + 1) * maxMs) / RAMP.length / 1000;
  return `${lo.toFixed(1)}-${hi.toFixed(1)} s after the start`;
}

export function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}
