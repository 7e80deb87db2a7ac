import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";

const schema = JSON.parse(
  readFileSync(new URL("../../../schema/report.schema.json", import.meta.url), "utf8"),
) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats.default(ajv);
const validate = ajv.compile(schema);

/** Throws with every schema violation listed when `report` does not match schema/report.schema.json. */
export function assertValidReport(report: unknown): void {
  if (!validate(report))
    throw new Error(
      `report does not match its schema:\n${ajv.errorsText(validate.errors, { separator: "\n" })}`,
    );
}

const validateEvent = ajv.compile(
  JSON.parse(readFileSync(new URL("../../../schema/events.schema.json", import.meta.url), "utf8")) as object,
);

/** Throws with every violation listed when `event` does not match schema/events.schema.json (its report included). */
export function assertValidEvent(event: unknown): void {
  if (!validateEvent(event))
    throw new Error(
      `event does not match its schema:\n${ajv.errorsText(validateEvent.errors, { separator: "\n" })}\n${JSON.stringify(event).slice(0, 300)}`,
    );
}
