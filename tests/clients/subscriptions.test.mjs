// Subscriptions over the WebSocket at /graphql/ws (protocol graphql-transport-ws), driven
// by the `graphql-ws` client on Node.js with the `ws` WebSocket, the way a frontend uses
// them: createClient({ url, webSocketImpl, connectionParams, retryAttempts: 0, lazy: true }).
//
// - Every saved subscription (playground/operations, fragments appended) with the demo
//   token: two pushes with data and no errors, the second a changed tower (another
//   `generatedAt`); then unsubscribing completes the sink and closes the socket (1000).
// - A second session (logged in over HTTP with CT_EMAIL / CT_PASSWORD): one push, then
//   `mutation { logout }` over HTTP with that token: the socket must close with 4401
//   within ~10 s and the sink must end. The demo token (CT_TOKEN) is never logged out.
// - No token, and a wrong token: the socket closes with 4403, the sink gets the error,
//   nothing is pushed.
//
// Every failure message carries what went over the socket (the client's events and
// messages, the close code and reason).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { AUTH, URL_, WS_URL, discoverContext, isSubscription, loadOperations, variablesFor } from './lib/common.mjs';

const operations = loadOperations();
const subscriptions = operations.filter(isSubscription);
const ctx = await discoverContext();

/** How long to wait for a first push, and for the second one (the tower's snapshot is
 * recomputed at most every 5 s, so with `every: 1` a second push comes within ~6 s). */
const FIRST_PUSH_MS = 10_000;
const SECOND_PUSH_MS = 15_000;
/** How long the server may take to close a logged-out session's socket (~5 s). */
const LOGOUT_CLOSE_MS = 10_000;

const truncate = (text, max = 300) => (text.length > max ? `${text.slice(0, max)}…` : text);

/**
 * A graphql-ws client that records what happens on its socket: `log` (for failure
 * messages), `closes` (the close events), `waitClosed(ms)` (the next close, or a timeout
 * error) and `protocol` (the subprotocol the server chose).
 */
function wsClient(connectionParams, label) {
  const started = Date.now();
  const log = [];
  const closes = [];
  const closeWaiters = [];
  const note = (line) => log.push(`+${((Date.now() - started) / 1000).toFixed(2)}s ${line}`);
  const state = { protocol: undefined };
  const client = createClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
    on: {
      connecting: () => note(`connecting to ${WS_URL} (connection_init payload ${label})`),
      opened: (socket) => {
        state.protocol = socket.protocol;
        note(`opened (subprotocol ${JSON.stringify(socket.protocol)})`);
      },
      connected: () => note('connection_ack received'),
      message: (message) =>
        note(`received ${message.type}${message.id ? ` id=${message.id}` : ''}${message.payload ? ` ${truncate(JSON.stringify(message.payload))}` : ''}`),
      error: (error) => note(`error ${error?.message ?? error}`),
      closed: (event) => {
        const close = { code: event?.code, reason: String(event?.reason ?? ''), at: Date.now() };
        note(`closed: code ${close.code}, reason ${JSON.stringify(close.reason)}`);
        closes.push(close);
        for (const resolve of closeWaiters.splice(0)) resolve(close);
      },
    },
  });
  const describeLog = () => `\n  over the socket:\n    ${log.length ? log.join('\n    ') : '(nothing)'}`;
  const waitClosed = (ms) =>
    closes.length
      ? Promise.resolve(closes[0])
      : withTimeout(new Promise((resolve) => closeWaiters.push(resolve)), ms, () => `no close within ${ms / 1000} s${describeLog()}`);
  return { client, log, closes, waitClosed, describeLog, state };
}

/** Rejects with `message()` when `promise` has not settled within `ms`. */
function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Subscribes through `client`; the returned object records the sink: `results` (every
 * `next`), `nextResult(n, ms)` (waits for the n-th), `ended` (resolves with
 * { kind: 'error' | 'complete', error }) and `unsubscribe()`.
 */
