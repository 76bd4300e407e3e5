// Drives the playground in a real, headless Chromium (Debian's /usr/bin/chromium through
// playwright-core): signs in (form or demo token), picks the saved operation
// control-tower.graphql, runs it and waits for its result, while checking that the page
// asks no other host for anything and that its Content-Security-Policy is never violated.
//
//   CT_BASE_URL=http://127.0.0.1:PORT [CT_EMAIL=... CT_PASSWORD=...] node browser-test.mjs
//
// It also subscribes with control-tower-live.graphql over graphql-ws, then composes a query
// in the GraphiQL Explorer (tenants > nodes > name, ticked in a new tab) and runs it. When
// the page starts signed in (serve --demo on loopback) and CT_EMAIL/CT_PASSWORD are set, it
// then signs out, signs in again through the form, runs the overview once more and signs out.
// Optional: CHROMIUM (browser path), CT_SCREENSHOT (save a screenshot on success too, and
// one of the Explorer's query and result next to it, `-explorer.png`).
// Exits 0 on success; otherwise prints what failed, saves a screenshot and exits 1.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = new URL(process.env.CT_BASE_URL ?? fail('set CT_BASE_URL, e.g. http://127.0.0.1:8080'));
const email = process.env.CT_EMAIL;
const password = process.env.CT_PASSWORD;
const TIMEOUT = 30_000;

const offHost = []; // requests to anything but base's host:port
const violations = []; // securitypolicyviolation events
const consoleProblems = []; // console errors and CSP messages, uncaught page errors
const log = (message) => console.log(`browser-test: ${message}`);

function fail(message) {
  console.error(`browser-test: FAILED: ${message}`);
  process.exit(1);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  // Every host name but 127.0.0.1 fails to resolve: the page must need no other host.
  args: ['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', '--no-sandbox'],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(TIMEOUT);

page.on('request', (request) => {
  const url = new URL(request.url());
  if (url.protocol === 'data:' || url.protocol === 'blob:') return;
  if (url.host !== base.host) offHost.push(`${request.method()} ${request.url()}`);
});
page.on('websocket', (socket) => {
  if (new URL(socket.url()).host !== base.host) offHost.push(`WebSocket ${socket.url()}`);
});
page.on('console', (message) => {
  const text = message.text();
  if (message.type() === 'error' || /Content[- ]Security[- ]Policy/i.test(text)) {
    const where = message.location()?.url;
    // The browser asks for /favicon.ico by itself; the page does not link one.
    if (where && new URL(where).pathname === '/favicon.ico') return;
    consoleProblems.push(`console.${message.type()}: ${text}${where ? ` (${where})` : ''}`);
  }
});
page.on('pageerror', (error) => consoleProblems.push(`uncaught: ${error.message}`));

// Injected by the DevTools protocol, so the page's CSP does not apply to it.
await page.exposeBinding('__ctReportViolation', (_source, violation) => violations.push(violation));
await page.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (event) => {
    window.__ctReportViolation(
      `${event.effectiveDirective} blocked ${event.blockedURI || '(inline)'}` +
        (event.sourceFile ? ` at ${event.sourceFile}:${event.lineNumber}` : '') +
        (event.sample ? ` sample: ${event.sample}` : ''),
    );
  });
});

