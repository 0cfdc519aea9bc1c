import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OrchestrationConnector } from '../../src/index.js';

describe('executeWithRetry on a local tool', () => {
  it('checks params like the gate: INVALID_PARAMS naming the field, the tool in details, nothing run', async () => {
    let ran = 0;
    const c = new OrchestrationConnector({
      tools: { lookup: { readOnly: true, schema: z.object({ id: z.number() }), handler: () => ran++ } },
    });
    const err = await c.executeWithRetry({ tool: 'lookup', params: { id: 'x' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_PARAMS', details: { tool: 'lookup' } });
    expect((err as Error).message).toMatch(/^Params of 'lookup' do not match its schema: id: /);
    expect(ran).toBe(0);
    expect(await c.executeWithRetry({ tool: 'lookup', params: { id: 1 } })).toMatchObject({ success: true, data: 0 });
    await c.close();
  });
});
