// The real gateway's params error text for (schema, value) pairs: TypeBox's Compile().Errors,
// then upstream's normalizeTypeBoxValidationErrors and formatValidationErrors (copied from
// openclaw 2026.9.6 dist/json-schema-*.mjs and dist/src-*.mjs). Reads
// {"typebox": "<path of typebox/build/compile/index.mjs>", "cases": [[schema, value], ...]}
// on stdin, prints a JSON array: null (valid) or the error text, per case.
import { readFileSync } from "node:fs";

const input = JSON.parse(readFileSync(0, "utf8"));
const { Compile } = await import(input.typebox);

function normalize(errors) {
  const normalized = [];
  let consecutiveBooleanErrors = 0;
  for (const error of errors) {
    if (error.keyword === "boolean") {
      normalized.push(error);
      consecutiveBooleanErrors += 1;
      continue;
    }
    const properties = error.params?.additionalProperties;
    if (error.keyword === "additionalProperties" && typeof error.schemaPath === "string"
        && typeof error.instancePath === "string" && Array.isArray(properties)
        && properties.length > 0 && properties.length <= consecutiveBooleanErrors) {
      if (normalized.slice(-properties.length).every((child, index) =>
          child.schemaPath === `${error.schemaPath}/additionalProperties`
          && child.instancePath === `${error.instancePath}/${properties[index]}`)) {
        normalized.length -= properties.length;
      }
    }
    normalized.push(error);
    consecutiveBooleanErrors = 0;
  }
  return normalized;
}

function firstString(value) {
  if (typeof value === "string" && value.trim()) return value;
  if (Array.isArray(value)) return value.find((entry) => typeof entry === "string" && entry.trim());
}

function format(errors) {
  if (!errors?.length) return "unknown validation error";
  const parts = [];
  for (const err of errors) {
    const keyword = err.keyword ?? "";
    const path = err.instancePath ?? "";
    if (keyword === "additionalProperties") {
      const name = firstString(err.params?.additionalProperty) ?? firstString(err.params?.additionalProperties);
      if (name) { parts.push(`${path ? `at ${path}` : "at root"}: unexpected property '${name}'`); continue; }
    }
    if (keyword === "required") {
      const name = firstString(err.params?.missingProperty) ?? firstString(err.params?.requiredProperties);
      if (name) { parts.push(`${path ? `at ${path}: ` : ""}must have required property '${name}'`); continue; }
    }
    const message = typeof err.message === "string" && err.message.trim() ? err.message : "validation error";
    parts.push(`${path ? `at ${path}: ` : ""}${message}`);
  }
  const unique = [...new Set(parts.filter((part) => part.trim()))];
  return unique.length > 0 ? unique.join("; ") : "unknown validation error";
}

const out = input.cases.map(([schema, value]) => {
  const check = Compile(schema);
  return check.Check(value) ? null : format(normalize([...check.Errors(value)]));
});
process.stdout.write(JSON.stringify(out));
