import type { AuditEvent, AuditEventType } from './types.js';

/** Where a reported background failure came from. */
export interface BackgroundErrorContext {
  /** `listener`: an event listener threw; `sink`: an audit sink failed; `execution`: an execution's result could not be stored. */
  source: 'listener' | 'sink' | 'execution';
  eventType?: string;
  sink?: string;
}

/**
 * The connector's typed events: every audit event under its own type and under `'audit'`, and
 * `'error'` for failures that happen outside a call (a throwing listener, a failing sink).
 */
export type ConnectorEvents = {
  [K in AuditEventType]: (event: AuditEvent<K>) => void;
} & {
  audit: (event: AuditEvent) => void;
  error: (error: unknown, context: BackgroundErrorContext) => void;
};
