#!/usr/bin/env node
// The Nest CLI with the project's TypeScript 7 left alone: TypeScript 7.0 ships `tsc` only, without
// the programmatic API that @nestjs/cli reads tsconfig.json through, so the CLI is given its own
// TypeScript 6 (its dependency) for that. Compiling is swc's job (nest-cli.json: builder swc) and
// type-checking stays with `npm run typecheck` (tsc 7). Usage: `npm run nest -- build|start [--watch]`.
import { createRequire } from 'node:module';
import Module from 'node:module';

const require = createRequire(import.meta.url);
const cliPackage = require.resolve('@nestjs/cli/package.json');
const typescript6 = createRequire(cliPackage).resolve('typescript');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'typescript' ? typescript6 : resolve.call(this, request, ...rest);
};
await import(createRequire(cliPackage).resolve('./bin/nest.js'));
