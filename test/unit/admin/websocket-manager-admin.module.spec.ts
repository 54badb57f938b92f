import { Injectable, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AdminAccessGuard,
  InvalidOptionsError,
  resolveAdminOptions,
  WebSocketManagerAdminModule,
  WebSocketManagerModule,
  WS_ADMIN_OPTIONS,
  type ResolvedAdminOptions,
  type WebSocketManagerAdminOptions,
} from '../../../src/index.js';

@Injectable()
class AdminOptionsFactory {
  create(): WebSocketManagerAdminOptions {
    return { token: 'from-a-class', pushIntervalMs: 500 };
  }
}

@Module({ providers: [AdminOptionsFactory], exports: [AdminOptionsFactory] })
class OptionsFactoryModule {}

describe('WebSocketManagerAdminModule', () => {
  let moduleRef: TestingModule | undefined;
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  async function compile(admin: ReturnType<typeof WebSocketManagerAdminModule.forRoot>): Promise<ResolvedAdminOptions> {
    moduleRef = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRootAsync({ isGlobal: true, useFactory: () => ({ cleanupCron: '0 0 0 1 1 *' }) }), admin],
    }).compile();
    await moduleRef.init();
    return moduleRef.get<ResolvedAdminOptions>(WS_ADMIN_OPTIONS);
  }

  describe('#forRoot', () => {
    it('resolves the options with their defaults', async () => {
      expect(await compile(WebSocketManagerAdminModule.forRoot({ token: 'static-token' }))).toEqual({ token: 'static-token', pushIntervalMs: 1000, historySize: 20 });
      expect(moduleRef!.get(AdminAccessGuard).enabled).toBe(true);
    });

    it('is disabled without a token or a guard', async () => {
      expect(await compile(WebSocketManagerAdminModule.forRoot({}))).toMatchObject({ token: undefined });
      expect(moduleRef!.get(AdminAccessGuard).enabled).toBe(false);
    });
  });

  describe('#forRootAsync', () => {
    it('takes useFactory with inject', async () => {
      const options = await compile(
        WebSocketManagerAdminModule.forRootAsync({ imports: [OptionsFactoryModule], inject: [AdminOptionsFactory], useFactory: (f: AdminOptionsFactory) => f.create() }),
      );
      expect(options).toEqual({ token: 'from-a-class', pushIntervalMs: 500, historySize: 20 });
    });

    it('takes useClass', async () => {
      expect(await compile(WebSocketManagerAdminModule.forRootAsync({ useClass: AdminOptionsFactory }))).toMatchObject({ token: 'from-a-class' });
    });

    it('takes useExisting', async () => {
      expect(await compile(WebSocketManagerAdminModule.forRootAsync({ imports: [OptionsFactoryModule], useExisting: AdminOptionsFactory }))).toMatchObject({ token: 'from-a-class' });
    });

    it('fails the start on a bad option, naming it', async () => {
      await expect(compile(WebSocketManagerAdminModule.forRootAsync({ useFactory: () => ({ pushIntervalMs: 10 }) }))).rejects.toThrow(/admin\.pushIntervalMs=10: must be a whole number ≥ 250/);
    });
  });
});

describe('resolveAdminOptions', () => {
  it('refuses a token that cannot travel in a header, and bad numbers, all at once', () => {
    let thrown: unknown;
    try {
      resolveAdminOptions({ token: 'has space', historySize: 0, pushIntervalMs: 1.5 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionsError);
    expect((thrown as InvalidOptionsError).issues.map((i) => i.name)).toEqual(['admin.token', 'admin.pushIntervalMs', 'admin.historySize']);
    expect(resolveAdminOptions({ token: '' }).token).toBeUndefined();
  });
});
