import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { InvalidOptionsError, wsManagerOptionsFromEnv } from '../src/index.js';

/** The example application's own settings (the module's `WS_*` options are parsed separately). */
export interface AppConfig {
  /** HTTP + WebSocket port. */
  PORT: number;
  /** HS256 secret of client tokens. */
  WS_JWT_SECRET: string;
  /** `true` when no secret was configured and a random one was made for this run. */
  WS_JWT_SECRET_GENERATED: boolean;
  /** Bearer token of the admin API; `undefined`: the admin API answers 404. */
  WS_ADMIN_TOKEN?: string;
}

const appSchema = z.object({
  PORT: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().max(65_535, 'must be ≤ 65535')).default(3000),
  WS_JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  WS_ADMIN_TOKEN: z.string().min(8, 'must be at least 8 characters').optional(),
});

/**
 * `ConfigModule` validator: checks the app's variables and every `WS_*` variable, so a bad
 * value fails start-up naming the variable, the value and the rule.
 */
export function validateAppEnv(env: Record<string, unknown>): Record<string, unknown> & AppConfig {
  const strings = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].trim() !== ''),
  );
  wsManagerOptionsFromEnv(strings);
  const parsed = appSchema.safeParse(strings);
  if (!parsed.success) {
    throw new InvalidOptionsError(
      parsed.error.issues.map((i) => ({ name: String(i.path[0]), value: strings[String(i.path[0])], rule: i.message })),
    );
  }
  const secret = parsed.data.WS_JWT_SECRET;
  return {
    ...env,
    PORT: parsed.data.PORT,
    WS_JWT_SECRET: secret ?? randomBytes(32).toString('hex'),
    WS_JWT_SECRET_GENERATED: secret === undefined,
    WS_ADMIN_TOKEN: parsed.data.WS_ADMIN_TOKEN,
  };
}
