// What the guest does while the imager runs. "busy" keeps changing memory the three ways a real system does:
// writing (tmpfs files rewritten with random bytes), allocating and freeing (a shell holding 8 MiB strings) and
// forking (short-lived processes), in its own process group so that one kill stops all of it.
export type Workload = "idle" | "busy";
export const WORKLOADS: readonly Workload[] = ["idle", "busy"];

const PID_FILE = "/dev/shm/memimage-validate-busy.pid";

export const BUSY_SCRIPT = `i=0
while :; do
  dd if=/dev/urandom of=/dev/shm/memimage-validate-busy.$((i % 4)) bs=1M count=8 2>/dev/null
  x=$(head -c 8388608 /dev/zero | tr '\\0' "$i")
  sh -c 'exit 0' &
  i=$((i + 1))
done`;

/** A guest shell script that starts the workload in the background and returns. */
export function startScript(workload: Workload): string | undefined {
  if (workload === "idle") return undefined;
  return `setsid sh -c '${BUSY_SCRIPT.replaceAll("'", "'\\''")}' >/dev/null 2>&1 < /dev/null &
echo $! > ${PID_FILE}`;
}

/** A guest shell script that stops the workload and frees what it held. */
export function stopScript(workload: Workload): string | undefined {
  if (workload === "idle") return undefined;
  return `kill -TERM -- -$(cat ${PID_FILE}) 2>/dev/null; sleep 0.3; rm -f ${PID_FILE} /dev/shm/memimage-validate-busy.*; true`;
}
