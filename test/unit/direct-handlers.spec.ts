import { Injectable, ParseIntPipe, UseFilters, UseGuards, UseInterceptors, UsePipes, type ArgumentsHost, type CallHandler, type CanActivate, type NestInterceptor } from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import { BaseWsExceptionFilter, ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { WebSocketManaged, WebSocketManagerGateway } from '../../src/index.js';
import { directHandler } from '../../src/gateway/direct-handlers.js';

@Injectable()
class Allow implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

@Injectable()
class Pass implements NestInterceptor {
  intercept(_context: unknown, next: CallHandler) {
    return next.handle();
  }
}

class OwnFilter extends BaseWsExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    super.catch(exception, host);
  }
}

@WebSocketGateway()
class Plain extends WebSocketManagerGateway {
  @SubscribeMessage('bare') bare(client: WebSocket, data: unknown, ...rest: unknown[]): unknown[] {
    return [client, data, ...rest];
  }
  @SubscribeMessage('params') params(@MessageBody() data: unknown, @ConnectedSocket() client: WebSocket): unknown[] {
    return [data, client];
  }
  @SubscribeMessage('gap') gap(@MessageBody() data: unknown, _unused: unknown, @ConnectedSocket() client: WebSocket): unknown[] {
    return [data, _unused, client];
  }
  @SubscribeMessage('property') property(@MessageBody('id') id: unknown): unknown {
    return id;
  }
  @SubscribeMessage('piped') piped(@MessageBody(ParseIntPipe) n: number): number {
    return n;
  }
  @UsePipes(ParseIntPipe) @SubscribeMessage('usePipes') usePipes(@MessageBody() n: number): number {
    return n;
  }
  @UseGuards(Allow) @SubscribeMessage('guarded') guarded(): string {
    return 'ok';
  }
  @UseInterceptors(Pass) @SubscribeMessage('intercepted') intercepted(): string {
    return 'ok';
  }
  @UseFilters(OwnFilter) @SubscribeMessage('filtered') filtered(): string {
    return 'ok';
  }
  @SubscribeMessage('fails') fails(): never {
    throw new WsException('nope');
  }
  notAHandler(): string {
    return 'x';
  }
}

@UseGuards(Allow)
@WebSocketGateway()
class GuardedClass extends WebSocketManagerGateway {
  @SubscribeMessage('x') x(): string {
    return 'x';
  }
}

@UseFilters(OwnFilter)
@WebSocketGateway()
class OwnFilterClass extends WebSocketManagerGateway {
  @SubscribeMessage('x') x(): string {
    return 'x';
  }
}

/** Opted in without the base class: Nest's default exception handling, not WebSocketErrorFilter. */
@WebSocketManaged()
@WebSocketGateway()
class OptedIn {
  @SubscribeMessage('x') x(): string {
    return 'x';
  }
}

const client = { send: () => undefined, readyState: 1 } as unknown as WebSocket;

describe('directHandler: which handlers skip Nest\'s proxy', () => {
  const config = new ApplicationConfig();
  const plain = new (Plain as unknown as new () => Plain)();

  it('calls a handler without enhancers with the arguments Nest would pass', () => {
    expect(directHandler(plain, 'bare', config)!.invoke(client, 'd', 'bare')).toEqual([client, 'd', 'bare', 'bare']);
    expect(directHandler(plain, 'params', config)!.invoke(client, 'd', 'params')).toEqual(['d', client]);
    expect(directHandler(plain, 'gap', config)!.invoke(client, 'd', 'gap')).toEqual(['d', undefined, client]);
  });

  it('leaves to Nest any handler with a guard, interceptor, pipe, own filter or a parameter it would transform', () => {
    for (const method of ['property', 'piped', 'usePipes', 'guarded', 'intercepted', 'filtered', 'notAHandler', 'missing']) {
      expect(directHandler(plain, method, config), method).toBeUndefined();
    }
    expect(directHandler(new (GuardedClass as unknown as new () => object)(), 'x', config)).toBeUndefined();
    expect(directHandler(new (OwnFilterClass as unknown as new () => object)(), 'x', config)).toBeUndefined();
    expect(directHandler(new OptedIn(), 'x', config)).toBeUndefined();
    expect(directHandler(plain, 'bare', undefined)).toBeUndefined();
  });

  it('leaves every handler to Nest once a global guard, interceptor or pipe is registered', () => {
    const cases: ((c: ApplicationConfig) => void)[] = [
      (c) => c.addGlobalGuard(new Allow()),
      (c) => c.addGlobalInterceptor(new Pass()),
      (c) => c.addGlobalPipe(new ParseIntPipe()),
    ];
    for (const register of cases) {
      const withGlobal = new ApplicationConfig();
      register(withGlobal);
      expect(directHandler(plain, 'bare', withGlobal)).toBeUndefined();
    }
  });

  it('answers a failure through WebSocketErrorFilter, as Nest\'s proxy would', () => {
    const sent: string[] = [];
    const socket = { send: (frame: string) => sent.push(frame), readyState: 1 } as unknown as WebSocket;
    const handler = directHandler(plain, 'fails', config)!;
    expect(() => handler.invoke(socket, null, 'fails')).toThrow(WsException);
    handler.fail(socket, null, 'fails', new WsException('nope'));
    handler.fail(socket, null, 'fails', new Error('bug'));
    expect(sent.map((f) => JSON.parse(f) as unknown)).toEqual([
      { event: 'exception', data: { status: 'error', message: 'nope', cause: { pattern: 'fails', data: null } } },
      { event: 'error', data: { code: 'INTERNAL_ERROR' } },
    ]);
  });
});
