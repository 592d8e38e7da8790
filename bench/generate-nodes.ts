import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/** Column names of the benchmark file: a reference and 8 metadata columns. */
export const BENCH_COLUMNS = [
  'reference_id',
  'first_name',
  'last_name',
  'city',
  'age',
  'gender',
  'interests',
  'occupation',
  'bio',
] as const;

const FIRST = ['Asha', 'Rohan', 'Meera', 'Kabir', 'Ishita', 'Vikram', 'Ananya', 'Arjun', 'Diya', 'Kiran'];
const LAST = ['Sharma', 'Iyer', 'Khan', 'Das', 'Nair', 'Reddy', 'Gupta', 'Patel', 'Singh', 'Menon'];
const CITY = ['Bengaluru', 'Mumbai', 'Pune', 'Delhi', 'Chennai', 'Hyderabad', 'Kolkata', 'Jaipur'];
const INTERESTS = ['hiking,chess', 'cricket', 'music,travel', 'cooking', 'yoga', 'cycling,photography'];
const JOBS = ['engineer', 'designer', 'teacher', 'doctor', 'writer', 'chef', 'lawyer', 'analyst'];

/** A small deterministic PRNG (mulberry32): the same seed gives the same file on every machine. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields the CSV text of `rows` deterministic node rows (~150 bytes each), header first, in chunks. */
export async function* nodeCsv(rows: number, seed = 42): AsyncGenerator<string> {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  yield `${BENCH_COLUMNS.join(',')}\n`;
  let chunk = '';
  for (let i = 0; i < rows; i += 1) {
    const bio = `Likes ${pick(INTERESTS).replace(',', ' and ')}; lives in ${pick(CITY)}; id ${(next() * 1e9).toFixed(0)}`;
    chunk += `ref-${String(i).padStart(8, '0')},${pick(FIRST)},${pick(LAST)},${pick(CITY)},${
      20 + Math.floor(next() * 40)
    },${next() < 0.5 ? 'female' : 'male'},"${pick(INTERESTS)}",${pick(JOBS)},"${bio}"\n`;
    if (chunk.length > 64 * 1024) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** Writes the deterministic file, gzip-compressed when the path ends in `.gz`. */
export async function writeNodeCsv(path: string, rows: number, seed = 42): Promise<void> {
  const source = Readable.from(nodeCsv(rows, seed));
  if (path.endsWith('.gz')) await pipeline(source, createGzip({ level: 6 }), createWriteStream(path));
  else await pipeline(source, createWriteStream(path));
}
