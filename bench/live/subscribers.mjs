// SUBSCRIBERS graphql-ws clients (one connection each) on DOCUMENTS live documents,
// everySeconds: 1, for SECONDS_ seconds; reads the server's /metrics and /proc/PID.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../tests/clients/package.json', import.meta.url));
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');

const subscribers = Number(process.env.SUBSCRIBERS ?? 1000);
const documents = Number(process.env.DOCUMENTS ?? 10);
const seconds = Number(process.env.SECONDS_ ?? 60);
const pid = Number(process.env.SERVER_PID);
const url = process.env.CT_URL;
const wsUrl = url.replace(/^http/, 'ws') + '/ws';
const metricsUrl = url.replace(/\/graphql$/, '/metrics');
const authorization = `Bearer ${process.env.CT_TOKEN}`;

// Ten distinct documents: three windows by four selections.
const windows = ['LAST_1H', 'LAST_24H', 'LAST_7D'];
const selections = ['runs { total failed }', 'stuckTotal', 'tenantHealth { healthy critical }', 'byType { type total }'];
const document = (i) =>
  `subscription Wall${i} { live(everySeconds: 1) { controlTower(window: ${windows[i % 3]}) { generatedAt ${selections[Math.floor(i / 3) % 4]} } settings { maxPageSize } } }`;

const executions = async () => {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith('control_tower_live_executions_total '));
  return line ? Number(line.split(' ')[1]) : 0;
};
const cpuTicks = () => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
const rssKib = (key) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${key}:\\s+(\\d+)`))[1]);

const pushes = new Array(subscribers).fill(0);
const errors = [];
const clients = [];
let acked = 0;
for (let i = 0; i < subscribers; i++) {
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization },
    retryAttempts: 0,
    lazy: true,
    on: { connected: () => acked++ },
  });
  client.subscribe(
    { query: document(i % documents) },
    {
      next: (result) => {
        if (result.errors) errors.push(result.errors);
        pushes[i]++;
      },
      error: (error) => errors.push(String(error?.reason ?? error?.message ?? error)),
      complete: () => {},
    },
  );
  clients.push(client);
  if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 50));
}
// Every subscriber has its first push before the measurement starts.
const ready = Date.now();
while (pushes.some((n) => n === 0) && Date.now() - ready < 30_000 && errors.length === 0) {
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const before = { executions: await executions(), cpu: cpuTicks(), at: Date.now(), pushes: pushes.reduce((a, b) => a + b, 0) };
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const after = { executions: await executions(), cpu: cpuTicks(), at: Date.now(), pushes: pushes.reduce((a, b) => a + b, 0) };
const elapsed = (after.at - before.at) / 1000;
const ticks = Math.round(elapsed);
const ran = after.executions - before.executions;
const cpu = (after.cpu - before.cpu) / 100 / elapsed;
const served = pushes.filter((n) => n > 0).length;
console.log(`subscribers ${subscribers} (acked ${acked}, served ${served}), documents ${documents}, ${elapsed.toFixed(1)} s`);
console.log(`executions ${ran}; floor documents × ticks = ${documents * ticks}; ratio ${(ran / (documents * ticks)).toFixed(2)}; subscribers × ticks would be ${subscribers * ticks}`);
console.log(`pushes ${after.pushes - before.pushes} (${((after.pushes - before.pushes) / subscribers / elapsed).toFixed(2)} per subscriber per second)`);
console.log(`server CPU ${(cpu * 100).toFixed(1)} % of one core; RSS now ${(rssKib('VmRSS') / 1024).toFixed(0)} MB, peak ${(rssKib('VmHWM') / 1024).toFixed(0)} MB`);
console.log(`errors ${errors.length}${errors.length ? `: ${JSON.stringify(errors.slice(0, 3))}` : ''}`);
for (const client of clients) client.dispose();
const ok = served === subscribers && errors.length === 0 && ran <= documents * (ticks + 1) && cpu < 0.25 && rssKib('VmHWM') <= 200 * 1024;
process.exit(ok ? 0 : 1);
