/**
 * EventBridge's pattern matching, for the rules of a template: every field of the pattern must match the
 * event; a list matches when one of its items does (exact values, `{prefix}`, `{suffix}`, `{exists}`,
 * `{"anything-but"}`), an array in the event when one of its elements does; nested objects recurse.
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (pattern === null || typeof pattern !== 'object' || Array.isArray(pattern)) {
    throw new Error(`an event pattern must be an object, got ${JSON.stringify(pattern)}`);
  }
  const fields = event !== null && typeof event === 'object' ? (event as Record<string, unknown>) : {};
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = fields[key];
    if (Array.isArray(expected)) return expected.some((item) => matchesItem(item, actual));
    return actual !== null && typeof actual === 'object' && matchesPattern(expected, actual);
  });
}

function matchesItem(item: unknown, actual: unknown): boolean {
  if (Array.isArray(actual)) return actual.some((element) => matchesItem(item, element));
  if (item === null || typeof item !== 'object') return actual !== undefined && item === actual;
  const [[operator, operand] = []] = Object.entries(item);
  switch (operator) {
    case 'prefix':
      return typeof actual === 'string' && actual.startsWith(String(operand));
    case 'suffix':
      return typeof actual === 'string' && actual.endsWith(String(operand));
    case 'exists':
      return (actual !== undefined) === operand;
    case 'anything-but':
      return actual !== undefined && !(Array.isArray(operand) ? operand : [operand]).includes(actual);
    default:
      throw new Error(`unsupported event pattern operator ${operator}`);
  }
}
