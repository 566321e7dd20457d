/**
 * The admission server alone (express, codec, metrics, logging) around a decide() that denies at once,
 * without the CLI, policies or engine. `validate-bench.ts --stub` adds it as a row, to tell the server's
 * cost from the engine's. Usage: node bench/modelgate-stub.ts PORT [LOG_LEVEL]
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { serverDenial } from '../src/admission/review.ts';
import { startAdmissionServer } from '../src/admission/server.ts';

const port = Number(process.argv[2] ?? '0');
const server = await startAdmissionServer({
  port,
  host: '127.0.0.1',
  tls: {},
  maxBodyBytes: 8 * 1024 * 1024,
  decide: async () => serverDenial('MODEL_UNGOVERNED', 403, 'no ModelPolicy governs this model'),
  ready: () => true,
  logger: pino({ level: process.argv[3] ?? 'info' }),
  metrics: new Registry(),
});
process.once('SIGTERM', () => {
  server.close().then(() => process.exit(0));
});
