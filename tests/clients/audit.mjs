// The GraphQL-over-HTTP server audit of graphql-http, against the running service.
// Every audit runs and is printed; the exit status is 1 when a MUST or a SHOULD audit
// fails (status `error` or `warn`), while MAY failures (`notice`) are printed only.

import { serverAudits } from 'graphql-http';

import { AUTH, URL_ } from './lib/common.mjs';

/** The platform fetch, with the session's Authorization header on every request. */
function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', AUTH.authorization);
  return fetch(input, { ...init, headers });
}

const results = [];
for (const audit of serverAudits({ url: URL_, fetchFn })) {
  let result;
  try {
    result = await audit.fn();
  } catch (error) {
    // A fatal audit error (e.g. the server hung up) counts as a failure of its level.
    result = { id: audit.id, name: audit.name, status: 'error', reason: `the audit threw: ${error?.stack ?? error}` };
  }
  results.push(result);
  const level = result.name.split(' ')[0];
  if (result.status === 'ok') {
    console.log(`ok      ${result.id}  ${result.name}`);
  } else {
    let body = '';
    if (result.response) {
      try {
        body = await result.response.clone().text();
      } catch {
        body = '(body already read)';
      }
      body = `\n          response: HTTP ${result.response.status} ${result.response.headers.get('content-type') ?? ''} ${body.slice(0, 400)}`;
    }
    console.log(`${level.padEnd(7)} ${result.id}  ${result.name}\n          ${result.status}: ${result.reason}${body}`);
  }
}

const failed = (levels) => results.filter((r) => r.status !== 'ok' && levels.includes(r.name.split(' ')[0]));
const blocking = failed(['MUST', 'SHOULD']);
const optional = failed(['MAY']);
const passed = results.filter((r) => r.status === 'ok').length;
console.log(
  `\ngraphql-http audit: ${results.length} audits, ${passed} ok, ` +
    `${blocking.length} MUST/SHOULD failed${blocking.length ? ` (${blocking.map((r) => r.id).join(', ')})` : ''}, ` +
    `${optional.length} MAY failed${optional.length ? ` (${optional.map((r) => r.id).join(', ')})` : ''}`,
);
process.exit(blocking.length ? 1 : 0);
