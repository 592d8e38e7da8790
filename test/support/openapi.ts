import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import openapi from '../../lib/api/openapi.json' with { type: 'json' };

type Json = Record<string, unknown>;

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema({ ...openapi, $id: 'openapi' } as Json);

const paths = openapi.paths as Record<string, Record<string, Json>>;

/** The OpenAPI path template a concrete path matches (`/v1/imports/{job_id}` for `/v1/imports/<uuid>`). */
export function templateOf(path: string): string | undefined {
  const got = path.split('/');
  const matching = Object.keys(paths).filter((template) => {
    const want = template.split('/');
    return want.length === got.length && want.every((part, i) => part.startsWith('{') || part === got[i]);
  });
  // A template with fewer parameters is the more specific one (`/v1/imports/raw` before `/v1/imports/{job_id}`).
  const parameters = (template: string) => template.split('/').filter((part) => part.startsWith('{')).length;
  return matching.sort((a, b) => parameters(a) - parameters(b))[0];
}

/**
 * Checks a response against the document: its status is declared for the operation, its content type is
 * one the status declares, and a JSON body matches the declared schema. Returns the problems (none: valid).
 */
export function responseProblems(
  method: string,
  path: string,
  status: number,
  contentType: string,
  body: unknown,
): string[] {
  const template = templateOf(path);
  if (!template) return [`${path} is not in the document`];
  const operation = paths[template]?.[method.toLowerCase()] as
    | { responses?: Record<string, Json> }
    | undefined;
  if (!operation) return [`${method} ${template} is not in the document`];
  const declaredResponse = operation.responses?.[String(status)];
  if (!declaredResponse) return [`${method} ${template} does not declare ${status}`];
  // A shared response (`$ref` to components/responses) is validated at its own location.
  const shared =
    typeof declaredResponse.$ref === 'string' ? declaredResponse.$ref.split('/').at(-1) : undefined;
  const response =
    shared === undefined
      ? declaredResponse
      : ((openapi.components.responses as Record<string, Json>)[shared] ?? {});
  const content = response.content as Record<string, { schema?: Json }> | undefined;
  const media = contentType.split(';')[0]?.trim() ?? '';
  const declared = content?.[media];
  if (!declared) return [`${method} ${template} ${status} does not declare ${media}`];
  if (media !== 'application/json' || !declared.schema) return [];
  const pointer = template.replaceAll('~', '~0').replaceAll('/', '~1');
  const ref =
    shared === undefined
      ? `openapi#/paths/${pointer}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`
      : `openapi#/components/responses/${shared}/content/application~1json/schema`;
  const validate = ajv.getSchema(ref);
  if (!validate) return [`no schema at ${ref}`];
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
