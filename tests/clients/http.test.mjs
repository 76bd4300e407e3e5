// The GraphQL-over-HTTP contract as plain `fetch` sees it, one request at a time, so a
// failure names the exact request and response: operationName optional, GET parameters,
// mutations refused over GET, introspection without a session, @include defaults,
// automatic persisted queries, ETag/304, field errors, response media types.
// Subscriptions are served over the WebSocket only (subscriptions.test.mjs): here they
// are listed as skipped.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { readFileSync } from 'node:fs';

import { buildClientSchema, buildSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema } from 'graphql';

import {
  AUTH,
  INCLUDE_DEFAULT_DOCUMENT,
  SCHEMA_FILE,
  SUBSCRIPTION_SKIP,
  URL_,
  discoverContext,
  isLogin,
  isSubscription,
  loadOperations,
  sha256,
  variablesFor,
} from './lib/common.mjs';

const operations = loadOperations();
const ctx = await discoverContext();

/** One request; returns everything needed to assert on it and to describe it. */
async function send({ method = 'POST', params, headers = {}, auth = true }) {
  const allHeaders = { ...(auth ? AUTH : {}), ...headers };
  let url = URL_;
  const init = { method, headers: allHeaders };
  if (method === 'GET') {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined) continue;
      search.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    url = `${URL_}?${search}`;
  } else {
    init.headers = { 'content-type': 'application/json', ...allHeaders };
    init.body = JSON.stringify(params);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const shownHeaders = ['content-type', 'cache-control', 'etag', 'vary']
    .filter((h) => response.headers.has(h))
    .map((h) => `${h}: ${response.headers.get(h)}`)
    .join('; ');
  const what =
    `\n  request: ${method} ${method === 'GET' ? decodeURIComponent(url) : URL_}` +
    (init.body ? `\n  body: ${init.body.length > 600 ? init.body.slice(0, 600) + '…' : init.body}` : '') +
    (Object.keys(headers).length ? `\n  headers: ${JSON.stringify(headers)}` : '') +
    `\n  response: HTTP ${response.status} (${shownHeaders}) ${text.length > 800 ? text.slice(0, 800) + '…' : text}`;
  return { status: response.status, headers: response.headers, body, text, what };
}

function assertData(op, r) {
  if (isLogin(op)) {
    assert.equal(r.body?.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', `Login with wrong credentials${r.what}`);
    return;
  }
  assert.equal(r.status, 200, `HTTP status${r.what}`);
  assert.equal(r.body?.errors, undefined, `no errors${r.what}`);
  for (const key of op.rootFields) assert.ok(r.body?.data && key in r.body.data, `data.${key}${r.what}`);
}

// Variants outside, operations inside: each variant runs the operations in file order,
// so break-glass is entered and then exited before the next variant enters it again.
describe('saved operations (plain fetch)', () => {
  const variants = [
    {
      label: 'POST the whole file with operationName',
      params: (op) => ({ query: op.fileDocument, operationName: op.name, variables: variablesFor(op, ctx) }),
    },
    {
      label: 'POST without operationName',
      only: (op) => op.fileOperationCount === 1,
      params: (op) => ({ query: op.fileDocument, variables: variablesFor(op, ctx) }),
    },
    {
      label: 'GET with query, operationName, variables, extensions',
      get: true,
      params: (op) => ({ query: op.fileDocument, operationName: op.name, variables: variablesFor(op, ctx), extensions: {} }),
    },
    {
      label: 'GET without operationName',
      get: true,
      only: (op) => op.fileOperationCount === 1,
      params: (op) => ({ query: op.fileDocument, variables: variablesFor(op, ctx) }),
    },
  ];
  for (const variant of variants) {
    describe(variant.label, () => {
      for (const op of operations) {
        if (variant.only && !variant.only(op)) continue;
        if (isSubscription(op)) {
          test(`${op.name} (${op.fileName})`, { skip: SUBSCRIPTION_SKIP }, () => {});
          continue;
        }
        if (variant.get && op.type !== 'query') {
          test(`refused with 405: ${op.name} (${op.fileName})`, async () => {
            const r = await send({ method: 'GET', params: variant.params(op) });
            assert.equal(r.status, 405, `HTTP status${r.what}`);
            assert.ok(r.body?.errors?.length, `an error says why${r.what}`);
          });
          continue;
        }
        test(`${op.name} (${op.fileName})`, async () => {
          assertData(op, await send({ method: variant.get ? 'GET' : 'POST', params: variant.params(op) }));
        });
      }
    });
  }
});

describe('introspection', () => {
  for (const [label, options] of [
    ['graphql-js getIntrospectionQuery()', undefined],
    [
      'getIntrospectionQuery with every option',
      { descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true },
    ],
  ]) {
    for (const method of ['POST', 'GET']) {
      test(`${label} by ${method}, no session`, async () => {
        const r = await send({ method, auth: false, params: { query: getIntrospectionQuery(options), operationName: 'IntrospectionQuery' } });
        assert.equal(r.status, 200, `HTTP status${r.what}`);
        assert.equal(r.body?.errors, undefined, `no errors${r.what}`);
        const schema = buildClientSchema(r.body.data);
        assert.ok(schema.getQueryType(), 'a query type');
        assert.ok(schema.getType('DateTime') && schema.getType('JSON'), 'the custom scalars');
      });
    }
  }
});

test('introspection (descriptions, specifiedByURL, repeatable, deprecated args) matches schema.graphql exactly', async () => {
  const query = getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    inputValueDeprecation: true,
  });
  const r = await send({ auth: false, params: { query } });
  assert.equal(r.body?.errors, undefined, `no errors${r.what}`);
  const print = (schema) => printSchema(lexicographicSortSchema(schema));
  const served = print(buildClientSchema(r.body.data));
  const committed = print(buildSchema(readFileSync(SCHEMA_FILE, 'utf8')));
  assert.equal(served, committed, 'the served schema (introspection) differs from schema.graphql');
});

