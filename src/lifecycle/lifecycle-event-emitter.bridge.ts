import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Subscription } from 'rxjs';
import type { ManagerLifecycleEvent } from './manager-lifecycle.event.js';
import { ManagerLifecycleService } from './manager-lifecycle.service.js';

/** Prefix of the event names under which lifecycle events reach `@nestjs/event-emitter`. */
export const LIFECYCLE_EVENT_PREFIX = 'ws-manager.';

/** The part of `EventEmitter2` the bridge uses. */
interface Emitter {
  emit(event: string, payload: unknown): unknown;
}

/**
 * When the application uses `@nestjs/event-emitter` (`EventEmitterModule.forRoot()`), every
 * lifecycle event is also emitted as `ws-manager.<type>` (`@OnEvent('ws-manager.removed')`),
 * besides `ManagerLifecycleService.events$`. The package is an optional peer dependency, loaded
 * only here; without it (or without `EventEmitterModule`) the bridge does nothing. A listener
 * that throws is logged: it never reaches the code that emitted the event, nor the process.
 */
@Injectable()
export class LifecycleEventEmitterBridge implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManager');
  private subscription: Subscription | undefined;

  constructor(
    private readonly lifecycle: ManagerLifecycleService,
    private readonly moduleRef: ModuleRef,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const emitter = await this.findEmitter();
    if (!emitter) return;
    this.subscription ??= this.lifecycle.listen((event) => this.forward(emitter, event));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private forward(emitter: Emitter, event: ManagerLifecycleEvent): void {
    try {
      const result = emitter.emit(`${LIFECYCLE_EVENT_PREFIX}${event.type}`, event);
      // emitAsync-style results (async listeners without suppressErrors) are caught too.
      if (result instanceof Promise) result.catch((error: unknown) => this.listenerFailed(event, error));
    } catch (error) {
      this.listenerFailed(event, error);
    }
  }

  private listenerFailed(event: ManagerLifecycleEvent, error: unknown): void {
    this.logger.error(`a listener of ${LIFECYCLE_EVENT_PREFIX}${event.type} threw: ${error instanceof Error ? error.message : String(error)}`);
  }

  private async findEmitter(): Promise<Emitter | undefined> {
    let token: unknown;
    try {
      ({ EventEmitter2: token } = (await import('@nestjs/event-emitter')) as { EventEmitter2: unknown });
    } catch {
      return undefined; // not installed: nothing to bridge to
    }
    try {
      return this.moduleRef.get(token as new () => Emitter, { strict: false });
    } catch {
      return undefined; // installed but EventEmitterModule not imported
    }
  }
}
