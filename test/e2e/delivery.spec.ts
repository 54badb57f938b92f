import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MessageDeliveryService, type DeliveryResult } from '../../src/index.js';
import { RedisManagerRegistry } from '../../src/redis.js';
import { startExampleApp, type RunningApp, type TestClient } from '../support/app-harness.js';
import { deleteKeys, REDIS_URL, requireRedis, uniquePrefix } from '../support/redis.js';
import { LocalRedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/socket-harness.js';

const ADMIN_TOKEN = 'delivery-admin-token';

/** Where the two instances share their registry. */
interface Backend {
  name: string;
  url(): string;
  deleteKeys(prefix: string): Promise<void>;
}

let cluster: LocalRedisCluster | undefined;
const backends: Backend[] = [
  { name: 'one Redis', url: () => REDIS_URL, deleteKeys: (prefix) => deleteKeys(prefix) },
  { name: 'a Redis Cluster (3 primaries, 3 replicas)', url: () => cluster!.url, deleteKeys: (prefix) => cluster!.deleteKeys(prefix) },
];

afterAll(async () => {
  await cluster?.stop();
});

describe.each(backends)('cross-instance delivery over $name (real app instances)', (backend) => {
  let prefix: string;
  const apps: RunningApp[] = [];

  beforeAll(async () => {
    if (backend.name === 'one Redis') await requireRedis();
    else cluster ??= await LocalRedisCluster.start();
  });

  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await backend.deleteKeys(prefix);
  });

  async function instance(nodeId: string): Promise<RunningApp> {
    const app = await startExampleApp({
      WS_REGISTRY: 'redis',
      WS_REDIS_URL: backend.url(),
      WS_REDIS_KEY_PREFIX: prefix,
      WS_NODE_ID: nodeId,
      WS_ADMIN_TOKEN: ADMIN_TOKEN,
      WS_REGISTRY_TIMEOUT_MS: '1500',
    });
    apps.push(app);
    return app;
  }

  async function notify(app: RunningApp, userId: string, body: Record<string, unknown>, token = ADMIN_TOKEN): Promise<{ status: number; result: DeliveryResult }> {
    const response = await fetch(`http://127.0.0.1:${app.port}/admin/users/${encodeURIComponent(userId)}/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, result: (await response.json()) as DeliveryResult };
  }

  const byNode = (result: DeliveryResult) => Object.fromEntries(result.byInstance.map(({ nodeId, ...rest }) => [nodeId, rest]));

  /** Opens a session, then closes its socket: the manager stays detached on that instance. */
  async function detached(app: RunningApp, userId: string, context: string): Promise<void> {
    const { client } = await app.connect(userId, context);
    client.ws.close();
    await client.closed;
    await waitFor(() => app.factory.listLocal(userId).some((m) => m.context === context && !m.isConnected), 3000, 'manager detached');
  }

  it('sendToUser reaches every socket on both instances, buffers for detached managers, and counts them', async () => {
    prefix = uniquePrefix();
    const [a, b] = [await instance('node-a'), await instance('node-b')];
    const onA = [await a.connect('u1', 'a1'), await a.connect('u1', 'a2')];
    const onB = [await b.connect('u1', 'b1')];
    await detached(b, 'u1', 'b2');
    const other = await b.connect('u2', 'b1');

    const { status, result } = await notify(a, 'u1', { event: 'notice', data: { n: 1 } });
    expect(status).toBe(200);
    expect(result).toMatchObject({ sockets: 3, buffered: 1, managers: 4, instances: 2, unconfirmed: [], registryUnavailable: false });
    expect(byNode(result)).toEqual({ 'node-a': { managers: 2, sockets: 2, buffered: 0 }, 'node-b': { managers: 2, sockets: 1, buffered: 1 } });
    for (const s of [...onA, ...onB]) expect(await s.client.next('notice')).toEqual({ event: 'notice', data: { n: 1 } });

    // The detached manager replays it when its client comes back (to the instance that holds it).
    const back = await b.connect('u1', 'b2');
    expect(back.session.data).toMatchObject({ context: 'b2', resumed: true });
    expect(await back.client.next('notice')).toEqual({ event: 'notice', data: { n: 1 } });
    // Another user got nothing.
    await new Promise((r) => setTimeout(r, 200));
    expect(other.client.pending.filter((f: { event: string }) => f.event === 'notice')).toEqual([]);
  });

  it('sendToContext reaches only that context, on whichever instance holds it', async () => {
    prefix = uniquePrefix();
    const [a, b] = [await instance('node-a'), await instance('node-b')];
    const onA = await a.connect('u1', 'here');
    const target = await b.connect('u1', 'there');
    const sibling = await b.connect('u1', 'there-too');

    const { result } = await notify(a, 'u1', { event: 'ping-context', data: 'x', context: 'there' });
    expect(result).toMatchObject({ sockets: 1, buffered: 0, managers: 1, instances: 1, unconfirmed: [] });
    expect(byNode(result)).toEqual({ 'node-b': { managers: 1, sockets: 1, buffered: 0 } });
    expect(await target.client.next('ping-context')).toEqual({ event: 'ping-context', data: 'x' });
    await new Promise((r) => setTimeout(r, 200));
    const got = (c: TestClient) => c.pending.filter((f) => f.event === 'ping-context');
    expect([got(onA.client), got(sibling.client)]).toEqual([[], []]);

    // A context nobody holds reaches nobody.
    expect((await notify(b, 'u1', { event: 'ping-context', context: 'nowhere' })).result).toMatchObject({ sockets: 0, managers: 0, instances: 0 });
  });

  it('reports an instance that holds managers but does not answer as unconfirmed', async () => {
    prefix = uniquePrefix();
    const a = await instance('node-a');
    await a.connect('u1', 'a1');
    // A registry node with an entry and a subscribed channel but no delivery service behind it.
    const mute = new RedisManagerRegistry({ url: backend.url(), keyPrefix: prefix });
    await mute.start('mute');
    try {
      const now = Date.now();
      await mute.admit({ managerId: 'm-mute', userId: 'u1', context: 'm1', nodeId: 'mute', createdAt: now, lastActivityAt: now, detachedAt: null }, 20);
      const { result } = await notify(a, 'u1', { event: 'hello' });
      expect(result).toMatchObject({ sockets: 1, instances: 1, unconfirmed: ['mute'] });
    } finally {
      await mute.close();
    }
  });

  it('refuses the notify route without the admin token', async () => {
    prefix = uniquePrefix();
    const a = await instance('node-a');
    expect((await notify(a, 'u1', { event: 'x' }, 'wrong')).status).toBe(401);
    expect((await notify(a, 'u1', { data: 1 })).status).toBe(400);
  });
});

describe('delivery on the in-memory registry (one instance)', () => {
  it('reaches the local sockets and buffers for detached managers', async () => {
    const app = await startExampleApp({ WS_ADMIN_TOKEN: ADMIN_TOKEN });
    try {
      const open = [await app.connect('u1', 'one'), await app.connect('u1', 'two')];
      const gone = await app.connect('u1', 'gone');
      gone.client.ws.close();
      await gone.client.closed;
      await waitFor(() => app.factory.listLocal('u1').some((m) => m.context === 'gone' && !m.isConnected), 3000, 'manager detached');
      const response = await fetch(`http://127.0.0.1:${app.port}/admin/users/u1/notify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ event: 'notice', data: [1, 2] }),
      });
      const result = (await response.json()) as DeliveryResult;
      expect(result).toMatchObject({ sockets: 2, buffered: 1, managers: 3, instances: 1, unconfirmed: [], registryUnavailable: false });
      for (const s of open) expect(await s.client.next('notice')).toEqual({ event: 'notice', data: [1, 2] });

      // What cannot be sent is refused before anything is.
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const delivery = app.app.get(MessageDeliveryService);
      await expect(delivery.sendToUser('u1', 'bad', circular)).rejects.toBeInstanceOf(TypeError);
      await expect(delivery.sendToContext('u1', 'one', '', 1)).rejects.toBeInstanceOf(TypeError);
      await new Promise((r) => setTimeout(r, 100));
      expect(open[0]!.client.pending).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
