// Turns ajv's first validation error into one clear sentence naming the field, e.g.
// "body.inputs[0] must be string" or "body has unknown property 'input'".
import type { FastifySchemaValidationError } from 'fastify';

type SchemaErrorDataVar = 'body' | 'headers' | 'params' | 'querystring';

type AjvError = FastifySchemaValidationError & { parentSchema?: { description?: string } };

/** `/inputs/0/text` → `.inputs[0].text` */
function path(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('');
}

export function describeError(e: AjvError, dataVar: string): string {
  const where = `${dataVar}${path(e.instancePath)}`;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where} has unknown property '${String(e.params.additionalProperty)}'`;
    case 'enum':
      return `${where} must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'anyOf':
    case 'oneOf':
      return `${where} must be ${e.parentSchema?.description ?? 'of one of the allowed forms'}`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

const INPUTS_ANY_OF = '#/properties/inputs/anyOf';

/** The error that explains best what is wrong. */
function pick(errors: AjvError[]): AjvError | undefined {
  // For anyOf, ajv lists each alternative's failure first; the anyOf error itself reads best...
  const any = errors.find((x) => x.schemaPath === INPUTS_ANY_OF) ?? errors.find((x) => x.keyword === 'anyOf' || x.keyword === 'oneOf');
  if (!any) return errors[0];
  // ...except for `inputs` (an array of inputs, or one input), where the data's shape says which
  // alternative was meant: that alternative's own error is the one to report.
  if (any.schemaPath === INPUTS_ANY_OF) {
    const branch = `${INPUTS_ANY_OF}/${Array.isArray((any as { data?: unknown }).data) ? 0 : 1}/`;
    const inner = errors.filter((x) => x.schemaPath.startsWith(branch));
    if (inner.length > 0) return pick(inner);
  }
  return any;
}

/** fastify's schemaErrorFormatter: a 400 whose message describes the first error. */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  const e = pick(errors as AjvError[]);
  return new Error(e ? describeError(e, dataVar) : `${dataVar} is invalid`);
}
