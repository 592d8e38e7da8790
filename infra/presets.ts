/**
 * Presets: named sets of defaults beneath the context. The schema's own defaults are the `dev` preset; `prod`
 * changes what production needs. Whatever the context sets (cdk.json "context", `-c key=value`) wins, field by
 * field inside `vpc`, `database` and `functions`; a `vpc` or `database` of another mode (an existing VPC or
 * database) replaces the preset's whole.
 */
export const PRESETS = {
  dev: {},
  prod: {
    envName: 'prod',
    vpc: { mode: 'new', maxAzs: 3 },
    database: {
      mode: 'new',
      multiAz: true,
      deletionProtection: true,
      backupRetentionDays: 30,
    },
    logRetentionDays: 90,
  },
} as const satisfies Record<string, Readonly<Record<string, unknown>>>;

export type PresetName = keyof typeof PRESETS;

/** Defaults of the LocalStack target (`-c target=localstack`), beneath the preset's and the context's. */
const LOCALSTACK_DEFAULTS = { envName: 'local' } as const;

const parseJson = (value: unknown): unknown => {
  if (typeof value !== 'string' || !value.trim().startsWith('{')) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
};

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** The mode a `vpc` or `database` value means: explicit, or told by its identifying field. */
const modeOf = (value: Record<string, unknown>, identifying: string): unknown =>
  value.mode ?? (identifying in value ? 'existing' : 'new');

const IDENTIFYING_FIELDS: Readonly<Record<string, string>> = { vpc: 'vpcId', database: 'host' };

/** Lays `over` on `under`, one level deep for objects of the same mode. */
function overlay(
  under: Readonly<Record<string, unknown>>,
  over: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...under };
  for (const [key, raw] of Object.entries(over)) {
    if (raw === undefined) continue;
    const value = parseJson(raw);
    const base = merged[key];
    const identifying = IDENTIFYING_FIELDS[key];
    const sameMode =
      identifying === undefined ||
      (isPlainObject(base) &&
        isPlainObject(value) &&
        modeOf(base, identifying) === modeOf(value, identifying));
    merged[key] = isPlainObject(base) && isPlainObject(value) && sameMode ? { ...base, ...value } : value;
  }
  return merged;
}

/**
 * The raw context with the chosen preset (and the LocalStack target's defaults) beneath it. An unknown preset
 * is left for the schema to reject with the key's name.
 */
export function withPreset(context: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const preset = PRESETS[(context.preset ?? 'dev') as PresetName] ?? {};
  const target = context.target === 'localstack' ? LOCALSTACK_DEFAULTS : {};
  return overlay(overlay(target, preset), context);
}
