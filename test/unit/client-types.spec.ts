import { describe, expectTypeOf, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ClientStatus, SessionInfo, WebSocketClient } from '../../src/client/index.js';

// Compile-time checks (npm run typecheck fails on a broken one): the event maps type `on` and `send`.
interface In {
  echo: string;
  said: { text: string };
}
interface Out {
  echo: string;
  say: { text: string };
}

describe('client types', () => {
  it('types on() and send() from the event maps', () => {
    const check = (client: WebSocketClient<In, Out>) => {
      client.on('echo', (data) => expectTypeOf(data).toEqualTypeOf<string>());
      client.on('said', (data) => expectTypeOf(data).toEqualTypeOf<{ text: string }>());
      client.on('session', (data) => expectTypeOf(data).toEqualTypeOf<SessionInfo>());
      client.on('statuschange', ({ status }) => expectTypeOf(status).toEqualTypeOf<ClientStatus>());
      client.send('say', { text: 'hi' });
      // @ts-expect-error -- not an event of In
      client.on('unknown', () => undefined);
      // @ts-expect-error -- wrong data type
      client.send('echo', 42);
      // @ts-expect-error -- not an event of Out
      client.send('said', { text: 'x' });
    };
    expectTypeOf(check).toBeFunction();
    // `ws`'s class fits the option as it is.
    expectTypeOf(WebSocket).toExtend<NonNullable<Parameters<typeof import('../../src/client/index.js').connect>[0]['WebSocket']>>();
  });
});