async function step(name, action) {
  try {
    return await action();
  } catch (error) {
    const shot = join(tmpdir(), `ct-playground-failure-${Date.now()}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    report();
    await browser.close();
    fail(`${name}: ${error.message.split('\n')[0]}\n  screenshot: ${shot}`);
  }
}

function report() {
  for (const line of offHost) console.error(`  off-host request: ${line}`);
  for (const line of violations) console.error(`  CSP violation: ${line}`);
  for (const line of consoleProblems) console.error(`  ${line}`);
}

function checkClean(name) {
  if (offHost.length || violations.length || consoleProblems.length) {
    throw new Error(
      `${name}: ${offHost.length} off-host request(s), ${violations.length} CSP violation(s), ` +
        `${consoleProblems.length} console error(s)`,
    );
  }
}

await step('load the page', async () => {
  const response = await page.goto(new URL('/', base).href, { waitUntil: 'load' });
  if (!response.ok()) throw new Error(`GET / answered ${response.status()}`);
  const csp = response.headers()['content-security-policy'];
  if (!csp) throw new Error('GET / has no Content-Security-Policy header');
  log(`GET / ${response.status()}, CSP: ${csp}`);
});

let signedInByForm = false;
await step('sign in', async () => {
  const signIn = page.locator('#sign-in');
  const viewer = page.locator('#viewer');
  await signIn.or(viewer).first().waitFor();
  if (await signIn.isVisible()) {
    if (!email || !password) throw new Error('the sign-in form is shown: set CT_EMAIL and CT_PASSWORD');
    log(`signing in through the form as ${email}`);
    await signIn.locator('input[name=email]').fill(email);
    await signIn.locator('input[name=password]').fill(password);
    await signIn.locator('button[type=submit]').click();
    signedInByForm = true;
  } else {
    log('no sign-in form: signed in with the demo token');
  }
  await page.getByText(/^Signed in as /).waitFor();
  log(await viewer.innerText());
});

await step('the token stays in this tab', async () => {
  const storage = await page.evaluate(() => ({
    session: sessionStorage.getItem('control-tower.token'),
    local: JSON.stringify({ ...localStorage }),
    cookie: document.cookie,
  }));
  if (!storage.session) throw new Error('no token in sessionStorage');
  if (storage.local.includes(storage.session)) throw new Error('the token is in localStorage');
  if ((await context.cookies()).length || storage.cookie) throw new Error('the page has cookies');
});

// Waits until GraphiQL has read the query editor's text (`expected`, when given) as an
// operation of `operationType`. It reads the text 100 ms after a change (debounced): until
// then its operations and the operation name a run sends are those of the previous text, and
// a run too early asks for an operation the document no longer has (BAD_USER_INPUT).
function editorRead(operationType, expected) {
  return page.waitForFunction(
    ([type, want]) => {
      const editor = document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror;
      const text = editor?.getValue();
      if (!text || (want !== null && text !== want)) return false;
      if (editor.documentAST?.loc?.source?.body !== text) return false;
      return (editor.operations ?? []).some(
        (operation) =>
          operation.operation === type && (operation.name?.value ?? null) === (editor.operationName ?? null),
      );
    },
    [operationType, expected ?? null],
  );
}

// Picks a saved operation and waits until GraphiQL has read it.
async function pick(file, operationType) {
  const option = page.locator(`#saved-operations option[data-operation="${file}"]`);
  await option.waitFor({ state: 'attached' });
  const text = await page.evaluate(
    (name) =>
      JSON.parse(document.getElementById('control-tower-config').textContent).operations.find(
        (operation) => operation.file === name,
      )?.document,
    file,
  );
  if (!text) throw new Error(`the page's configuration has no operation ${file}`);
  await page.selectOption('#saved-operations', file);
  await editorRead(operationType, text);
}

// Clicks GraphiQL's run button and waits for `"stuckTotal": <number>` in the result pane.
async function runUntilStuckTotal() {
  await page.locator('.graphiql-execute-button').click();
  const handle = await page.waitForFunction(() => {
    const text = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror?.getValue() ?? '';
    return /"stuckTotal":\s*\d+/.test(text) && text;
  });
  return /"stuckTotal":\s*\d+/.exec(await handle.jsonValue())[0];
}

await step('pick control-tower.graphql', () => pick('control-tower.graphql', 'query'));
await step('run it', async () => log(`result: ${await runUntilStuckTotal()}`));

await step('pick control-tower-live.graphql', () => pick('control-tower-live.graphql', 'subscription'));
await step('subscribe', async () => {
  const opened = page.waitForEvent('websocket');
  log(`subscription: ${await runUntilStuckTotal()} over ${(await opened).url()}`);
  await page.locator('.graphiql-execute-button').click(); // stop
});

// The GraphiQL Explorer: open at sign-in; its sidebar button closes and reopens it. In a new
// tab with an empty editor it shows an empty `query MyQuery`; ticking tenants > nodes > name
// there writes that query into the editor, which then runs without errors.
const queryText = () =>
  page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue());
// A field of the Explorer's tree, first under `parent`: its row (a checkbox, or an arrow for
// an object), and once ticked, the block of the row and its subfields.
const explorerRow = (parent, name) => parent.locator(`.graphiql-explorer-node.graphiql-explorer-${name}`).first();
const explorerBlock = (parent, name) =>
  parent.locator(`div.graphiql-explorer-${name}:has(> .graphiql-explorer-node.graphiql-explorer-${name})`).first();
const tick = (parent, name) => explorerRow(parent, name).locator(`:scope > span[data-field-name="${name}"]`).click();

await step('the Explorer', async () => {
  const root = page.locator('.graphiql-explorer-root');
  const hide = page.locator('.graphiql-sidebar button[aria-label="Hide GraphiQL Explorer"]');
  await hide.waitFor(); // open from the start
  await root.waitFor();
  await hide.click();
  await root.waitFor({ state: 'detached' });
  await page.locator('.graphiql-sidebar button[aria-label="Show GraphiQL Explorer"]').click();
  await root.waitFor();

  await page.locator('.graphiql-tab-add').click();
  await page.locator('.graphiql-query-editor .CodeMirror').click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Backspace');
  if ((await queryText()).trim()) throw new Error('the query editor of the new tab is not empty');
  const operation = root.locator('#query-MyQuery'); // the Explorer has read the empty editor
  await operation.waitFor();

  await tick(operation, 'tenants');
  const tenants = explorerBlock(operation, 'tenants');
  await tick(tenants, 'nodes');
  const nodes = explorerBlock(tenants, 'nodes');
  await tick(nodes, 'name');
  await explorerRow(nodes, 'name').locator(':scope > span[data-field-name="name"] svg path').waitFor(); // ticked
  const composed = /\btenants\s*{\s*nodes\s*{\s*name\s*}\s*}/;
  await page.waitForFunction(
    (source) =>
      new RegExp(source).test(document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()),
    composed.source,
  );
  const text = await queryText();
  const query = text.replace(/\s+/g, ' ').trim();
  if (query !== 'query MyQuery { tenants { nodes { name } } }') throw new Error(`the Explorer wrote ${query}`);
  await editorRead('query', text);

  await page.locator('.graphiql-execute-button').click();
  const handle = await page.waitForFunction(() => {
    const result = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror?.getValue() ?? '';
    return /"tenants"|"errors"/.test(result) && result;
  });
  const answer = JSON.parse(await handle.jsonValue());
  if (answer.errors) throw new Error(`the composed query failed: ${JSON.stringify(answer.errors)}`);
  const names = answer.data?.tenants?.nodes?.map((tenant) => tenant.name) ?? [];
  if (!names.length || names.some((name) => typeof name !== 'string')) {
    throw new Error(`the composed query answered ${JSON.stringify(answer.data)}`);
  }
  log(`explorer: ticked tenants > nodes > name, wrote ${query}; ran it: ${names.length} tenants (${JSON.stringify(names[0])}, …)`);
  if (process.env.CT_SCREENSHOT) {
    await page.screenshot({ path: process.env.CT_SCREENSHOT.replace(/(\.png)?$/i, '-explorer.png') });
  }
  checkClean('the Explorer');
});

async function signOut() {
  await page.locator('#sign-out').click();
  await page.locator('#sign-in').waitFor();
  if (await page.evaluate(() => sessionStorage.getItem('control-tower.token'))) {
    throw new Error('the token is still in sessionStorage after signing out');
  }
  log('signed out');
}

if (!signedInByForm && email && password) {
  await step('sign out of the demo session', signOut);
  await step('sign in through the form', async () => {
    const signIn = page.locator('#sign-in');
    await signIn.locator('input[name=email]').fill(email);
    await signIn.locator('input[name=password]').fill(password);
    await signIn.locator('button[type=submit]').click();
    await page.getByText(/^Signed in as /).waitFor();
    log(`signed in through the form as ${email}`);
    signedInByForm = true;
  });
  await step('pick control-tower.graphql again', () => pick('control-tower.graphql', 'query'));
  await step('run it again', async () => log(`result: ${await runUntilStuckTotal()}`));
}

if (signedInByForm) {
  await step('sign out', signOut);
}

await step('no off-host request, CSP violation or console error', async () => {
  await page.waitForTimeout(500); // let late reports arrive
  checkClean('the page');
});
if (process.env.CT_SCREENSHOT) await page.screenshot({ path: process.env.CT_SCREENSHOT });
await browser.close();
log('passed: signed in, ran control-tower.graphql, composed and ran a query in the Explorer, no off-host request, no CSP violation');