function subscribe(ws, payload) {
  const results = [];
  const resultWaiters = [];
  let endedResolve;
  const ended = new Promise((resolve) => {
    endedResolve = resolve;
  });
  let end;
  const unsubscribe = ws.client.subscribe(payload, {
    next: (result) => {
      results.push({ result, at: Date.now() });
      for (const waiter of resultWaiters.filter((w) => results.length >= w.n)) {
        resultWaiters.splice(resultWaiters.indexOf(waiter), 1);
        waiter.resolve(results[waiter.n - 1]);
      }
    },
    error: (error) => {
      end ??= { kind: 'error', error, at: Date.now() };
      endedResolve(end);
    },
    complete: () => {
      end ??= { kind: 'complete', at: Date.now() };
      endedResolve(end);
    },
  });
  const describeError = (error) =>
    error && typeof error === 'object' && 'code' in error
      ? `close event ${error.code} ${JSON.stringify(String(error.reason ?? ''))}`
      : Array.isArray(error)
        ? `GraphQL errors ${JSON.stringify(error)}`
        : String(error?.stack ?? error);
  const nextResult = (n, ms) =>
    results.length >= n
      ? Promise.resolve(results[n - 1])
      : withTimeout(
          Promise.race([
            new Promise((resolve) => resultWaiters.push({ n, resolve })),
            ended.then((e) => {
              throw new Error(
                `the subscription ended (${e.kind}${e.error ? `: ${describeError(e.error)}` : ''}) before push ${n}${ws.describeLog()}`,
              );
            }),
          ]),
          ms,
          () => `no push ${n} within ${ms / 1000} s (${results.length} so far)${ws.describeLog()}`,
        );
  return {
    results,
    nextResult,
    ended,
    unsubscribe,
    describeError,
    get end() {
      return end;
    },
  };
}

/** Asserts a push: data with the operation's root fields, no errors. */
function assertPush(op, push, n, ws) {
  const { result } = push;
  assert.equal(result.errors, undefined, `push ${n}: unexpected errors ${JSON.stringify(result.errors)}${ws.describeLog()}`);
  assert.ok(result.data && typeof result.data === 'object', `push ${n}: no data${ws.describeLog()}`);
  for (const key of op.rootFields) {
    assert.ok(result.data[key] != null, `push ${n}: data.${key} is missing or null${ws.describeLog()}`);
  }
}

