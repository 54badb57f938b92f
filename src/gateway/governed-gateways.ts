import type { Type } from '@nestjs/common';
import { DiscoveryService, type ModulesContainer } from '@nestjs/core';
import {
  GATEWAY_METADATA,
  GATEWAY_OPTIONS,
  GATEWAY_SERVER_METADATA,
  MESSAGE_MAPPING_METADATA,
  MESSAGE_METADATA,
  PORT_METADATA,
} from '@nestjs/websockets/constants.js';

const MANAGED_GATEWAY = Symbol('nestjs-websocket-manager.managed-gateway');
const GOVERNED_SERVER = Symbol('nestjs-websocket-manager.governed-server');

/** One `@SubscribeMessage` handler of a gateway. */
export interface GatewayHandler {
  /** The event name it claims. */
  event: string;
  /** `Class.method` (the class that declares it), for error messages. */
  name: string;
  /** The method's name (on an instance, the most derived method of that name). */
  method: string;
}

/** A gateway of the application, as the module sees it. */
export interface GatewayInfo {
  /** The gateway class. */
  metatype: Type;
  /** Its instance (once created). */
  instance: object | undefined;
  /** One instance for all sockets (Nest makes one per connection for a gateway with request-scoped dependencies). */
  static: boolean;
  /** The key of the module that provides it (what Nest resolves its enhancers in). */
  moduleKey: string | undefined;
  /** Port of `@WebSocketGateway(port)`; 0: the HTTP server's. */
  port: number;
  /** Its own `path` option, if any. */
  ownPath: string | undefined;
  /** Extends `WebSocketManagerGateway` or opted in with `@WebSocketManaged()`. */
  governed: boolean;
  /** Its message handlers, the most derived method of each name. */
  handlers: GatewayHandler[];
}

/**
 * Opts a gateway that does not extend `WebSocketManagerGateway` in to the module's handshake
 * (identity, origin, context: 401/403/400 before the upgrade), path default, payload limit and
 * frame parsing. Its sockets get no session unless it calls `WebSocketManagerFactory.acquire`.
 */
export function WebSocketManaged(): ClassDecorator {
  return (target) => Reflect.defineMetadata(MANAGED_GATEWAY, true, target);
}

/** Every gateway class among the application's providers. */
export function discoverGateways(container: ModulesContainer): GatewayInfo[] {
  const seen = new Set<Type>();
  const gateways: GatewayInfo[] = [];
  for (const wrapper of new DiscoveryService(container).getProviders()) {
    const metatype = wrapper.metatype as Type | undefined;
    if (!metatype || typeof metatype !== 'function' || !Reflect.getMetadata(GATEWAY_METADATA, metatype) || seen.has(metatype)) continue;
    seen.add(metatype);
    const options = (Reflect.getMetadata(GATEWAY_OPTIONS, metatype) ?? {}) as { path?: string };
    gateways.push({
      metatype,
      instance: (wrapper.instance as object | undefined) ?? undefined,
      static: wrapper.isDependencyTreeStatic(),
      moduleKey: wrapper.host?.token,
      port: Number(Reflect.getMetadata(PORT_METADATA, metatype) ?? 0),
      ownPath: options.path,
      // Inherited: WebSocketManagerGateway carries it, so every subclass does.
      governed: Reflect.getMetadata(MANAGED_GATEWAY, metatype) === true,
      handlers: handlersOf(metatype),
    });
  }
  return gateways;
}

/** The `@SubscribeMessage` handlers of a gateway class, through its prototype chain. */
export function handlersOf(metatype: Type): GatewayHandler[] {
  const handlers: GatewayHandler[] = [];
  const names = new Set<string>();
  for (let proto = metatype.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || names.has(name)) continue;
      names.add(name);
      const method = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (typeof method !== 'function' || !Reflect.getMetadata(MESSAGE_MAPPING_METADATA, method)) continue;
      // Named after the class that declares it, which is where the reader will look.
      handlers.push({ event: String(Reflect.getMetadata(MESSAGE_METADATA, method)), name: `${(proto as { constructor: Type }).constructor.name}.${name}`, method: name });
    }
  }
  return handlers;
}

/**
 * Fails, naming both, when two handlers of gateways sharing one server claim the same event:
 * only one of them would ever run, silently.
 */
export function assertOneHandlerPerEvent(gateways: readonly GatewayInfo[], where: string): void {
  const claimed = new Map<string, string>();
  for (const handler of gateways.flatMap((g) => g.handlers)) {
    const first = claimed.get(handler.event);
    if (first !== undefined) {
      throw new Error(
        `${first} and ${handler.name} both handle the WebSocket event "${handler.event}" on ${where}; ` +
          'rename one of them (the module\'s own join/status handlers are opt-in: map them to the event names you choose).',
      );
    }
    claimed.set(handler.event, handler.name);
  }
}

/** Marks a `ws` server as created by `WebSocketManagerAdapter` for a governed gateway. */
export function markGovernedServer(server: object): void {
  Object.defineProperty(server, GOVERNED_SERVER, { value: true });
}

/** Whether a server was created by `WebSocketManagerAdapter` for a governed gateway. */
export function isGovernedServer(server: unknown): boolean {
  return typeof server === 'object' && server !== null && (server as { [GOVERNED_SERVER]?: boolean })[GOVERNED_SERVER] === true;
}

/** The server Nest assigned to a gateway instance's `@WebSocketServer()` property, if any. */
export function serverOf(instance: object): unknown {
  // Like Nest's own scan: `@WebSocketServer()` marks the prototype, so walk inherited keys too.
  for (const key in instance) {
    if (Reflect.getMetadata(GATEWAY_SERVER_METADATA, instance, key)) return (instance as Record<string, unknown>)[key];
  }
  return undefined;
}

/** A path as Nest's WsAdapter matches it: one leading slash, no trailing one; none is `/`. */
export function normalizePath(path: string | undefined): string {
  return path ? `/${path.replace(/\/+$/, '')}`.replace(/\/+/g, '/') : '/';
}
