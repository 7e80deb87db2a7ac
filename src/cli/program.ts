// The memimage command line: one file per command, registered here.
import { Command, CommanderError } from "commander";
import { ExitCode } from "../core/errors.js";
import { versionText } from "../core/version.js";
import { registerAcquire } from "./acquire.js";
import { registerCase } from "./case.js";
import { registerCompletion } from "./completion.js";
import { registerConvert } from "./convert.js";
import { reportFailure } from "./exit.js";
import { registerHelp } from "./help.js";
import { registerInfo } from "./info.js";
import { registerLab } from "./lab.js";
import { registerProcess } from "./process.js";
import { registerReceive } from "./receive.js";
import { registerSymbols } from "./symbols.js";
import { registerValidate } from "./validate.js";
import { registerVerify } from "./verify.js";
import { registerVm } from "./vm.js";

export function buildProgram(): Command {
  const program = new Command()
    .name("memimage")
    .description(
      "Memory imaging for forensics: acquire memory, write LiME/ELF/raw/padded images, verify and convert them.",
    )
    .version(versionText(), "-V, --version", "print the version, the git commit and the build date")
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`memimage: ${text.replace(/^error: /, "")}`) });
  registerAcquire(program);
  registerInfo(program);
  registerVerify(program);
  registerSymbols(program);
  registerConvert(program);
  registerProcess(program);
  registerCase(program);
  registerReceive(program);
  registerVm(program);
  registerLab(program);
  registerValidate(program);
  registerCompletion(program);
  registerHelp(program); // last: its list of commands and topics covers every one
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.complete;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.complete : ExitCode.usage;
    }
    return reportFailure(error);
  }
}
