import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', express: 'src/express/index.ts', fastify: 'src/fastify/index.ts' },
  format: ['esm', 'cjs'],
  // stripInternal: members tagged @internal stay out of the published .d.ts.
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  // No source maps: they would point at src/*.ts, which the package does not
  // ship, and the output is unminified ES2022 close enough to the source to
  // read in a stack trace. Shipping src/ as well would double the package.
  sourcemap: false,
  target: 'node20',
  platform: 'node',
  external: ['ioredis', 'redis', '@redis/client', 'express-session'],
});
