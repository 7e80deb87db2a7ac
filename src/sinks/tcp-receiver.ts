// The other end of -o tcp://: accepts senders, writes each image with FileSink (OUT.partial until complete),
// checks the SHA-256 the sender's report states against the bytes that arrived, writes the report beside the image,
// and answers the sender with what it stored. A sender that stops mid-stream leaves OUT.partial, never OUT.
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { basename, join } from "node:path";
import { errnoCode, MemimageError } from "../core/errors.js";
import { youngGarbageCollector } from "../core/young-garbage.js";
import { writeReport } from "../report/files.js";
import type { Report } from "../report/report.js";
import { FileSink, PARTIAL_SUFFIX } from "./file.js";
import { type Ack, type End, FrameReader, FrameType, type Hello, jsonFrame } from "./tcp-frames.js";

export type ReceiveStatus = Ack["status"];

export interface Received {
  status: ReceiveStatus;
  location: string;
  bytes: number;
  from: string;
  host: string;
  message: string;
}

/** An image as its bytes arrive, for a progress display. */
export interface Receiving {
  location: string;
  from: string;
  bytes: number;
}

/** A name for the image: the sender's proposal reduced to a plain file name, else HOST-TIME.FORMAT. */
function imageName(hello: Hello): string {
  const proposed = hello.name ? basename(hello.name).replace(/[^A-Za-z0-9._-]/g, "_") : "";
  if (proposed && proposed !== "." && proposed !== "..") return proposed;
  const time = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const host = hello.host.replace(/[^A-Za-z0-9._-]/g, "_") || "unknown";
  return `${host}-${time}.${hello.format.replace(/[^a-z0-9]/g, "") || "img"}`;
}

async function createUnique(directory: string, name: string): Promise<{ sink: FileSink; path: string }> {
  for (let n = 0; ; n++) {
    const path = join(directory, n === 0 ? name : `${name}.${n}`);
    try {
      return { sink: await FileSink.create(path, { direct: true }), path };
    } catch (error) {
      if (!(error instanceof MemimageError && error.kind === "output-exists") || n > 1000) throw error;
    }
  }
}

/** Receives one image from one connection. Never throws: what happened is in the result. */
export async function receiveOne(
  socket: Socket,
  directory: string,
  onData?: (receiving: Receiving) => void,
): Promise<Received> {
  const from = `${socket.remoteAddress}:${socket.remotePort}`;
  const frames = new FrameReader();
  const hash = createHash("sha256");
  const collect = youngGarbageCollector();
  let hello: Hello | undefined;
  let sink: FileSink | undefined;
  let path = "";
  let end: End | undefined;
  let report: Report | undefined;
  let bytes = 0;
  let problem: string | undefined;
  try {
    // Not destroyed at the end of the data: the answer goes back on the same connection.
    for await (const chunk of socket.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      for (const frame of frames.push(chunk)) {
        if (frame.type === FrameType.hello) {
          hello = JSON.parse(frame.payload.toString("utf8")) as Hello;
          ({ sink, path } = await createUnique(directory, imageName(hello)));
        } else if (frame.type === FrameType.data) {
          if (!sink) throw new Error("image data before the hello frame");
          if (end) throw new Error("image data after the end frame");
          hash.update(frame.payload);
          await sink.write(frame.payload); // a copy into the file sink's staging, or a write
          bytes += frame.payload.length;
          collect(frame.payload.length);
          onData?.({ location: path, from, bytes });
        } else if (frame.type === FrameType.end) end = JSON.parse(frame.payload.toString("utf8")) as End;
        else if (frame.type === FrameType.report)
          report = JSON.parse(frame.payload.toString("utf8")) as Report;
        else throw new Error(`unknown frame type 0x${frame.type.toString(16)}`);
      }
    }
    if (!report) problem = `the connection ended after ${bytes} bytes, before the image was complete`;
  } catch (error) {
    const code = errnoCode(error);
    problem = code
      ? `the connection failed after ${bytes} bytes (${code})`
      : `bad stream at byte ${frames.offset}: ${(error as Error).message}`;
  }
  const host = hello?.host ?? "(unknown host)";
  if (!sink) {
    socket.destroy();
    return {
      status: "partial",
      location: "(nothing written)",
      bytes,
      from,
      host,
      message: problem ?? "no image",
    };
  }
  const sha256 = hash.digest("hex");
  let status: ReceiveStatus;
  let message: string;
  if (problem) {
    status = "partial";
    message = problem;
  } else if (report?.output?.sha256 !== sha256 || report.output.bytes !== bytes) {
    status = "mismatch";
    message = `SHA-256 mismatch: the sender's report says ${report?.output?.sha256} (${report?.output?.bytes} bytes), received ${sha256} (${bytes} bytes)`;
  } else if (!end?.complete || report.status === "aborted") {
    status = "partial";
    message = "the sender says the image is incomplete (its report says why)";
  } else {
    status = "complete";
    message = `sha256 ${sha256} verified`;
  }
  let location: string;
  try {
    if (status === "complete") {
      location = (await sink.finish()).location;
    } else location = (await sink.abort()).location;
    if (report) await writeReport(`${location}.report.json`, report);
  } catch (error) {
    status = "partial";
    location = `${path}${PARTIAL_SUFFIX}`;
    message = error instanceof MemimageError ? error.message : String(error);
  }
  const ack: Ack = { status, location, message: `${status}: ${location} (${bytes} bytes) ${message}` };
  if (!problem && socket.writable)
    await new Promise<void>((resolve) => socket.end(jsonFrame(FrameType.ack, ack), resolve));
  socket.destroy();
  return { status, location, bytes, from, host, message };
}

export interface ReceiverOptions {
  host: string;
  port: number;
  directory: string;
  /** Stop after this many images (else run until closed). */
  count?: number;
  onListening?: (address: string) => void;
  onReceived?: (received: Received) => void;
  /** After each piece of an image arrives (often: throttle what it draws). */
  onData?: (receiving: Receiving) => void;
}

/** Listens and receives images until `count` have arrived or `signal` aborts; returns every result. */
export async function runReceiver(options: ReceiverOptions, signal?: AbortSignal): Promise<Received[]> {
  const results: Received[] = [];
  const server: Server = createServer({ allowHalfOpen: true }); // the sender ends its side, then waits for the answer
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  }).catch((error: unknown) => {
    throw new MemimageError(
      "usage",
      `cannot listen on ${options.host}:${options.port}: ${errnoCode(error) ?? String(error)}`,
    );
  });
  const address = server.address();
  options.onListening?.(
    `${options.host}:${typeof address === "object" && address ? address.port : options.port}`,
  );
  const active = new Set<Promise<void>>();
  let accepted = 0;
  await new Promise<void>((resolve) => {
    const stop = () => {
      server.close();
      Promise.all(active).then(() => resolve());
    };
    signal?.addEventListener("abort", () => {
      for (const socket of sockets) socket.destroy();
      stop();
    });
    const sockets = new Set<Socket>();
    server.on("connection", (socket) => {
      accepted++;
      if (options.count !== undefined && accepted >= options.count) server.close();
      sockets.add(socket);
      const work = receiveOne(socket, options.directory, options.onData).then((received) => {
        sockets.delete(socket);
        results.push(received);
        options.onReceived?.(received);
      });
      active.add(work);
      work.then(() => {
        active.delete(work);
        if (options.count !== undefined && results.length >= options.count) stop();
      });
    });
  });
  return results;
}
