import type { ArgumentsHost } from '@nestjs/common';
import { EXCEPTION_FILTERS_METADATA, GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import type { ApplicationConfig } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/internal';
import { MESSAGE_MAPPING_METADATA, MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import type { WebSocket } from 'ws';
import { WebSocketErrorFilter } from './websocket-error.filter.js';

/** `WsParamtype.SOCKET` and `WsParamtype.PAYLOAD` of `@nestjs/websockets`. */
const SOCKET = 0;
const PAYLOAD = 3;

/**
 * A message handler called without Nest's handler proxy: `invoke` runs the method with the
 * arguments Nest would pass, `fail` answers an error as Nest's proxy would (through the gateway's
 * `WebSocketErrorFilter`).
 */
export interface DirectHandler {
  invoke(client: WebSocket, data: unknown, event: string): unknown;
  fail(client: WebSocket, data: unknown, event: string, error: unknown): void;
}

type ParamMetadata = Record<string, { index: number; data?: unknown; pipes?: unknown[] }>;

/** One filter for every handler called directly (Nest makes one per gateway): failures are logged once a minute per kind, not per handler. */
let sharedFilter: WebSocketErrorFilter | undefined;

const isEmpty = (value: unknown) => value === undefined || (Array.isArray(value) && value.length === 0);

/**
 * Nest's handler proxy (exception zone, guards, interceptors, pipes) costs several promises and
 * closures per message, about a quarter of an echo's CPU in the benchmark. A handler for which it
 * would do nothing but call the method is called directly: no guard, interceptor or pipe on the
 * method, its class or globally (`useGlobal*`, `APP_*`), parameters only `@ConnectedSocket()`
 * and `@MessageBody()` without a property or pipe (or none: then Nest's positional arguments),
 * and exactly the filters `WebSocketManagerGateway` carries, so a failure is answered by the same
 * `WebSocketErrorFilter` with the same arguments Nest would give it. `undefined` for anything
 * else: that handler keeps Nest's proxy.
 */
export function directHandler(instance: object, methodName: string, config: ApplicationConfig | undefined): DirectHandler | undefined {
  const metatype = instance.constructor;
  const method = (instance as Record<string, unknown>)[methodName];
  if (typeof method !== 'function' || !Reflect.getMetadata(MESSAGE_MAPPING_METADATA, method) || !config) return undefined;
  for (const key of [GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA]) {
    if (!isEmpty(Reflect.getMetadata(key, metatype)) || !isEmpty(Reflect.getMetadata(key, method))) return undefined;
  }
  const globals = [
    config.getGlobalGuards(),
    config.getGlobalInterceptors(),
    config.getGlobalPipes(),
    config.getGlobalRequestGuards(),
    config.getGlobalRequestInterceptors(),
    config.getGlobalRequestPipes(),
  ];
  if (globals.some((list) => list.length > 0)) return undefined;
  const classFilters = Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, metatype) as unknown[] | undefined;
  if (!isEmpty(Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, method)) || classFilters?.length !== 1 || classFilters[0] !== WebSocketErrorFilter) return undefined;

  const params = Reflect.getMetadata(ROUTE_ARGS_METADATA, metatype, methodName) as ParamMetadata | undefined;
  const positions: { index: number; socket: boolean }[] = [];
  for (const [key, param] of Object.entries(params ?? {})) {
    const type = Number(key.split(':')[0]);
    if ((type !== SOCKET && type !== PAYLOAD) || key.includes(':', key.indexOf(':') + 1) || param.data !== undefined || !isEmpty(param.pipes)) return undefined;
    positions.push({ index: param.index, socket: type === SOCKET });
  }
  const pattern = Reflect.getMetadata(MESSAGE_METADATA, method) as unknown;
  const filter = (sharedFilter ??= new WebSocketErrorFilter());
  const call = method as (...args: unknown[]) => unknown;
  const argsLength = positions.reduce((n, p) => Math.max(n, p.index + 1), 0);
  // Nest calls the method with (client, data, event, pattern) when it has no parameter decorators.
  const invoke =
    positions.length === 0
      ? (client: WebSocket, data: unknown, event: string) => call.call(instance, client, data, event, pattern)
      : (client: WebSocket, data: unknown) => {
          const args: unknown[] = new Array(argsLength).fill(undefined);
          for (const p of positions) args[p.index] = p.socket ? client : data;
          return call.apply(instance, args);
        };
  return {
    invoke,
    fail(client, data, event, error) {
      const host = new ExecutionContextHost([client, data, event, pattern]) as ExecutionContextHost & ArgumentsHost;
      host.setType('ws');
      filter.catch(error, host);
    },
  };
}
