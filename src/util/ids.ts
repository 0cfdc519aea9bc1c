import { randomFillSync } from 'node:crypto';

/** Kind prefixes of generated ids. */
export type IdKind = 'actor' | 'workflow' | 'step' | 'proposal' | 'action' | 'exec' | 'evt';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case
let lastTime = 0;
let lastTimeText = '';
let counter = 0;

// Random bytes are drawn a pool at a time: one randomFillSync per 1,024 ids instead of one per id.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function encodeRandom(n: number): string {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  let out = '';
  // 256 is a multiple of 32, so `% 32` keeps every character equally likely.
  for (let i = 0; i < n; i++) out += ALPHABET[(pool[poolAt++] as number) % 32];
  return out;
}

const processTag = encodeRandom(4);

/**
 * A new id `<kind>_<time><counter><process><random>`: unique, and ordered by creation time
 * within one process (a monotonic counter breaks ties inside one millisecond).
 */
export function newId(kind: IdKind): string {
  const now = Date.now();
  if (now <= lastTime) {
    counter++;
  } else {
    lastTime = now;
    lastTimeText = encodeTime(now);
    counter = 0;
  }
  // 6 base32 digits of counter: 1 billion ids per millisecond before wrapping
  let c = counter;
  let cs = '';
  for (let i = 0; i < 6; i++) {
    cs = ALPHABET[c % 32] + cs;
    c = Math.floor(c / 32);
  }
  return `${kind}_${lastTimeText}${cs}${processTag}${encodeRandom(4)}`;
}
