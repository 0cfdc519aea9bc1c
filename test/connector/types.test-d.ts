import { describe, expectTypeOf, it } from 'vitest';
import type { OrchestrationConnector } from '../../src/connector.js';
import type { OrchestrationError } from '../../src/errors.js';
import type { BackgroundErrorContext } from '../../src/events.js';
import type {
  CancelWorkflowInput,
  CreateActorInput,
  CreateProposalInput,
  CreateWorkflowInput,
  GetByIdInput,
  QueryActorsInput,
  QueryAuditEventsInput,
  QueryProposalsInput,
  QueryWorkflowsInput,
  ReviewProposalInput,
  UpdateActorInput,
  UpdatePolicyInput,
  UpdateWorkflowStepInput,
  VerifyAuditTrailInput,
} from '../../src/schemas.js';
import type {
  Actor,
  AuditEvent,
  AuditEventType,
  AuditHead,
  Policy,
  Proposal,
  Stats,
  VerifyResult,
  Workflow,
} from '../../src/types.js';

declare const c: OrchestrationConnector;

describe('event listener payloads', () => {
  it('types each audit event type with its own eventType', () => {
    c.on('actor_created', (e) => {
      expectTypeOf(e).toEqualTypeOf<AuditEvent<'actor_created'>>();
      expectTypeOf(e.eventType).toEqualTypeOf<'actor_created'>();
      expectTypeOf(e.seq).toEqualTypeOf<number>();
      expectTypeOf(e.details).toEqualTypeOf<Record<string, unknown>>();
    });
    c.on('workflow_completed', (e) => {
      expectTypeOf(e.eventType).toEqualTypeOf<'workflow_completed'>();
    });
    c.once('policy_updated', (e) => {
      expectTypeOf(e.eventType).toEqualTypeOf<'policy_updated'>();
    });
    c.addListener('data_cleared', (e) => {
      expectTypeOf(e.eventType).toEqualTypeOf<'data_cleared'>();
    });
  });

  it("types 'audit' with every event type", () => {
    c.on('audit', (e) => {
      expectTypeOf(e).toEqualTypeOf<AuditEvent>();
      expectTypeOf(e.eventType).toEqualTypeOf<AuditEventType>();
      expectTypeOf(e.actorId).toEqualTypeOf<string | undefined>();
      expectTypeOf(e.signature).toEqualTypeOf<string | undefined>();
    });
  });

  it("types 'error' with the error and where it came from", () => {
    c.on('error', (error, context) => {
      expectTypeOf(error).toEqualTypeOf<unknown>();
      expectTypeOf(context).toEqualTypeOf<BackgroundErrorContext>();
      expectTypeOf(context.source).toEqualTypeOf<'listener' | 'sink' | 'execution'>();
    });
  });

  it('refuses unknown events and listeners of the wrong payload', () => {
    // @ts-expect-error not an event of the connector
    c.on('actor_deleted', () => {});
    // @ts-expect-error an actor_created listener gets no workflow_started payload
    c.on('actor_created', (e: AuditEvent<'workflow_started'>) => e);
    // @ts-expect-error 'error' listeners get an error, not an audit event
    c.on('error', (e: AuditEvent, _ctx: BackgroundErrorContext) => e);
  });

  it('lets off take the same listener as on', () => {
    const fn = (e: AuditEvent<'actor_updated'>) => e.entityId;
    expectTypeOf(c.on('actor_updated', fn)).toEqualTypeOf<OrchestrationConnector>();
    expectTypeOf(c.off('actor_updated', fn)).toEqualTypeOf<OrchestrationConnector>();
  });
});

