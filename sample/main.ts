import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SessionEngine, SessionModule } from '../lib/index.js';
import { databaseOptions, sessionSecret } from './sample.config.js';

@Module({
  imports: [TypeOrmModule.forRoot(databaseOptions()), SessionModule.forRoot({ secret: sessionSecret() })],
})
class SampleModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(SampleModule, { logger: ['error', 'warn'] });
  const engine = app.get(SessionEngine);
  const created = await engine.createNewSession('demo', { role: 'reader' }, { visits: 1 });
  console.log(`created session ${created.session.handle} for user "${created.session.userId}"`);
  const verified = await engine.getSession(created.accessToken.value, created.antiCsrfToken ?? null);
  console.log(
    `verified access token: user "${verified.session.userId}", payload ${JSON.stringify(verified.session.jwtPayload)}`,
  );
  const refreshed = await engine.refreshSession(created.refreshToken.value);
  console.log(
    `refreshed: new refresh token expires ${new Date(refreshed.newRefreshToken.expires).toISOString()}`,
  );
  console.log(`sessions of "demo": ${(await engine.getAllSessionHandlesForUser('demo')).length}`);
  await app.close();
}

await main();
