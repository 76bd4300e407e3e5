// Shared helpers for the client tests: the server's address and token, the saved
// operations (read at run time from playground/), the variables each one needs, and a
// fetch that records what the clients actually send.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, visit } from 'graphql';

export const HERE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(HERE, '..', '..');
export const OPERATIONS_DIR = join(REPO, 'playground', 'operations');
export const FRAGMENTS_DIR = join(REPO, 'playground', 'fragments');
export const SCHEMA_FILE = join(REPO, 'schema.graphql');

export const URL_ = requiredEnv('CT_URL');
export const TOKEN = requiredEnv('CT_TOKEN');
export const AUTH = { authorization: `Bearer ${TOKEN}` };

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these tests through tests/clients/run.sh`);
  }
  return value;
}

export const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

/** `.graphql` files of a directory, sorted; none when the directory does not exist. */
function graphqlFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.graphql'))
    .sort()
    .map((name) => join(dir, name));
}

/** Every fragment definition of playground/fragments (if any), by name, with its source text. */
export function loadFragments() {
  const fragments = new Map();
  for (const file of graphqlFiles(FRAGMENTS_DIR)) {
    const text = readFileSync(file, 'utf8');
    for (const def of parse(text).definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) {
        fragments.set(def.name.value, {
          file,
          fileText: text,
          fromFragmentsDir: true,
          node: def,
          source: text.slice(def.loc.start, def.loc.end),
        });
      }
    }
  }
  return fragments;
}

/** The names of the fragments a node spreads. */
function spreads(node) {
  const names = new Set();
  visit(node, {
    FragmentSpread(spread) {
      names.add(spread.name.value);
    },
  });
  return names;
}

/**
 * Appends to `text` the definitions of every fragment that `node` spreads (transitively)
 * and that `text` does not define itself.
 */
export function withFragments(text, node, fragments) {
  const defined = new Set(
    parse(text)
      .definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => d.name.value),
  );
  const needed = [];
  const queue = [...spreads(node)];
  while (queue.length) {
    const name = queue.shift();
    if (defined.has(name)) continue;
    const fragment = fragments.get(name);
    if (!fragment) throw new Error(`fragment ${name} is spread but defined nowhere`);
    defined.add(name);
    needed.push(fragment.source);
    queue.push(...spreads(fragment.node));
  }
  return needed.length ? `${text}\n\n${needed.join('\n\n')}\n` : text;
}

/**
 * A saved file's document as the server knows it (and preloads under its sha256, see
 * the repository README, "The playground"): the file's exact text, then the text of each
 * playground/fragments file defining a fragment it spreads (transitively), in file-name
 * order, each after a newline.
 */
function savedDocument(fileText, parsed, fragments) {
  const local = new Set(
    parsed.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => d.name.value),
  );
  const files = new Map();
  const seen = new Set();
  const queue = [...spreads(parsed)];
  while (queue.length) {
    const name = queue.shift();
    if (seen.has(name) || local.has(name)) continue;
    seen.add(name);
    const fragment = fragments.get(name);
    if (!fragment) throw new Error(`fragment ${name} is spread but defined nowhere`);
    if (fragment.fromFragmentsDir) files.set(fragment.file, fragment.fileText);
    queue.push(...spreads(fragment.node));
  }
  return [fileText, ...[...files.keys()].sort().map((file) => files.get(file))].join('\n');
}

/**
 * The saved operations, one entry per operation:
 * - `file`, `fileText`: the file and its exact contents;
 * - `fileDocument`: the whole file plus the external fragments it spreads (what a
 *   playground sends, with `operationName` to pick one of several operations);
 * - `savedDocument`: the file, then the fragment files it needs: the document the server
 *   knows by its sha256 from the first request (persisted queries);
 * - `document`: this operation alone (plus the fragments it spreads): the file's text when
 *   the file holds only this operation, else the operation's own source text;
 * - `name`, `type` (query/mutation/subscription), `node`, `rootFields` (response keys of
 *   the root).
 */
export function loadOperations() {
  const fragments = loadFragments();
  const files = graphqlFiles(OPERATIONS_DIR).map((file) => {
    const fileText = readFileSync(file, 'utf8');
    const parsed = parse(fileText);
    for (const def of parsed.definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) {
        fragments.set(def.name.value, { file, node: def, source: fileText.slice(def.loc.start, def.loc.end) });
      }
    }
    return { file, fileText, parsed };
  });
  const operations = [];
  for (const { file, fileText, parsed } of files) {
    const ops = parsed.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const fileDocument = withFragments(fileText, parsed, fragments);
    const saved = savedDocument(fileText, parsed, fragments);
    for (const node of ops) {
      const ownText =
        ops.length === 1 ? fileText : fileText.slice(node.loc.start, node.loc.end) + '\n';
      operations.push({
        file,
        fileName: file.slice(OPERATIONS_DIR.length + 1),
        fileText,
        fileDocument,
        savedDocument: saved,
        fileOperationCount: ops.length,
        name: node.name?.value,
        type: node.operation,
        node,
        document: withFragments(ownText, node, fragments),
        rootFields: rootFields(node),
      });
    }
  }
  if (!operations.length) throw new Error(`no operations found in ${OPERATIONS_DIR}`);
  return operations;
}

/** Response keys of the root selection set (fields only; aliases win). */
export function rootFields(node) {
  return node.selectionSet.selections
    .filter((s) => s.kind === Kind.FIELD)
    .map((s) => (s.alias ?? s.name).value);
}

let loginAttempt = 0;

/**
 * The variables of an operation: every variable the operation declares and this suite
 * knows a value for. Login gets wrong credentials, each attempt a new e-mail address
 * (the server throttles repeated failures for one address). `tenantId` and `runId` are
 * global ids found at start-up (discoverContext); a subscription's `every` is 1 second.
 */
export function variablesFor(op, ctx) {
  const known = {
    workspace: () => ctx.workspace,
    slug: () => ctx.workspace,
    externalId: () => ctx.externalId,
    tenantId: () => ctx.tenantId,
    runId: () => ctx.runId,
    note: () => `looked at by the client compatibility tests (tests/clients, pid ${process.pid})`,
    every: () => 1,
    everySeconds: () => 1,
    email: () => `nobody+ci-${process.pid}-${++loginAttempt}@example.invalid`,
    password: () => 'not-the-password',
    reason: () => 'client compatibility tests (tests/clients) in CI',
    minutes: () => 5,
    durationMinutes: () => 5,
    window: () => 'LAST_24H',
  };
  const variables = {};
  for (const def of op.node.variableDefinitions ?? []) {
    const name = def.variable.name.value;
    if (known[name]) {
      variables[name] = known[name]();
    } else if (def.type.kind === Kind.NON_NULL_TYPE && !def.defaultValue) {
      throw new Error(
        `${op.fileName}: operation ${op.name} needs $${name}, which tests/clients/lib/common.mjs does not know: add it there`,
      );
    }
  }
  return variables;
}

/** Whether an operation is the login mutation (expected to fail: wrong credentials). */
export const isLogin = (op) => op.type === 'mutation' && op.rootFields.includes('login');

/**
 * Whether an operation is a subscription. Subscriptions are served only over the
 * WebSocket at /graphql/ws (subscriptions.test.mjs); over HTTP the server refuses them
 * (BAD_USER_INPUT), so the HTTP clients skip them.
 */
export const isSubscription = (op) => op.type === 'subscription';

/** Why the HTTP tests skip a subscription (shown by the test reporter). */
export const SUBSCRIPTION_SKIP = 'a subscription: served over the WebSocket at /graphql/ws only, covered by subscriptions.test.mjs';

/** The WebSocket URL of subscriptions: the /graphql URL with ws(s): and /ws appended. */
export const WS_URL = (() => {
  const u = new URL(URL_);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/$/, '')}/ws`;
  return u.href;
})();

