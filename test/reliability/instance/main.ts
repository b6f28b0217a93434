// One app instance as its own OS process, for the multi-instance tests: compiled by tsc (decorator
// metadata), started by test/reliability/multi-instance.e2e-spec.ts, settings from the environment.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { InstanceModule, type InstanceSettings } from './instance.module.js';

const settings = JSON.parse(process.env.INSTANCE_SETTINGS ?? '') as InstanceSettings;
const app = await NestFactory.create(InstanceModule.register(settings), { logger: ['error', 'warn'] });
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
// Longer than any pause of the test clients: a keep-alive socket closed by the server while a
// client reuses it would surface as ECONNRESET (the soaks' load keeps sockets idle for seconds).
app.getHttpServer().keepAliveTimeout = 60_000;
const { port } = app.getHttpServer().address() as AddressInfo;
// The parent waits for this line.
console.log(`READY ${port}`);
