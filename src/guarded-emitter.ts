import { EventEmitter } from 'eventemitter3';
import type { BackgroundErrorContext, ConnectorEvents } from './events.js';

type Listener = (...args: never[]) => unknown;

/**
 * An eventemitter3 emitter whose listeners are guarded: one that throws (or rejects) is reported as an
 * `'error'` event and never breaks the operation that emitted. `off` finds guarded listeners by the
 * function the caller registered.
 */
export class GuardedEmitter extends EventEmitter<ConnectorEvents> {
  private readonly guarded = new WeakMap<Listener, Map<string | symbol, Listener>>();

  /** Listeners are guarded: one that throws (or rejects) is reported as `'error'` and never breaks an operation. */
  override on<T extends EventEmitter.EventNames<ConnectorEvents>>(
    event: T,
    fn: EventEmitter.EventListener<ConnectorEvents, T>,
    context?: unknown,
  ): this {
    return super.on(event, this.guard(event, fn), context);
  }

  override addListener<T extends EventEmitter.EventNames<ConnectorEvents>>(
    event: T,
    fn: EventEmitter.EventListener<ConnectorEvents, T>,
    context?: unknown,
  ): this {
    return this.on(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<ConnectorEvents>>(
    event: T,
    fn: EventEmitter.EventListener<ConnectorEvents, T>,
    context?: unknown,
  ): this {
    return super.once(event, this.guard(event, fn), context);
  }

  override off<T extends EventEmitter.EventNames<ConnectorEvents>>(
    event: T,
    fn?: EventEmitter.EventListener<ConnectorEvents, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    const g = fn === undefined ? undefined : (this.guarded.get(fn as Listener)?.get(event) as typeof fn | undefined);
    return super.off(event, g ?? fn, context, once);
  }

  override removeListener<T extends EventEmitter.EventNames<ConnectorEvents>>(
    event: T,
    fn?: EventEmitter.EventListener<ConnectorEvents, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    return this.off(event, fn, context, once);
  }

  private guard<F>(event: string | symbol, fn: F): F {
    if (event === 'error') return fn; // reporting errors of error listeners would loop
    const original = fn as unknown as Listener;
    let byEvent = this.guarded.get(original);
    if (byEvent === undefined) {
      byEvent = new Map();
      this.guarded.set(original, byEvent);
    }
    let g = byEvent.get(event);
    if (g === undefined) {
      const self = this;
      g = function (this: unknown, ...args: never[]) {
        try {
          const r = original.apply(this, args) as unknown;
          if (r instanceof Promise)
            r.catch((err) => self.reportError(err, { source: 'listener', eventType: String(event) }));
        } catch (err) {
          self.reportError(err, { source: 'listener', eventType: String(event) });
        }
      };
      byEvent.set(event, g);
    }
    return g as unknown as F;
  }

  protected reportError(err: unknown, context: BackgroundErrorContext): void {
    try {
      this.emit('error', err, context);
    } catch {
      // an 'error' listener that throws has nowhere left to report to
    }
  }
}
