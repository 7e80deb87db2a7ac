// -o s3://BUCKET/KEY: a multipart upload through @aws-sdk/client-s3, with bounded part size and concurrency so memory
// stays bounded: the image is copied once, into one of a fixed pool of part buffers (parts in flight + the one
// filling), and each part is sent from there; each failed part is retried by the SDK (3 attempts). Credentials come
// from the SDK's standard chain and never appear in a message: errors are reduced to their name, HTTP status and a
// redacted message. (lib-storage's Upload, used before, concatenates every part from the stream's chunks: a second
// copy per part and garbage that V8 counts late: 154 MiB peak RSS where this takes 91, docs/benchmarks.md, s3.)
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { MemimageError } from "../core/errors.js";
import type { Sink, SinkResult } from "./sink.js";
import { writeZerosBy } from "./sink.js";

/** The part size when the image's size is not known beforehand. */
export const DEFAULT_PART_SIZE = 8 << 20;
export const DEFAULT_CONCURRENCY = 4;
/** S3 refuses parts smaller than 5 MiB (but the last). */
export const MIN_PART_SIZE = 5 << 20;
/** S3 allows at most 10,000 parts; the planned size is an estimate, so it is aimed at 9,000. */
const PARTS_AIMED_AT = 9000;
/** Part buffers (in flight and filling) take at most this much, unless a single part is larger. */
const PART_MEMORY = 40 << 20;
/** Overrides the part size, in bytes (at least 5 MiB): for tests and for stores with other limits. */
export const PART_SIZE_ENV = "MEMIMAGE_S3_PART_SIZE";

/**
 * The part size: the option, else $MEMIMAGE_S3_PART_SIZE, else the smallest S3 allows (5 MiB), grown in whole MiB
 * so that an image of `expectedBytes` takes at most 9,000 parts (a 5 TiB image: 583 MiB parts); 8 MiB when the size
 * is not known.
 */
export function partSizeFrom(
  option: number | undefined,
  env = process.env[PART_SIZE_ENV],
  expectedBytes?: number,
): number {
  if (option !== undefined) return option;
  if (env === undefined || env === "") {
    if (expectedBytes === undefined) return DEFAULT_PART_SIZE;
    return Math.max(MIN_PART_SIZE, Math.ceil(expectedBytes / PARTS_AIMED_AT / 2 ** 20) * 2 ** 20);
  }
  const value = Number(env);
  if (!Number.isSafeInteger(value) || value < MIN_PART_SIZE)
    throw new MemimageError(
      "usage",
      `${PART_SIZE_ENV}=${env}: give a whole number of bytes, at least ${MIN_PART_SIZE} (5 MiB)`,
    );
  return value;
}

/** Parts in flight: 4, fewer when parts are so large that 4 (and the one filling) would pass 40 MiB; at least 1. */
export function concurrencyFor(partSize: number, option?: number): number {
  return option ?? Math.max(1, Math.min(DEFAULT_CONCURRENCY, Math.floor(PART_MEMORY / partSize) - 1));
}

export interface S3Options {
  endpoint?: string;
  /** About how many bytes the image will be (the plan's), to choose the part size; an estimate is enough. */
  expectedBytes?: number;
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
  private readonly partSize: number;
  private readonly concurrency: number;
  private failure: MemimageError | undefined;
  /** Part buffers not in use. */
  private readonly free: Buffer[] = [];
  private filling: Buffer | undefined;
  private filled = 0;
  private partNumber = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly parts: CompletedPart[] = [];
  private created: Promise<string> | undefined;
  private uploadId: string | undefined;

  private constructor(
    private readonly client: S3Client,
    private readonly url: string,
    private readonly bucket: string,
    private readonly key: string,
    options: S3Options,
  ) {
    this.partSize = partSizeFrom(options.partSize, undefined, options.expectedBytes);
    this.concurrency = concurrencyFor(this.partSize, options.concurrency);
  }

  /** Abandons the multipart upload, if one was started, so the store keeps no parts; says how that went. */
  private async abandon(): Promise<string> {
    const uploadId = await this.created?.catch(() => undefined);
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
    partSizeFrom(options.partSize, undefined, options.expectedBytes); // a bad value is a usage error before anything is sent
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
    for (let done = 0; done < bytes.length; ) {
      if (this.failure) throw this.failure;
      this.filling ??= this.partBuffer();
      const take = Math.min(this.partSize - this.filled, bytes.length - done);
      this.filling.set(bytes.subarray(done, done + take), this.filled);
      this.filled += take;
      done += take;
      if (this.filled === this.partSize) {
        while (this.inFlight.size >= this.concurrency && !this.failure) await Promise.race(this.inFlight);
        if (this.failure) throw this.failure;
        this.sendPart();
      }
    }
    this.written += bytes.length;
  }

  writeZeros(length: number): Promise<void> {
    return writeZerosBy((b) => this.write(b), length);
  }

  /**
   * A free part buffer. write() sends a part only while fewer than `concurrency` are in flight, so at most
   * concurrency + 1 buffers are ever made: those in flight and the one filling.
   */
  private partBuffer(): Buffer {
    const buffer = this.free.pop();
    return buffer ?? Buffer.allocUnsafe(this.partSize);
  }

  /** Sends the part being filled; its buffer is free again once the store took it (or gave up). */
  private sendPart(): void {
    const buffer = this.filling as Buffer;
    const length = this.filled;
    const partNumber = ++this.partNumber;
    this.filling = undefined;
    this.filled = 0;
    const sent = (async () => {
      const uploadId = await this.multipartUpload();
      const answer = await this.client.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: this.key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: buffer.subarray(0, length),
          ContentLength: length,
        }),
      );
      if (!answer.ETag) throw new Error(`part ${partNumber}: the store returned no ETag`);
      this.parts.push({ PartNumber: partNumber, ETag: answer.ETag });
    })().then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= this.failed(error);
      },
    );
    const settled = sent.then(() => {
      this.inFlight.delete(settled);
      this.free.push(buffer);
    });
    this.inFlight.add(settled);
  }

  private multipartUpload(): Promise<string> {
    this.created ??= this.client
      .send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.key,
          ContentType: "application/octet-stream",
        }),
      )
      .then((answer) => {
        if (!answer.UploadId) throw new Error("CreateMultipartUpload returned no UploadId");
        this.uploadId = answer.UploadId;
        return answer.UploadId;
      });
    return this.created;
  }

  async finish(): Promise<SinkResult> {
    if (this.failure) throw this.failure;
    if (this.partNumber === 0) {
      // Smaller than one part: one PutObject, as S3 wants no multipart upload of a single part.
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.key,
            Body: (this.filling ?? Buffer.alloc(0)).subarray(0, this.filled),
            ContentLength: this.filled,
            ContentType: "application/octet-stream",
          }),
        );
      } catch (error) {
        this.failure = this.failed(error);
        throw this.failure;
      }
      return { kind: "s3", location: this.url, bytes: this.written };
    }
    if (this.filled > 0) this.sendPart();
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.key,
          UploadId: this.uploadId,
          MultipartUpload: {
            Parts: [...this.parts].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0)),
          },
        }),
      );
    } catch (error) {
      this.failure = this.failed(error);
      throw this.failure;
    }
    return { kind: "s3", location: this.url, bytes: this.written };
  }

  async abort(): Promise<SinkResult> {
    // No CompleteMultipartUpload is ever sent: no object is left behind.
    this.failure ??= new MemimageError("sink", `${this.url}: upload abandoned`);
    await Promise.all(this.inFlight);
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
