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

/**
 * A guest shell script that stops the workload, waits until none of its processes is left, and frees what it
 * held; it fails if one survives, since a workload left running makes every later "idle" run a busy one. Written
 * for dash (the guest runs the host's /bin/sh), whose kill takes no "--".
 */
export function stopScript(workload: Workload): string | undefined {
  if (workload === "idle") return undefined;
  return `group=$(cat ${PID_FILE}) || exit 1
kill -9 -$group
i=0
while ps -eo pgid= | grep -qx " *$group"; do
  i=$((i + 1)); [ $i -gt 100 ] && { echo "the busy workload (process group $group) survived SIGKILL" >&2; exit 1; }
  sleep 0.1
done
rm -f ${PID_FILE} /dev/shm/memimage-validate-busy.*`;
}