/**
 * Real ids of the demo data: a workspace slug, a tenant's external id and global id,
 * and an operation run's global id.
 */
export async function discoverContext() {
  const query =
    '{ workspaces(first: 1) { nodes { slug } } tenants(first: 1) { nodes { id externalId } } operationRuns(first: 1) { nodes { id } } }';
  const response = await fetch(URL_, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify({ query }),
  });
  const body = await response.json();
  const workspace = body?.data?.workspaces?.nodes?.[0]?.slug;
  const externalId = body?.data?.tenants?.nodes?.[0]?.externalId;
  const tenantId = body?.data?.tenants?.nodes?.[0]?.id;
  const runId = body?.data?.operationRuns?.nodes?.[0]?.id;
  if (!workspace || !externalId || !tenantId || !runId) {
    throw new Error(
      `no demo workspace/tenant/operation run found:\n  request: POST ${URL_} ${query}\n  response: HTTP ${response.status} ${JSON.stringify(body)}`,
    );
  }
  return { workspace, externalId, tenantId, runId };
}

/**
 * A fetch that records every request's method, URL and body, and can drop
 * `operationName` from what a client sends (to run the same operation "without
 * operationName" through clients that always derive it from the document).
 */
export function recordingFetch({ stripOperationName = false, extraHeaders } = {}) {
  const calls = [];
  const recorder = async (input, init = {}) => {
    let url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET')).toUpperCase();
    let body = init.body;
    if (stripOperationName) {
      if (method === 'GET') {
        const u = new URL(url);
        u.searchParams.delete('operationName');
        url = u.href;
      } else if (typeof body === 'string') {
        const json = JSON.parse(body);
        delete json.operationName;
        body = JSON.stringify(json);
      }
    }
    let headers = init.headers;
    if (extraHeaders) {
      headers = new Headers(init.headers);
      for (const [k, v] of Object.entries(extraHeaders)) headers.set(k, v);
    }
    calls.push({ method, url, body: typeof body === 'string' ? body : undefined });
    return fetch(url, { ...init, method, headers, body });
  };
  recorder.calls = calls;
  recorder.methods = () => calls.map((c) => c.method);
  recorder.reset = () => {
    calls.length = 0;
  };
  return recorder;
}