test('__schema.description is the schema description of schema.graphql (none: null)', async () => {
  const committed = buildSchema(readFileSync(SCHEMA_FILE, 'utf8')).description ?? null;
  const r = await send({ auth: false, params: { query: '{ __schema { description } }' } });
  assert.equal(r.body?.errors, undefined, `no errors${r.what}`);
  assert.equal(r.body?.data?.__schema?.description, committed, `__schema.description${r.what}`);
});

describe('directives', () => {
  for (const method of ['POST', 'GET']) {
    test(`@include with a variable default, by ${method}`, async () => {
      const r = await send({ method, params: { query: INCLUDE_DEFAULT_DOCUMENT } });
      assert.equal(r.body?.errors, undefined, `no errors${r.what}`);
      assert.equal(typeof r.body?.data?.settings?.staleCheckHours, 'number', `settings.staleCheckHours${r.what}`);
      assert.equal(typeof r.body?.data?.settings?.maxPageSize, 'number', `settings.maxPageSize${r.what}`);
    });
  }
});

describe('automatic persisted queries', () => {
  const query = `query ApqProbe${process.pid} { settings { maxPageSize } }`;
  const hash = sha256(query);
  const persisted = (sha256Hash) => ({ persistedQuery: { version: 1, sha256Hash } });

  test('an unknown hash alone: PersistedQueryNotFound, HTTP 200', async () => {
    const r = await send({ params: { extensions: persisted(hash) } });
    assert.equal(r.status, 200, `HTTP status${r.what}`);
    assert.equal(r.body?.errors?.[0]?.message, 'PersistedQueryNotFound', `errors[0].message${r.what}`);
    assert.equal(r.body?.errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_FOUND', `errors[0].extensions.code${r.what}`);
  });

  test('an unknown hash alone by GET: PersistedQueryNotFound, HTTP 200', async () => {
    const r = await send({ method: 'GET', params: { extensions: persisted(sha256(query + ' ')) } });
    assert.equal(r.status, 200, `HTTP status${r.what}`);
    assert.equal(r.body?.errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_FOUND', `errors[0].extensions.code${r.what}`);
  });

  test('a query with a hash that does not match it: BAD_USER_INPUT', async () => {
    const r = await send({ params: { query, extensions: persisted(sha256('something else')) } });
    assert.equal(r.body?.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `errors[0].extensions.code${r.what}`);
  });

  test('hash and query register it; then the hash alone works by POST and by GET', async () => {
    const register = await send({ params: { query, extensions: persisted(hash) } });
    assert.equal(register.body?.errors, undefined, `no errors${register.what}`);
    assert.equal(typeof register.body?.data?.settings?.maxPageSize, 'number', `data${register.what}`);
    const post = await send({ params: { extensions: persisted(hash) } });
    assert.equal(post.body?.errors, undefined, `no errors${post.what}`);
    assert.equal(typeof post.body?.data?.settings?.maxPageSize, 'number', `data${post.what}`);
    const get = await send({ method: 'GET', params: { extensions: persisted(hash) } });
    assert.equal(get.body?.errors, undefined, `no errors${get.what}`);
    assert.equal(typeof get.body?.data?.settings?.maxPageSize, 'number', `data${get.what}`);
  });

  describe('saved operations are preloaded (sha256 of the file, then the fragment files it needs)', () => {
    for (const op of operations) {
      if (isSubscription(op)) {
        test(`${op.name} (${op.fileName})`, { skip: SUBSCRIPTION_SKIP }, () => {});
        continue;
      }
      const params = () => ({
        extensions: persisted(sha256(op.savedDocument)),
        ...(op.fileOperationCount > 1 ? { operationName: op.name } : {}),
        variables: variablesFor(op, ctx),
      });
      test(`POST the hash alone: ${op.name} (${op.fileName})`, async () => {
        assertData(op, await send({ params: params() }));
      });
      if (op.type === 'query') {
        test(`GET the hash alone: ${op.name} (${op.fileName})`, async () => {
          assertData(op, await send({ method: 'GET', params: params() }));
        });
      }
    }
  });
});

describe('HTTP caching of GET answers', () => {
  const params = { query: '{ settings { maxPageSize } }' };
  test('ETag, Cache-Control: private, no-cache, Vary; If-None-Match → 304', async () => {
    const first = await send({ method: 'GET', params });
    assert.equal(first.status, 200, `HTTP status${first.what}`);
    const etag = first.headers.get('etag');
    assert.ok(etag, `an ETag${first.what}`);
    const cacheControl = (first.headers.get('cache-control') ?? '').split(',').map((s) => s.trim().toLowerCase());
    assert.ok(cacheControl.includes('private') && cacheControl.includes('no-cache'), `Cache-Control: private, no-cache${first.what}`);
    assert.ok(first.headers.get('vary'), `a Vary header${first.what}`);
    const again = await send({ method: 'GET', params, headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304, `If-None-Match: ${etag}${again.what}`);
    const other = await send({ method: 'GET', params, headers: { 'if-none-match': '"not-the-etag"' } });
    assert.equal(other.status, 200, `a stale If-None-Match gets the answer${other.what}`);
  });
});

describe('field errors', () => {
  test('a failing nullable field is null, with an error at its path; its siblings resolve', async () => {
    const r = await send({
      params: { query: '{ settings { maxPageSize } workspace(id: "V29ya3NwYWNlOjE=", slug: "both-given") { name } }' },
    });
    assert.equal(r.status, 200, `HTTP status${r.what}`);
    assert.equal(r.body?.data?.workspace, null, `data.workspace is null${r.what}`);
    assert.equal(typeof r.body?.data?.settings?.maxPageSize, 'number', `data.settings resolves${r.what}`);
    assert.deepEqual(r.body?.errors?.[0]?.path, ['workspace'], `errors[0].path${r.what}`);
  });
});

describe('response media types', () => {
  const params = { query: '{ settings { maxPageSize } }' };
  test('application/json by default', async () => {
    const r = await send({ params });
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/, `Content-Type${r.what}`);
  });
  test('application/graphql-response+json when Accept asks for it', async () => {
    const r = await send({ params, headers: { accept: 'application/graphql-response+json' } });
    assert.match(r.headers.get('content-type') ?? '', /^application\/graphql-response\+json/, `Content-Type${r.what}`);
  });
});
