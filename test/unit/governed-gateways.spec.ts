import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { describe, expect, it } from 'vitest';
import { WebSocketManaged, WebSocketManagerGateway } from '../../src/index.js';
import { assertOneHandlerPerEvent, handlersOf, normalizePath, type GatewayInfo } from '../../src/gateway/governed-gateways.js';

@WebSocketGateway({ path: '/chat' })
class Chat extends WebSocketManagerGateway {
  @SubscribeMessage('join') join(): void {}
  @SubscribeMessage('say') say(): void {}
}

class ChatPlus extends Chat {
  // Overrides the same method: still one handler of `say`.
  @SubscribeMessage('say') override say(): void {}
  @SubscribeMessage('join') enter(): void {}
}

@WebSocketManaged()
@WebSocketGateway({ path: '/feed' })
class OptedIn {
  @SubscribeMessage('feed') feed(): void {}
}

const info = (metatype: GatewayInfo['metatype']): GatewayInfo => ({
  metatype,
  instance: undefined,
  static: true,
  moduleKey: undefined,
  port: 0,
  ownPath: undefined,
  governed: true,
  handlers: handlersOf(metatype),
});

describe('governed gateways', () => {
  describe('handlersOf', () => {
    it('lists the handlers through the prototype chain, the most derived method of each name once', () => {
      expect(handlersOf(Chat)).toEqual([
        { event: 'join', name: 'Chat.join', method: 'join' },
        { event: 'say', name: 'Chat.say', method: 'say' },
      ]);
      expect(handlersOf(ChatPlus).map((h) => h.name).sort()).toEqual(['Chat.join', 'ChatPlus.enter', 'ChatPlus.say']);
    });

    it('finds no handler in the base class: it claims no event name', () => {
      expect(handlersOf(WebSocketManagerGateway as never)).toEqual([]);
    });
  });

  describe('assertOneHandlerPerEvent', () => {
    it('names both handlers of one event', () => {
      expect(() => assertOneHandlerPerEvent([info(ChatPlus)], 'path /chat')).toThrow(
        'ChatPlus.enter and Chat.join both handle the WebSocket event "join" on path /chat',
      );
    });

    it('accepts distinct events across gateways sharing a server', () => {
      expect(() => assertOneHandlerPerEvent([info(Chat), info(OptedIn)], 'path /ws')).not.toThrow();
    });
  });

  describe('normalizePath', () => {
    it("matches Nest's WsAdapter: one leading slash, no trailing one, none is /", () => {
      expect([normalizePath(undefined), normalizePath('chat/'), normalizePath('//a//b/')]).toEqual(['/', '/chat', '/a/b']);
    });
  });
});
