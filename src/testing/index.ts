export { storeConformanceCases } from './conformance.js';
export type { ConformanceCase } from './fixtures.js';
export {
  actionEntity,
  actorEntity,
  changeOf,
  draftOf,
  entityOf,
  expectOk,
  insertOf,
  policyEntity,
  proposalEntity,
  updateOf,
  workflowEntity,
} from './fixtures.js';
