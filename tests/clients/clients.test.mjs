// Runs every saved operation (playground/operations, read at run time) through
// graphql-request, @urql/core and @apollo/client, by POST and by GET (queries only),
// with and without `operationName`, plus documents with a named fragment and with
// @include/@skip; then through Apollo's persisted-query link by POST and by GET.
//
// Each client gets a fetch that records what it sends, so every test also checks the
// HTTP method and whether `operationName` went out. urql and Apollo always derive
// `operationName` from the document and have no option to leave it out, so their
// "without operationName" variant drops it in that fetch, as a client that never sends
// it (curl, a hand-written fetch) would; graphql-request uses its own
// `excludeOperationName` option.
//
// Subscriptions are served over the WebSocket only (subscriptions.test.mjs): here they
// are listed as skipped.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { Client as UrqlClient, fetchExchange } from '@urql/core';
import { ClientError, GraphQLClient } from 'graphql-request';

import {
  AUTH,
  DIRECTIVES_DOCUMENT,
  FRAGMENT_DOCUMENT,
  INCLUDE_DEFAULT_DOCUMENT,
  SUBSCRIPTION_SKIP,
  URL_,
  assertTenantCard,
  describeCalls,
  discoverContext,
  isLogin,
  isSubscription,
  loadOperations,
  recordingFetch,
  sha256,
  variablesFor,
} from './lib/common.mjs';

const operations = loadOperations();
const ctx = await discoverContext();

// ---------------------------------------------------------------------------------------
// The three clients, each behind one function: run(document, variables, options) →
// { data, errors, error } where `errors` are the GraphQL errors of the response and
// `error` anything else that went wrong (network, parsing).

const clients = {
  'graphql-request': async (document, variables, { get, withOperationName, type, fetch }) => {
    const client = new GraphQLClient(URL_, {
      method: get ? 'GET' : 'POST',
      headers: AUTH,
      fetch,
      excludeOperationName: !withOperationName,
    });
    try {
      return { data: await client.request(document, variables) };
    } catch (error) {
      if (error instanceof ClientError) {
        return { data: error.response.data, errors: error.response.errors, status: error.response.status };
      }
      return { error };
    }
  },

  '@urql/core': async (document, variables, { get, type, fetch }) => {
    const client = new UrqlClient({
      url: URL_,
      exchanges: [fetchExchange],
      fetch,
      fetchOptions: { headers: AUTH },
      preferGetMethod: get ? 'force' : false,
      requestPolicy: 'network-only',
    });
    const result =
      type === 'mutation'
        ? await client.mutation(document, variables).toPromise()
        : await client.query(document, variables).toPromise();
    const errors = result.error?.graphQLErrors?.length ? result.error.graphQLErrors : undefined;
    return { data: result.data, errors, error: result.error?.networkError };
  },

  '@apollo/client': async (document, variables, { get, type, fetch }) => {
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      link: new HttpLink({ uri: URL_, headers: AUTH, fetch, useGETForQueries: get }),
    });
    return apolloRun(client, document, variables, type);
  },
};

async function apolloRun(client, document, variables, type) {
  const result =
    type === 'mutation'
      ? await client.mutate({ mutation: gql(document), variables, errorPolicy: 'all' })
      : await client.query({ query: gql(document), variables, fetchPolicy: 'network-only', errorPolicy: 'all' });
  if (CombinedGraphQLErrors.is(result.error)) {
    return { data: result.data, errors: result.error.errors };
  }
  return { data: result.data, error: result.error };
}

// ---------------------------------------------------------------------------------------
// Checks.

/** Asserts a saved operation's result: its root fields and no errors (Login: UNAUTHENTICATED). */
function assertOperationResult(op, result, fetch) {
  const sent = `\n  sent:\n  ${describeCalls(fetch.calls)}`;
  assert.equal(result.error, undefined, `request failed: ${result.error?.stack ?? result.error}${sent}`);
  if (isLogin(op)) {
    assert.ok(result.errors?.length, `Login with wrong credentials must fail; got ${JSON.stringify(result.data)}${sent}`);
    assert.equal(
      result.errors[0].extensions?.code,
      'UNAUTHENTICATED',
      `Login with wrong credentials: errors[0].extensions.code; errors: ${JSON.stringify(result.errors)}${sent}`,
    );
    return;
  }
  assert.equal(result.errors, undefined, `unexpected GraphQL errors: ${JSON.stringify(result.errors)}${sent}`);
  assert.ok(result.data && typeof result.data === 'object', `no data${sent}`);
  for (const key of op.rootFields) {
    assert.ok(key in result.data, `data lacks root field ${key}: ${JSON.stringify(result.data)}${sent}`);
  }
}

