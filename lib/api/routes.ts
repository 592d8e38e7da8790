import type { Route } from './http.ts';
import openapi from './openapi.json' with { type: 'json' };
import { DEAD_LETTER_ROUTES } from './routes/dead-letters.ts';
import { ERASURE_ROUTES } from './routes/erasures.ts';
import { EXPORT_ROUTES } from './routes/exports.ts';
import { IMPORT_ROUTES } from './routes/imports.ts';
import { JOB_ROUTES } from './routes/jobs.ts';
import { type ApiContext, route } from './routes/shared.ts';

/** The API: every route `openapi.json` documents, and no other. */
export const ROUTES: readonly Route<ApiContext>[] = [
  ...IMPORT_ROUTES,
  ...EXPORT_ROUTES,
  ...JOB_ROUTES,
  ...DEAD_LETTER_ROUTES,
  ...ERASURE_ROUTES,
  route('GET', '/v1/openapi.json', async () => ({ status: 200, json: openapi })),
];
