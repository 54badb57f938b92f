import { loadEnvFile } from 'node:process';
import { existsSync } from 'node:fs';
import { signUserToken } from './jwt-identity.js';

// `npm run token -- USER [EXPIRES]`: a token the example app accepts, signed with WS_JWT_SECRET.
if (existsSync('.env')) loadEnvFile('.env');
const [userId, expiresIn = '12h'] = process.argv.slice(2);
const secret = process.env.WS_JWT_SECRET;
if (!userId) {
  console.error('usage: npm run token -- USER [EXPIRES, e.g. 12h]');
  process.exit(2);
}
if (!secret) {
  console.error('WS_JWT_SECRET is not set (environment or .env); the app then makes a random secret per run and prints its own dev token.');
  process.exit(2);
}
console.log(await signUserToken(secret, userId, expiresIn));
