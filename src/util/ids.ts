import { randomBytes } from 'node:crypto';

/** Kind prefixes of generated ids. */
export type IdKind = 'actor' | 'workflow' | 'step' | 'proposal' | 'action' | 'exec' | 'evt';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case
let lastTime = 0;
let counter = 0;
const processTag = encodeRandom(4);

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function encodeRandom(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (let i = 0; i < n; i++) out += ALPHABET[(bytes[i] as number) % 32];
  return out;
}

/**
 * A new id `<kind>_<time><counter><process><random>`: unique, and ordered by creation time
 * within one process (a monotonic counter breaks ties inside one millisecond).
 */
export function newId(kind: IdKind): string {
  let now = Date.now();
  if (now <= lastTime) {
    now = lastTime;
    counter++;
  } else {
    lastTime = now;
    counter = 0;
  }
  // 6 base32 digits of counter: 1 billion ids per millisecond before wrapping
  let c = counter;
  let cs = '';
  for (let i = 0; i < 6; i++) {
    cs = ALPHABET[c % 32] + cs;
    c = Math.floor(c / 32);
  }
  return `${kind}_${encodeTime(now)}${cs}${processTag}${encodeRandom(4)}`;
}
