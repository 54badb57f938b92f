import { ForbiddenException, Logger, type ArgumentsHost } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { RegistryUnavailableError, WebSocketErrorFilter } from '../../src/index.js';
import { SocketHarness, type SocketPair } from '../support/socket-harness.js';

/** The one part of ArgumentsHost the filter reads: the ws client. */
const hostOf = (client: WebSocket) =>
  ({ switchToWs: () => ({ getClient: () => client, getPattern: () => 'say', getData: () => 'hi' }) }) as unknown as ArgumentsHost;

describe('WebSocketErrorFilter', () => {
  let harness: SocketHarness;
  let pair: SocketPair;
  beforeEach(async () => {
    harness = await SocketHarness.start();
    pair = await harness.connect();
  });
  afterEach(() => harness.close());

  const next = () => new Promise<unknown>((resolve) => pair.client.once('message', (d) => resolve(JSON.parse(String(d)))));

  describe('#catch', () => {
    it("answers the module's errors with their stable code", async () => {
      const received = next();
      new WebSocketErrorFilter().catch(new RegistryUnavailableError(), hostOf(pair.server));
      expect(await received).toEqual({ event: 'error', data: { code: 'REGISTRY_UNAVAILABLE' } });
    });

    it("keeps WsException's Nest shape and message, and logs nothing", async () => {
      const logged = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const received = next();
      new WebSocketErrorFilter().catch(new WsException('room is full'), hostOf(pair.server));
      expect(await received).toEqual({ event: 'exception', data: { status: 'error', message: 'room is full', cause: { pattern: 'say', data: 'hi' } } });
      expect(logged).not.toHaveBeenCalled();
      logged.mockRestore();
    });

    it('answers a 4xx HttpException (a shared guard) as a client error with its message, not logged', async () => {
      const logged = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const received = next();
      new WebSocketErrorFilter().catch(new ForbiddenException('not your room'), hostOf(pair.server));
      expect(await received).toMatchObject({ event: 'exception', data: { status: 'error', message: 'not your room' } });
      expect(logged).not.toHaveBeenCalled();
      logged.mockRestore();
    });

    it('answers anything else as INTERNAL_ERROR, without leaking its code', async () => {
      const received = next();
      new WebSocketErrorFilter().catch(Object.assign(new Error('boom'), { code: 'ECONNRESET' }), hostOf(pair.server));
      expect(await received).toEqual({ event: 'error', data: { code: 'INTERNAL_ERROR' } });
    });
  });
});
