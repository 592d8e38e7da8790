import type { DeadLetterAdmin } from '../api/dead-letter-admin.ts';
import type { Config } from '../config.ts';
import { replayDeadLetter } from '../ingest/replay.ts';
import type { ReplayOutcome } from '../model/ingest.ts';
import type { ListedDeadLetter } from './dead-letters.ts';
import { openLocalIngest } from './ingest.ts';

/**
 * The local dead letters for the API's operators: the letters of `<MATCHBRIDGE_HOME>/dlq/`, and replays
 * that start their jobs in the background (`background` takes each run), as `dlq replay` would.
 */
export function localDeadLetterAdmin(cfg: Config, background: (run: Promise<void>) => void): DeadLetterAdmin {
  const local = openLocalIngest(cfg, { background });
  const replay = async (letter: ListedDeadLetter): Promise<ReplayOutcome> => {
    const outcome = await replayDeadLetter(letter, local.deps);
    await local.deadLetters.markReplayed({ id: letter.id, replayedAt: new Date().toISOString(), ...outcome });
    return outcome;
  };
  return {
    browsable: true,
    list: () => local.deadLetters.list(),
    async replay(id) {
      for await (const letter of local.deadLetters.list()) {
        if (letter.id !== id) continue;
        return letter.state === 'replayed' ? 'already-replayed' : await replay(letter);
      }
      return undefined;
    },
    async replayAll() {
      const replayed: Array<{ id: string } & ReplayOutcome> = [];
      for await (const letter of local.deadLetters.list()) {
        if (letter.state === 'pending') replayed.push({ id: letter.id, ...(await replay(letter)) });
      }
      return { mode: 'replayed', replayed };
    },
  };
}
