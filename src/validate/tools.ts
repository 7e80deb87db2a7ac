// The imagers `validate` can measure: memimage itself, LiME (built for the guest's kernel), or any shell command
// run inside the guest that writes an image at {out}. The command may use {memimage} (this memimage, run with the
// host's Node, which the guest sees through its 9p share) and {lime} (the path of lime.ko for the guest kernel).
import { MemimageError } from "../core/errors.js";
import { selfCommand } from "../lab/self-command.js";

export interface ToolSpec {
  /** "memimage", "lime", or the command as given. */
  name: string;
  /** The guest shell command, with its placeholders. */
  template: string;
  /** Exit statuses that still mean an image was made (memimage's 3: some pages declared unreadable). */
  acceptedExits: readonly number[];
  /** Why the peak RSS of the command's processes is not the tool's footprint, when it is not. */
  rssCaveat?: `unknown: ${string}`;
}

export function toolSpec(tool: string): ToolSpec {
  if (tool === "memimage")
    return { name: tool, template: "{memimage} acquire -q --format lime -o {out}", acceptedExits: [0, 3] };
  if (tool === "lime")
    return {
      name: tool,
      template: 'insmod {lime} "path={out} format=lime timeout=0" && rmmod lime',
      acceptedExits: [0],
      rssCaveat: "unknown: LiME runs in the kernel; insmod's RSS is not the module's memory",
    };
  if (!tool.includes("{out}"))
    throw new MemimageError(
      "usage",
      `--tool "${tool}": a command must write its image at {out} (or use --tool memimage or --tool lime)`,
    );
  return { name: tool, template: tool, acceptedExits: [0] };
}

/** The command with its placeholders filled in. */
export function expand(template: string, values: { out: string; lime?: string }): string {
  return template
    .replaceAll("{out}", values.out)
    .replaceAll("{memimage}", selfCommand())
    .replaceAll("{lime}", values.lime ?? "{lime}");
}