/** Asserts what went over the wire: the method, and whether operationName was sent. */
function assertSent(fetch, { get, withOperationName, name }) {
  assert.ok(fetch.calls.length >= 1, 'no request was sent');
  const expected = get ? 'GET' : 'POST';
  assert.deepEqual(fetch.methods(), fetch.calls.map(() => expected), `expected ${expected} requests:\n  ${describeCalls(fetch.calls)}`);
  for (const call of fetch.calls) {
    const sentName = get ? new URL(call.url).searchParams.get('operationName') : JSON.parse(call.body).operationName;
    if (withOperationName && name) {
      assert.equal(sentName, name, `operationName ${name} should have been sent:\n  ${describeCalls([call])}`);
    } else if (!withOperationName) {
      assert.ok(sentName == null, `operationName should not have been sent:\n  ${describeCalls([call])}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// The saved operations and the extra documents, through each client.

const variants = [
  { get: false, withOperationName: true, label: 'POST with operationName' },
  { get: false, withOperationName: false, label: 'POST without operationName' },
  { get: true, withOperationName: true, label: 'GET with operationName' },
  { get: true, withOperationName: false, label: 'GET without operationName' },
];

for (const [clientName, run] of Object.entries(clients)) {
  describe(clientName, () => {
    for (const variant of variants) {
      describe(variant.label, () => {
        for (const op of operations) {
          if (variant.get && op.type === 'mutation') continue;
          if (isSubscription(op)) {
            test(`${op.name} (${op.fileName})`, { skip: SUBSCRIPTION_SKIP }, () => {});
            continue;
          }
          if (variant.get && op.type !== 'query') continue;
          test(`${op.name} (${op.fileName})`, async () => {
            const fetch = recordingFetch({
              stripOperationName: !variant.withOperationName && clientName !== 'graphql-request',
            });
            const result = await run(op.document, variablesFor(op, ctx), { ...variant, type: op.type, fetch });
            assertOperationResult(op, result, fetch);
            assertSent(fetch, { ...variant, name: op.name });
          });
        }

        test('named fragment on Tenant (TenantCards)', async () => {
          const fetch = recordingFetch({
            stripOperationName: !variant.withOperationName && clientName !== 'graphql-request',
          });
          const result = await run(FRAGMENT_DOCUMENT, { externalId: ctx.externalId }, { ...variant, type: 'query', fetch });
          const sent = `\n  sent:\n  ${describeCalls(fetch.calls)}`;
          assert.equal(result.error, undefined, `request failed: ${result.error}${sent}`);
          assert.equal(result.errors, undefined, `unexpected errors: ${JSON.stringify(result.errors)}${sent}`);
          assertTenantCard(assert, result.data?.tenant, 'tenant');
          assert.equal(result.data.tenant.externalId, ctx.externalId);
          assert.ok(result.data.tenants.nodes.length >= 1, 'tenants.nodes is not empty');
          result.data.tenants.nodes.forEach((card, i) => assertTenantCard(assert, card, `tenants.nodes[${i}]`));
          assertSent(fetch, { ...variant, name: 'TenantCards' });
        });

        test('@include with a variable default (anonymous query)', async () => {
          const fetch = recordingFetch({
            stripOperationName: !variant.withOperationName && clientName !== 'graphql-request',
          });
          const result = await run(INCLUDE_DEFAULT_DOCUMENT, {}, { ...variant, type: 'query', fetch });
          const sent = `\n  sent:\n  ${describeCalls(fetch.calls)}`;
          assert.equal(result.error, undefined, `request failed: ${result.error}${sent}`);
          assert.equal(result.errors, undefined, `unexpected errors: ${JSON.stringify(result.errors)}${sent}`);
          assert.equal(typeof result.data?.settings?.maxPageSize, 'number', `settings.maxPageSize: ${JSON.stringify(result.data)}${sent}`);
          assert.equal(typeof result.data.settings.staleCheckHours, 'number', `settings.staleCheckHours (@include(if: $x), $x = true by default): ${JSON.stringify(result.data)}${sent}`);
          assertSent(fetch, { ...variant, name: undefined });
        });

        test('@include/@skip: defaults, then overridden by variables', async () => {
          const opts = () => ({
            ...variant,
            type: 'query',
            fetch: recordingFetch({ stripOperationName: !variant.withOperationName && clientName !== 'graphql-request' }),
          });
          const first = opts();
          const defaults = await run(DIRECTIVES_DOCUMENT, {}, first);
          const sent = (o) => `\n  sent:\n  ${describeCalls(o.fetch.calls)}`;
          assert.equal(defaults.error, undefined, `request failed: ${defaults.error}${sent(first)}`);
          assert.equal(defaults.errors, undefined, `unexpected errors: ${JSON.stringify(defaults.errors)}${sent(first)}`);
          assert.deepEqual(
            Object.keys(defaults.data?.settings ?? {}).filter((k) => k !== '__typename').sort(),
            ['maxPageSize', 'queuedStuckMinutes', 'staleCheckHours'],
            `defaults: ${JSON.stringify(defaults.data)}${sent(first)}`,
          );
          assertSent(first.fetch, { ...variant, name: 'SettingsDirectives' });
          const second = opts();
          const overridden = await run(DIRECTIVES_DOCUMENT, { withStale: false, skipQueued: true }, second);
          assert.equal(overridden.error, undefined, `request failed: ${overridden.error}${sent(second)}`);
          assert.equal(overridden.errors, undefined, `unexpected errors: ${JSON.stringify(overridden.errors)}${sent(second)}`);
          assert.deepEqual(
            Object.keys(overridden.data?.settings ?? {}).filter((k) => k !== '__typename').sort(),
            ['maxPageSize'],
            `withStale: false, skipQueued: true: ${JSON.stringify(overridden.data)}${sent(second)}`,
          );
        });
      });
    }
  });
}

// ---------------------------------------------------------------------------------------
// Apollo's automatic persisted queries.

const hasQuery = (call) =>
  call.method === 'GET' ? new URL(call.url).searchParams.has('query') : JSON.parse(call.body).query != null;
const persistedHash = (call) => {
  const extensions =
    call.method === 'GET' ? JSON.parse(new URL(call.url).searchParams.get('extensions') ?? '{}') : JSON.parse(call.body).extensions ?? {};
  return extensions.persistedQuery?.sha256Hash;
};

for (const get of [false, true]) {
  describe(`@apollo/client persisted queries by ${get ? 'GET (useGETForHashedQueries)' : 'POST'}`, () => {
    for (const op of operations) {
      if (get && op.type === 'mutation') continue;
      if (isSubscription(op)) {
        test(`${op.name} (${op.fileName})`, { skip: SUBSCRIPTION_SKIP }, () => {});
        continue;
      }
      if (get && op.type !== 'query') continue;
      test(`${op.name} (${op.fileName})`, async () => {
        const fetch = recordingFetch();
        const client = new ApolloClient({
          cache: new InMemoryCache(),
          link: ApolloLink.from([
            new PersistedQueryLink({ sha256, useGETForHashedQueries: get }),
            new HttpLink({ uri: URL_, headers: AUTH, fetch }),
          ]),
        });
        // First run: the hash alone; the server may not know it yet, then Apollo sends
        // the query with the hash (by POST) and the server registers it.
        const first = await apolloRun(client, op.document, variablesFor(op, ctx), op.type);
        assertOperationResult(op, first, fetch);
        const firstCall = fetch.calls[0];
        assert.ok(persistedHash(firstCall), `the first request carries extensions.persistedQuery:\n  ${describeCalls(fetch.calls)}`);
        assert.equal(hasQuery(firstCall), false, `the first request carries the hash alone:\n  ${describeCalls(fetch.calls)}`);
        assert.equal(firstCall.method, get && op.type === 'query' ? 'GET' : 'POST', `method of the hashed request:\n  ${describeCalls(fetch.calls)}`);
        if (op.type !== 'query' || isLogin(op)) return;
        // Second run: the hash alone must be enough now.
        fetch.reset();
        const second = await apolloRun(client, op.document, variablesFor(op, ctx), op.type);
        assertOperationResult(op, second, fetch);
        assert.equal(fetch.calls.length, 1, `a registered query takes one request:\n  ${describeCalls(fetch.calls)}`);
        assert.equal(hasQuery(fetch.calls[0]), false, `the hash alone:\n  ${describeCalls(fetch.calls)}`);
        assert.equal(fetch.calls[0].method, get ? 'GET' : 'POST');
      });
    }
  });
}
