import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AppModule, type SampleConfig } from './app.module.js';
import { PROJECT_ROOT, databaseOptions, sessionSecret } from './sample.config.js';

/** Builds the sample app (also used by its tests) with the page and the browser client served. */
export async function createSampleApp(config: SampleConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: ['error', 'warn'],
  });
  app.useStaticAssets(join(PROJECT_ROOT, 'sample', 'public'));
  // The browser client as `npm run sample` compiled it, in the package's layout: the client imports
  // the wire contract from `../http/wire.js`, so both folders are served side by side.
  const compiled = join(PROJECT_ROOT, 'dist-sample', 'lib');
  for (const folder of ['client', 'http']) {
    const path = join(compiled, folder);
    if (existsSync(path)) app.useStaticAssets(path, { prefix: `/assets/${folder}/` });
  }
  app.enableShutdownHooks();
  return app;
}

async function main(): Promise<void> {
  const accessTokenValidity = Number(process.env.ACCESS_TOKEN_VALIDITY ?? 900);
  const app = await createSampleApp({
    database: databaseOptions(),
    session: {
      secret: sessionSecret(),
      accessToken: { validity: accessTokenValidity, clockTolerance: accessTokenValidity > 10 ? 5 : 0 },
      // Browsers keep Secure cookies from http://localhost; set COOKIE_SECURE=false for other plain-HTTP hosts.
      cookie: { secure: process.env.COOKIE_SECURE !== 'false' },
    },
    rateLimit: process.env.RATE_LIMIT ? Number(process.env.RATE_LIMIT) : undefined,
  });
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, '127.0.0.1');
  console.log(`nestjs-token-session sample listening on http://localhost:${port}  (demo / demo-password)`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  await main();
}