/** One HTTP request (for login/logout); returns the parsed body and a description. */
async function post(query, variables, authorization, redact = []) {
  const response = await fetch(URL_, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  let shownVariables = JSON.stringify(variables ?? {});
  for (const secret of redact) shownVariables = shownVariables.split(secret).join('<redacted>');
  const what = `\n  request: POST ${URL_} ${JSON.stringify(query)} variables ${shownVariables}\n  response: HTTP ${response.status} ${truncate(text, 600)}`;
  return { status: response.status, body, what };
}

const payloadOf = (op) => ({ query: op.document, operationName: op.name, variables: variablesFor(op, ctx) });

// ---------------------------------------------------------------------------------------

test('the saved operations include the ControlTowerLive subscription', () => {
  assert.ok(
    subscriptions.some((op) => op.name === 'ControlTowerLive'),
    `no subscription ControlTowerLive among the saved operations: ${operations.map((op) => `${op.type} ${op.name}`).join(', ')}`,
  );
});

describe('with the demo token', () => {
  for (const op of subscriptions) {
    test(`${op.name} (${op.fileName}): two pushes, the second changed; unsubscribe closes cleanly`, async (t) => {
      const ws = wsClient(AUTH, 'with the demo token');
      const payload = payloadOf(op);
      t.diagnostic(`${WS_URL} variables ${JSON.stringify(payload.variables)}`);
      const sub = subscribe(ws, payload);
      try {
        try {
          const first = await sub.nextResult(1, FIRST_PUSH_MS);
          assertPush(op, first, 1, ws);
          assert.equal(ws.state.protocol, 'graphql-transport-ws', `the subprotocol the server chose${ws.describeLog()}`);
          const second = await sub.nextResult(2, SECOND_PUSH_MS);
          assertPush(op, second, 2, ws);
          for (const key of op.rootFields) {
            const a = first.result.data[key];
            const b = second.result.data[key];
            if (a && typeof a === 'object' && 'generatedAt' in a) {
              assert.notEqual(b.generatedAt, a.generatedAt, `push 2 has another ${key}.generatedAt than push 1${ws.describeLog()}`);
              t.diagnostic(`push 1: ${key}.generatedAt ${a.generatedAt}; push 2 after ${((second.at - first.at) / 1000).toFixed(1)} s: ${b.generatedAt}`);
            }
          }
          assert.equal(sub.end, undefined, `the subscription must still be running${ws.describeLog()}`);
        } finally {
          sub.unsubscribe();
        }
        const end = await withTimeout(sub.ended, 5_000, () => `the sink did not complete after unsubscribing${ws.describeLog()}`);
        assert.equal(end.kind, 'complete', `after unsubscribing the sink completes (got ${end.kind}: ${sub.describeError(end.error)})${ws.describeLog()}`);
        const close = await ws.waitClosed(5_000);
        assert.equal(close.code, 1000, `the last unsubscribe closes the lazy client's socket normally${ws.describeLog()}`);
        t.diagnostic(`${sub.results.length} pushes; then closed ${close.code} ${JSON.stringify(close.reason)}`);
      } finally {
        await ws.client.dispose();
      }
    });
  }
});

test('a second session: logout over HTTP closes its socket with 4401; the demo session lives on', async (t) => {
  const email = process.env.CT_EMAIL;
  const password = process.env.CT_PASSWORD;
  assert.ok(
    email && password,
    'CT_EMAIL and CT_PASSWORD (the demo operator, printed by `serve --demo` on a fresh database) are not set: run this through tests/clients/run.sh',
  );
  const op = subscriptions.find((o) => o.name === 'ControlTowerLive');
  assert.ok(op, 'no saved ControlTowerLive subscription');

  const login = await post(
    'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token } }',
    { email, password },
    undefined,
    [password],
  );
  const token = login.body?.data?.login?.token;
  assert.equal(login.body?.errors, undefined, `login of ${email}: no errors${login.what}`);
  assert.ok(token && token !== AUTH.authorization.replace(/^Bearer /, ''), `login of ${email}: a new token${login.what}`);
  const authorization = `Bearer ${token}`;

  const ws = wsClient({ authorization }, 'with the second session');
  const sub = subscribe(ws, payloadOf(op));
  let loggedOutAt;
  try {
    assertPush(op, await sub.nextResult(1, FIRST_PUSH_MS), 1, ws);

    const logout = await post('mutation { logout }', undefined, authorization);
    loggedOutAt = Date.now();
    assert.equal(logout.body?.errors, undefined, `logout: no errors${logout.what}`);
    assert.equal(logout.body?.data?.logout, true, `logout: data.logout${logout.what}`);

    const close = await ws.waitClosed(LOGOUT_CLOSE_MS);
    assert.equal(close.code, 4401, `after logout the socket closes with 4401 (session ended)${ws.describeLog()}`);
    t.diagnostic(`closed ${close.code} ${JSON.stringify(close.reason)} ${((close.at - loggedOutAt) / 1000).toFixed(1)} s after the logout`);
    const end = await withTimeout(sub.ended, 2_000, () => `the sink neither errored nor completed after the close${ws.describeLog()}`);
    assert.ok(['error', 'complete'].includes(end.kind));
    if (end.kind === 'error' && end.error && typeof end.error === 'object' && 'code' in end.error) {
      assert.equal(end.error.code, 4401, `the sink's error is the close event${ws.describeLog()}`);
    }
    t.diagnostic(`the sink ended: ${end.kind}${end.error ? ` (${sub.describeError(end.error)})` : ''}`);
  } finally {
    if (!sub.end) sub.unsubscribe();
    await ws.client.dispose();
  }

  // Only that session ended: the demo token still works (the other steps use it).
  const still = await post('{ settings { maxPageSize } }', undefined, AUTH.authorization);
  assert.equal(still.body?.errors, undefined, `the demo session still works${still.what}`);
  assert.equal(typeof still.body?.data?.settings?.maxPageSize, 'number', `the demo session still works${still.what}`);
});

describe('refused connection_init: closed with 4403, nothing pushed', () => {
  for (const [label, connectionParams] of [
    ['no token (connection_init payload {})', {}],
    ['a wrong token', { authorization: 'Bearer not-a-session-token-of-this-server' }],
  ]) {
    test(label, async (t) => {
      const op = subscriptions.find((o) => o.name === 'ControlTowerLive');
      assert.ok(op, 'no saved ControlTowerLive subscription');
      const ws = wsClient(connectionParams, label);
      const sub = subscribe(ws, payloadOf(op));
      try {
        const end = await withTimeout(sub.ended, 10_000, () => `the sink did not end within 10 s${ws.describeLog()}`);
        const close = await ws.waitClosed(2_000);
        assert.equal(close.code, 4403, `connection_init refused: close code${ws.describeLog()}`);
        assert.equal(end.kind, 'error', `the sink gets an error${ws.describeLog()}`);
        assert.equal(sub.results.length, 0, `nothing is pushed: ${JSON.stringify(sub.results.map((r) => r.result))}${ws.describeLog()}`);
        t.diagnostic(`closed ${close.code} ${JSON.stringify(close.reason)}; the sink's error: ${sub.describeError(end.error)}`);
      } finally {
        if (!sub.end) sub.unsubscribe();
        await ws.client.dispose();
      }
    });
  }
});

// --- dashboards (SPEC §9c) -------------------------------------------------------------

/** Runs the server's CLI on its database (tokens are made and revoked there). */
function cli(...args) {
  const bin = process.env.CT_BIN;
  const database = process.env.CT_DATABASE_URL;
  assert.ok(bin && database, 'CT_BIN and CT_DATABASE_URL are not set: run this through tests/clients/run.sh');
  return execFileSync(bin, ['--database-url', database, ...args], {
    encoding: 'utf8',
    env: { ...process.env, RUST_LOG: 'warn' },
  });
}

const METRICS_URL = URL_.replace(/\/graphql$/, '/metrics');

async function liveExecutions() {
  const text = await (await fetch(METRICS_URL)).text();
  const line = text.split('\n').find((l) => l.startsWith('control_tower_live_executions_total '));
  return line ? Number(line.split(' ')[1]) : 0;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('a live query: three dashboards of one document share one execution a tick', async (t) => {
  const query = 'subscription { live(everySeconds: 1) { settings { maxPageSize } controlTower(window: LAST_1H) { runs { total } } } }';
  const clients = [0, 1, 2].map((i) => wsClient(AUTH, `dashboard ${i}`));
  const subs = clients.map((ws) => subscribe(ws, { query }));
  try {
    for (const [i, sub] of subs.entries()) {
      const first = await sub.nextResult(1, FIRST_PUSH_MS);
      assert.equal(first.result.errors, undefined, `first push${clients[i].describeLog()}`);
      assert.equal(typeof first.result.data.live.settings.maxPageSize, 'number');
    }
    const before = await liveExecutions();
    const started = Date.now();
    await sleep(3_000);
    const ran = (await liveExecutions()) - before;
    const ticks = Math.ceil((Date.now() - started) / 1000) + 1;
    t.diagnostic(`${ran} executions in ${((Date.now() - started) / 1000).toFixed(1)} s for 3 subscribers`);
    assert.ok(ran >= 1 && ran <= ticks, `${ran} executions: one a tick (at most ${ticks}), not one per subscriber`);
  } finally {
    for (const sub of subs) sub.unsubscribe();
    for (const ws of clients) await ws.client.dispose();
  }
});

test('a dashboard token runs only its trusted document, and revoking it closes its socket', async (t) => {
  const op = subscriptions.find((o) => o.name === 'WallboardLive');
  assert.ok(op, 'no saved WallboardLive subscription');
  const dir = mkdtempSync(join(tmpdir(), 'ct-token-'));
  const file = join(dir, 'wallboard.graphql');
  writeFileSync(file, op.document);
  const name = `ci-wallboard-${process.pid}`;
  const token = cli('operator', 'token', 'create', '--name', name, '--capability', 'console.view', '--expires-in', '1', '--document', file).trim();
  assert.match(token, /^ctd_/);
  assert.ok(cli('operator', 'token', 'list').includes(`${name}\tconsole.view\texpires `));
  const authorization = `Bearer ${token}`;

  const other = await post('{ settings { maxPageSize } }', undefined, authorization);
  assert.equal(other.status, 403, `another document over HTTP${other.what}`);
  assert.equal(other.body?.errors?.[0]?.extensions?.code, 'FORBIDDEN', other.what);

  const ws = wsClient({ authorization }, 'with the dashboard token');
  const sub = subscribe(ws, { query: op.document, variables: { every: 1 } });
  const refused = subscribe(ws, payloadOf(subscriptions.find((o) => o.name === 'ControlTowerLive')));
  try {
    const first = await sub.nextResult(1, FIRST_PUSH_MS);
    assert.equal(first.result.errors, undefined, `the trusted document runs${ws.describeLog()}`);
    assert.ok(first.result.data.live.controlTower, `data.live.controlTower${ws.describeLog()}`);
    // Another document is answered with one FORBIDDEN error, then completed.
    const answer = await refused.nextResult(1, FIRST_PUSH_MS);
    assert.equal(answer.result.data ?? null, null, ws.describeLog());
    assert.equal(answer.result.errors?.[0]?.extensions?.code, 'FORBIDDEN', ws.describeLog());
    const end = await withTimeout(refused.ended, 10_000, () => `the untrusted subscription did not end${ws.describeLog()}`);
    assert.equal(end.kind, 'complete', `the refused subscription completes${ws.describeLog()}`);

    const revokedAt = Date.now();
    cli('operator', 'token', 'revoke', '--name', name);
    const close = await ws.waitClosed(8_000);
    assert.equal(close.code, 4401, `a revoked token's socket closes with 4401${ws.describeLog()}`);
    assert.ok(close.at - revokedAt < 5_500, `closed ${(close.at - revokedAt) / 1000} s after the revocation`);
    t.diagnostic(`closed ${close.code} ${JSON.stringify(close.reason)} ${((close.at - revokedAt) / 1000).toFixed(1)} s after the revocation`);
  } finally {
    if (!sub.end) sub.unsubscribe();
    await ws.client.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the audit tail sends a new entry once it is recorded', async () => {
  const ws = wsClient(AUTH, 'the audit tail');
  const sub = subscribe(ws, { query: 'subscription { auditLogTail { cursor node { action status } } }' });
  try {
    await sleep(1_500);
    // A failed login is audited.
    await post('mutation { login(email: "nobody+tail@example.invalid", password: "not-the-password") { token } }');
    const pushed = await sub.nextResult(1, FIRST_PUSH_MS);
    assert.equal(pushed.result.errors, undefined, ws.describeLog());
    assert.match(pushed.result.data.auditLogTail.node.action, /^platform\.auth\./, ws.describeLog());
    assert.equal(typeof pushed.result.data.auditLogTail.cursor, 'string');
  } finally {
    sub.unsubscribe();
    await ws.client.dispose();
  }
});