/** What a recorded request sent, for failure messages. */
export function describeCalls(calls) {
  return calls
    .map((c) => `${c.method} ${decodeURIComponent(c.url)}${c.body ? `\n    body: ${c.body}` : ''}`)
    .join('\n  ');
}

// Extra documents, beyond the saved operations.

/** Extra documents of tests/clients/documents (also fed to codegen). */
const extra = (name) => readFileSync(join(HERE, 'documents', name), 'utf8');

/** A named fragment on Tenant, spread twice, with both custom scalars. */
export const FRAGMENT_DOCUMENT = extra('tenant-cards.graphql');

/** @include/@skip driven by variable defaults (issue contract item 4). */
export const INCLUDE_DEFAULT_DOCUMENT = /* GraphQL */ `
  query ($x: Boolean = true) {
    settings {
      maxPageSize
      staleCheckHours @include(if: $x)
    }
  }
`;

/** @include and @skip, named, with defaults that variables may override. */
export const DIRECTIVES_DOCUMENT = extra('settings-directives.graphql');

export function assertTenantCard(assert, card, where) {
  assert.ok(card && typeof card === 'object', `${where}: a Tenant object`);
  for (const key of ['id', 'externalId', 'name', 'status', 'createdAt']) {
    assert.equal(typeof card[key], 'string', `${where}: ${key} is a string (got ${JSON.stringify(card[key])})`);
  }
  assert.ok(!Number.isNaN(Date.parse(card.createdAt)), `${where}: createdAt is RFC 3339 (got ${card.createdAt})`);
  assert.ok('metadata' in card, `${where}: metadata is present`);
}
