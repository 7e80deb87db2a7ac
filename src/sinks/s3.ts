// -o s3://BUCKET/KEY: a multipart upload (lib-storage) with bounded part size and concurrency, so memory stays
// bounded; each failed part is retried by the SDK (3 attempts). Credentials come from the SDK's standard chain and
// never appear in a message: errors are reduced to their name, HTTP status and a redacted message.
import { PassThrough } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  AbortMultipartUploadCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { MemimageError } from "../core/errors.js";
import type { Sink, SinkResult } from "./sink.js";
import { writeZerosBy } from "./sink.js";

export const DEFAULT_PART_SIZE = 8 << 20;
export const DEFAULT_CONCURRENCY = 4;
/** S3 refuses parts smaller than 5 MiB (but the last). */
export const MIN_PART_SIZE = 5 << 20;
/** Overrides the part size, in bytes (at least 5 MiB): for tests and for stores with other limits. */
export const PART_SIZE_ENV = "MEMIMAGE_S3_PART_SIZE";

/** The part size: the option, else $MEMIMAGE_S3_PART_SIZE, else 8 MiB. */
export function partSizeFrom(option: number | undefined, env = process.env[PART_SIZE_ENV]): number {
  if (option !== undefined) return option;
  if (env === undefined || env === "") return DEFAULT_PART_SIZE;
  const value = Number(env);
  if (!Number.isSafeInteger(value) || value < MIN_PART_SIZE)
    throw new MemimageError(
      "usage",
      `${PART_SIZE_ENV}=${env}: give a whole number of bytes, at least ${MIN_PART_SIZE} (5 MiB)`,
    );
  return value;
}

export interface S3Options {
  endpoint?: string;
  partSize?: number;
  concurrency?: number;
  say?: (line: string) => void;
}

export function parseS3Url(output: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(output);
  if (!match) throw new MemimageError("usage", `not an S3 output: "${output}" (use s3://BUCKET/KEY)`);
  return { bucket: match[1] as string, key: match[2] as string };
}

/** What an SDK error says, without anything secret: its name, HTTP status and message, credentials blanked. */
export function describeS3Error(error: unknown): string {
  const e = error as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    code?: string;
  };
  const status = e?.$metadata?.httpStatusCode;
  let text = `${e?.name ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${e?.message || e?.code || String(error)}`;
  for (const name of ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"]) {
    const value = process.env[name];
    if (value && value.length >= 4) text = text.split(value).join("[redacted]");
  }
  return text.replace(/\s+/g, " ").trim();
}

export class S3Sink implements Sink {
  readonly kind = "s3" as const;
  readonly reportBeside = undefined;
  private written = 0;
  private sinceCollect = 0;
  private readonly partSize: number;
  private failure: MemimageError | undefined;
  private readonly body: PassThrough;
  private readonly done: Promise<void>;
  private readonly upload: Upload;

