import { checkSignature, findChainBreak, GENESIS_HASH } from '../audit/chain.js';
import type { Kernel } from '../kernel.js';
import type * as s from '../schemas.js';
import type { AuditEvent, AuditHead, VerifyResult } from '../types.js';

import { DEFAULT_LIMIT, type In, Service } from './service.js';

const VERIFY_PAGE = 5000;

function normaliseDate(value: string, edge: 'start' | 'end'): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value}${edge === 'start' ? 'T00:00:00.000Z' : 'T23:59:59.999Z'}`;
  // A date-time without a zone is read as UTC, like the stored timestamps.
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) return new Date(`${value}Z`).toISOString();
  return new Date(value).toISOString();
}

/** The audit trail: queries, verification, head. Internal. */
export class AuditTrail extends Service {
  constructor(
    k: Kernel,
    private readonly signingKey: string | undefined,
  ) {
    super(k);
  }

  async queryAuditEvents(i: In<typeof s.queryAuditEventsInput>): Promise<AuditEvent[]> {
    const from = i.startDate === undefined ? undefined : normaliseDate(i.startDate, 'start');
    const to = i.endDate === undefined ? undefined : normaliseDate(i.endDate, 'end');
    return this.k.guardStore(() =>
      this.k.store.queryAudit({
        ...(i.eventType !== undefined ? { eventType: i.eventType } : {}),
        ...(i.entityType !== undefined ? { entityType: i.entityType } : {}),
        ...(i.entityId !== undefined ? { entityId: i.entityId } : {}),
        ...(i.actorId !== undefined ? { actorId: i.actorId } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        limit: i.limit ?? DEFAULT_LIMIT,
        ...(i.after !== undefined ? { after: i.after } : {}),
      }),
    );
  }

  async verifyAuditTrail(i: In<typeof s.verifyAuditTrailInput>): Promise<VerifyResult> {
    let prev: AuditHead | null = null;
    let count = 0;
    for (;;) {
      // Verification only looks at the records: a store that can hand them out without copies does.
      const store = this.k.store;
      const page =
        store.peekAudit !== undefined
          ? store.peekAudit(count + 1, VERIFY_PAGE)
          : await this.k.guardStore(() => store.readAudit(count + 1, VERIFY_PAGE));
      const brk = findChainBreak(page, prev, this.signingKey);
      if (brk !== undefined)
        return {
          valid: false,
          count: count + page.findIndex((e) => e.seq >= brk.seq),
          firstInvalidSeq: brk.seq,
          reason: brk.reason,
        };
      count += page.length;
      const last = page[page.length - 1];
      if (last !== undefined) prev = { seq: last.seq, hash: last.hash };
      if (page.length < VERIFY_PAGE) break;
    }
    const head = i.head;
    if (head !== undefined) {
      if (this.signingKey !== undefined && head.signature !== undefined) {
        if (!checkSignature(head.hash, head.signature, this.signingKey)) {
          return { valid: false, count, firstInvalidSeq: head.seq, reason: 'the given head has a bad signature' };
        }
      }
      // a head of seq 0 (saved from an empty trail) is only checked for the genesis hash
      if ((prev?.seq ?? 0) < head.seq) {
        return {
          valid: false,
          count,
          firstInvalidSeq: (prev?.seq ?? 0) + 1,
          reason: `the trail ends at seq ${prev?.seq ?? 0}, before the saved head ${head.seq}: it was truncated`,
        };
      }
      const atHead =
        head.seq === 0
          ? { hash: GENESIS_HASH }
          : (await this.k.guardStore(() => this.k.store.readAudit(head.seq, 1)))[0];
      if (atHead === undefined || atHead.hash !== head.hash) {
        return {
          valid: false,
          count,
          firstInvalidSeq: head.seq,
          reason: 'the record at the saved head differs: the trail was rewritten',
        };
      }
    }
    return { valid: true, count };
  }
}
