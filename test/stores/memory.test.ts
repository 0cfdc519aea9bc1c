import { describe, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory.js';
import { storeConformanceCases } from '../../src/testing/conformance.js';

describe('MemoryStore conformance', () => {
  for (const c of storeConformanceCases()) {
    it(c.name, async () => {
      const store = new MemoryStore();
      await store.init();
      try {
        await c.run(store);
      } finally {
        await store.close();
      }
    });
  }
});
