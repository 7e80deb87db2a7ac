// The flags every image-writing command takes for where the image goes besides -o (tcp://, s3://, a file).
export const LISTEN_OPTION = [
  "--listen <[host:]port>",
  "serve the raw image to the first TCP client instead of -o, as LiME does (collect with: nc HOST PORT > image)",
] as const;
export const MAX_DISK_USAGE_OPTION = [
  "--max-disk-usage <bytes|percent>",
  "file output: stop (exit 4, image left .partial) before the output's filesystem has more than this in use, e.g. 90% or 200G",
] as const;
export const ENDPOINT_OPTION = [
  "--endpoint <url>",
  "for -o s3://BUCKET/KEY: an S3-compatible endpoint (credentials from the AWS standard chain)",
] as const;