  private constructor(
    private readonly client: S3Client,
    private readonly url: string,
    private readonly bucket: string,
    private readonly key: string,
    options: S3Options,
  ) {
    const partSize = partSizeFrom(options.partSize);
    this.partSize = partSize;
    // Hold little beyond the part being assembled: parts in flight are the memory that matters (queueSize x partSize).
    this.body = new PassThrough({ highWaterMark: 1 << 20 });
    this.upload = new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: this.body, ContentType: "application/octet-stream" },
      partSize,
      queueSize: options.concurrency ?? DEFAULT_CONCURRENCY,
      // memimage abandons the multipart upload itself (abandon()): lib-storage's own attempt, when it fails (s3rver
      // has no AbortMultipartUpload), replaces the error that made the upload fail with its own.
      leavePartsOnError: true,
    });
    this.done = this.upload.done().then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= this.failed(error);
        this.body.destroy();
      },
    );
  }

  /** Abandons the multipart upload, if one was started, so the store keeps no parts; says how that went. */
  private async abandon(): Promise<string> {
    const uploadId = this.upload.uploadId;
    if (!uploadId) return "not created: upload abandoned";
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: uploadId }),
      );
      return "not created: upload abandoned";
    } catch (error) {
      return `not created; its parts may remain on the store: AbortMultipartUpload failed: ${describeS3Error(error)}`;
    }
  }

  static async create(output: string, options: S3Options = {}): Promise<S3Sink> {
    const { bucket, key } = parseS3Url(output);
    partSizeFrom(options.partSize); // a bad value is a usage error before anything is sent
    // The SDK warns on stderr that its releases from 2027 need Node 22; memimage's errors are one line each.
    // This is its documented switch, set in this process only.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    const region =
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION ??
      (options.endpoint ? "us-east-1" : undefined);
    const client = new S3Client({
      ...(region ? { region } : {}),
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      maxAttempts: 3,
    });
    // Before anything is sent: is the store there, are we allowed, does the bucket exist, is the key free?
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (error) {
      client.destroy();
      throw new MemimageError(
        "output",
        `cannot write ${output}: ${bucketProblem(error, bucket, options.endpoint)}`,
      );
    }
    const exists = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
      () => true,
      () => false,
    );
    if (exists) {
      client.destroy();
      throw new MemimageError(
        "output-exists",
        `${output} already exists; memimage never overwrites an image`,
      );
    }
    return new S3Sink(client, output, bucket, key, options);
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    // The upload holds what it is given until its part is sent: give it a copy, the pipeline reuses its buffer.
    if (!this.body.write(Buffer.from(bytes))) {
      await Promise.race([new Promise((resolve) => this.body.once("drain", resolve)), this.done]);
    }
    if (this.failure) throw this.failure;
    this.written += bytes.length;
    this.sinceCollect += bytes.length;
    if (this.sinceCollect >= this.partSize) {
      this.sinceCollect = 0;
      collectGarbage();
    }
  }

  writeZeros(length: number): Promise<void> {
    return writeZerosBy((b) => this.write(b), length);
  }

  async finish(): Promise<SinkResult> {
    this.body.end();
    await this.done;
    if (this.failure) throw this.failure;
    return { kind: "s3", location: this.url, bytes: this.written };
  }

  async abort(): Promise<SinkResult> {
    // The body is never ended, so the upload can never complete: no object is left behind.
    await this.upload.abort().catch(() => undefined);
    await this.done;
    return { kind: "s3", location: `${this.url} (${await this.abandon()})`, bytes: this.written };
  }

  /** Uploads the report beside the image (KEY.report.json, or KEY.partial.report.json), its SHA-256 as metadata. */
  async deliverReport(report: object): Promise<string> {
    const complete = !this.failure && (report as { status?: string }).status !== "aborted";
    const key = `${this.key}${complete ? "" : ".partial"}.report.json`;
    const sha256 = (report as { output?: { sha256?: string } }).output?.sha256 ?? "";
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: `${JSON.stringify(report, null, 2)}\n`,
          ContentType: "application/json",
          Metadata: { "image-sha256": sha256 },
        }),
      );
    } catch (error) {
      throw new MemimageError(
        "sink",
        `s3://${this.bucket}/${key}: the report could not be uploaded: ${describeS3Error(error)}`,
      );
    } finally {
      this.client.destroy();
    }
    return `report s3://${this.bucket}/${key}`;
  }

  private failed(error: unknown): MemimageError {
    return new MemimageError(
      "sink",
      `${this.url}: upload failed after ${this.written} bytes: ${describeS3Error(error)}; no object was created`,
    );
  }
}

function bucketProblem(error: unknown, bucket: string, endpoint: string | undefined): string {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e?.$metadata?.httpStatusCode;
  if (status === 404 || e?.name === "NotFound" || e?.name === "NoSuchBucket")
    return `bucket ${bucket} does not exist`;
  if (status === 403) return "access denied (check the credentials: AWS_ACCESS_KEY_ID/AWS_PROFILE)";
  if (e?.code === "ECONNREFUSED" || e?.name === "ECONNREFUSED" || /ECONNREFUSED/.test(String(error)))
    return `nothing answers at ${endpoint ?? "the S3 endpoint"} (connection refused)`;
  if (e?.name === "CredentialsProviderError")
    return "no credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)";
  return describeS3Error(error);
}

/**
 * Each part is a copy (ours, then the SDK's concatenation) that is garbage once sent; V8 collects memory outside its
 * heap only after ~64 MiB of it has accumulated, and the parts live long enough to reach the old generation. A full
 * collection once per part (a few ms per 8 MiB sent) keeps peak RSS to the parts in flight.
 */
let gc: (() => void) | undefined | null;
function collectGarbage(): void {
  if (gc === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      gc = runInNewContext("gc") as () => void;
    } catch {
      gc = null;
    }
  }
  gc?.();
}
