import type { AdminDeadLetter } from './dead-letter-admin.ts';

/** The names of a replayed letter's replay record, of whichever letter type `L` is. */
type ReplayField<L> = L extends { readonly replay: infer R } ? keyof R & string : never;

/** Which fields of a letter, and of its replay once it was replayed, a view shows, in the order shown. */
export interface DeadLetterFields<L extends AdminDeadLetter> {
  readonly letter: readonly (keyof L & string)[];
  readonly replay: readonly ReplayField<L>[];
}

/** How a view names its keys: the bulk API in snake_case, the CLI's JSON with the code's camelCase names. */
export type KeyCasing = 'snake_case' | 'camelCase';

const snakeCase = (name: string) => name.replace(/[A-Z]/g, (upper) => `_${upper.toLowerCase()}`);

/** The view of one dead letter an operator reads: the chosen fields in their order, absent ones left out. */
export function deadLetterView<L extends AdminDeadLetter>(
  letter: L,
  fields: DeadLetterFields<L>,
  casing: KeyCasing,
): Record<string, unknown> {
  const name = casing === 'snake_case' ? snakeCase : (field: string) => field;
  const pick = (from: object, names: readonly string[]) => {
    const picked: Record<string, unknown> = {};
    for (const field of names) {
      const value = (from as Record<string, unknown>)[field];
      if (value !== undefined) picked[name(field)] = value;
    }
    return picked;
  };
  return {
    ...pick(letter, fields.letter),
    ...(letter.state === 'replayed' ? { replay: pick(letter.replay, fields.replay) } : {}),
  };
}