describe('method inputs and results', () => {
  it('types the actor methods', () => {
    expectTypeOf(c.createActor).parameter(0).toEqualTypeOf<CreateActorInput>();
    expectTypeOf(c.createActor).returns.resolves.toEqualTypeOf<Actor>();
    expectTypeOf(c.updateActor).parameter(0).toEqualTypeOf<UpdateActorInput>();
    expectTypeOf(c.updateActor).returns.resolves.toEqualTypeOf<Actor>();
    expectTypeOf(c.getActor).parameter(0).toEqualTypeOf<GetByIdInput>();
    expectTypeOf(c.getActor).returns.resolves.toEqualTypeOf<Actor>();
    expectTypeOf(c.queryActors).parameter(0).toEqualTypeOf<QueryActorsInput | undefined>();
    expectTypeOf(c.queryActors).returns.resolves.toEqualTypeOf<Actor[]>();
    expectTypeOf<CreateActorInput>().toHaveProperty('capabilities').toEqualTypeOf<string[] | undefined>();
    expectTypeOf<CreateActorInput['status']>().toEqualTypeOf<'active' | 'inactive' | 'busy' | undefined>();
  });

  it('types the workflow methods', () => {
    expectTypeOf(c.createWorkflow).parameter(0).toEqualTypeOf<CreateWorkflowInput>();
    expectTypeOf(c.createWorkflow).returns.resolves.toEqualTypeOf<Workflow>();
    expectTypeOf(c.updateWorkflowStep).parameter(0).toEqualTypeOf<UpdateWorkflowStepInput>();
    expectTypeOf(c.updateWorkflowStep).returns.resolves.toEqualTypeOf<Workflow>();
    expectTypeOf(c.cancelWorkflow).parameter(0).toEqualTypeOf<CancelWorkflowInput>();
    expectTypeOf(c.cancelWorkflow).returns.resolves.toEqualTypeOf<Workflow>();
    expectTypeOf(c.getWorkflow).returns.resolves.toEqualTypeOf<Workflow>();
    expectTypeOf(c.queryWorkflows).parameter(0).toEqualTypeOf<QueryWorkflowsInput | undefined>();
    expectTypeOf(c.queryWorkflows).returns.resolves.toEqualTypeOf<Workflow[]>();
    expectTypeOf<UpdateWorkflowStepInput['status']>().toEqualTypeOf<
      'pending' | 'in_progress' | 'completed' | 'failed' | 'skipped'
    >();
    expectTypeOf<UpdateWorkflowStepInput>().toHaveProperty('workflow_id').toEqualTypeOf<string>();
  });

  it('types the general proposal methods', () => {
    expectTypeOf(c.createProposal).parameter(0).toEqualTypeOf<CreateProposalInput>();
    expectTypeOf(c.createProposal).returns.resolves.toEqualTypeOf<Proposal>();
    expectTypeOf(c.reviewProposal).parameter(0).toEqualTypeOf<ReviewProposalInput>();
    expectTypeOf(c.reviewProposal).returns.resolves.toEqualTypeOf<Proposal>();
    expectTypeOf(c.getProposal).returns.resolves.toEqualTypeOf<Proposal>();
    expectTypeOf(c.queryProposals).parameter(0).toEqualTypeOf<QueryProposalsInput | undefined>();
    expectTypeOf(c.queryProposals).returns.resolves.toEqualTypeOf<Proposal[]>();
    expectTypeOf<ReviewProposalInput['decision']>().toEqualTypeOf<'approve' | 'reject' | 'comment'>();
  });

  it('types policy, audit and management methods', () => {
    expectTypeOf(c.updatePolicy).parameter(0).toEqualTypeOf<UpdatePolicyInput>();
    expectTypeOf(c.updatePolicy).returns.resolves.toEqualTypeOf<Policy>();
    expectTypeOf(c.getPolicy).returns.resolves.toEqualTypeOf<Policy>();
    expectTypeOf<UpdatePolicyInput['approval_ttl_ms']>().toEqualTypeOf<number | null | undefined>();
    expectTypeOf(c.queryAuditEvents).parameter(0).toEqualTypeOf<QueryAuditEventsInput | undefined>();
    expectTypeOf(c.queryAuditEvents).returns.resolves.toEqualTypeOf<AuditEvent[]>();
    expectTypeOf(c.verifyAuditTrail).parameter(0).toEqualTypeOf<VerifyAuditTrailInput | undefined>();
    expectTypeOf(c.verifyAuditTrail).returns.resolves.toEqualTypeOf<VerifyResult>();
    expectTypeOf(c.getAuditHead).returns.resolves.toEqualTypeOf<AuditHead>();
    expectTypeOf(c.getStats).returns.resolves.toEqualTypeOf<Stats>();
    expectTypeOf(c.clearAllData).returns.resolves.toEqualTypeOf<{ cleared: true; auditHead: AuditHead }>();
    expectTypeOf(c.close).returns.resolves.toBeVoid();
    expectTypeOf(c.flushAuditSinks).returns.resolves.toBeVoid();
  });

  it('refuses misspelt or wrongly cased inputs at compile time', () => {
    // @ts-expect-error unknown key
    void c.createActor({ name: 'a', role: 'r', email: 'x' });
    // @ts-expect-error snake_case input of the core tools is camelCase
    void c.createWorkflow({ name: 'w', description: '', assigned_actors: [] });
    // @ts-expect-error the approval tools take snake_case
    void c.reviewProposal({ proposalId: 'p', reviewerId: 'r', decision: 'approve' });
    // @ts-expect-error updatePolicy takes snake_case
    void c.updatePolicy({ maxRetries: 1 });
    // @ts-expect-error not a step status
    void c.updateWorkflowStep({ workflow_id: 'w', step: 's', status: 'done' });
  });

  it('exposes the error code and details', () => {
    expectTypeOf<OrchestrationError['code']>().toEqualTypeOf<
      | 'INVALID_INPUT'
      | 'NOT_FOUND'
      | 'CONFLICT'
      | 'INVALID_STATE'
      | 'FORBIDDEN'
      | 'APPROVAL_REQUIRED'
      | 'DEPENDENCY_CYCLE'
      | 'DEPENDENCIES_NOT_MET'
      | 'TOOL_NOT_FOUND'
      | 'INVALID_PARAMS'
      | 'EXPIRED'
      | 'TIMEOUT'
      | 'REMOTE_ERROR'
      | 'STORE_ERROR'
    >();
    expectTypeOf<OrchestrationError['details']>().toEqualTypeOf<Record<string, unknown>>();
  });
});
