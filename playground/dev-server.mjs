// A development stand-in for the Control Tower binary's playground routes (Node built-ins
// only): GET / serves the page the server generates, with its Content-Security-Policy
// and the saved operations of operations/ (with the fragments of fragments/ they spread),
// /assets/* serves dist/, and /graphql (plus the /graphql/ws upgrade) goes to a running
// Control Tower.
//
//   CT_UPSTREAM=http://127.0.0.1:8080 [PORT=8090] [CT_DEMO_TOKEN=...] node dev-server.mjs
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { extname, join } from 'node:path';

const HERE = new URL('.', import.meta.url).pathname;
const DIST = join(HERE, 'dist');
const OPERATIONS = join(HERE, 'operations');
const upstream = new URL(process.env.CT_UPSTREAM ?? 'http://127.0.0.1:8080');
const port = Number(process.env.PORT ?? 0);

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const FRAGMENTS = join(HERE, 'fragments');

// fragments/*.graphql by fragment name.
function fragments() {
  const byName = new Map();
  let files = [];
  try {
    files = readdirSync(FRAGMENTS).filter((file) => file.endsWith('.graphql'));
  } catch {
    return byName;
  }
  for (const file of files) {
    const text = readFileSync(join(FRAGMENTS, file), 'utf8');
    for (const [, name] of text.matchAll(/^fragment\s+(\w+)/gm)) byName.set(name, text.trim());
  }
  return byName;
}

// The named spreads of a text (`...Name`, not the inline `... on Type`).
const spreads = (text) =>
  [...text.matchAll(/\.\.\.\s*([_A-Za-z]\w*)/g)].map((match) => match[1]).filter((name) => name !== 'on');

// A saved operation as the page's configuration lists it: title from the leading comment,
// the fragments it spreads (and those they spread) appended, variables from the defaults of
// its variable definitions (the Rust side has the final say).
function operation(file, known) {
  const text = readFileSync(join(OPERATIONS, file), 'utf8');
  const title = text
    .split('\n')
    .filter((line) => line.startsWith('#'))
    .map((line) => line.replace(/^#\s?/, ''))
    .join(' ')
    .trim();
  const name = /^(?:query|mutation|subscription)\s+(\w+)/m.exec(text)?.[1] ?? null;
  const needed = [];
  const visit = (source) => {
    for (const spread of spreads(source)) {
      if (needed.includes(spread) || !known.has(spread)) continue;
      needed.push(spread);
      visit(known.get(spread));
    }
  };
  visit(text);
  const document = [text.trimEnd(), ...needed.map((spread) => known.get(spread))].join('\n\n') + '\n';
  const variables = {};
  for (const [, variable, value] of text.matchAll(/\$(\w+)\s*:\s*[\w!\[\]]+\s*=\s*("[^"]*"|[\w.-]+)/g)) {
    variables[variable] = value.startsWith('"') ? JSON.parse(value) : /^-?\d/.test(value) ? Number(value) : value;
  }
  return { file, title, name, document, variables: JSON.stringify(variables, null, 2) };
}

function page() {
  const manifest = JSON.parse(readFileSync(join(DIST, 'manifest.json'), 'utf8'));
  const known = fragments();
  const config = {
    graphqlUrl: '/graphql',
    subscriptionsUrl: '/graphql/ws',
    demoToken: process.env.CT_DEMO_TOKEN || null,
    operations: readdirSync(OPERATIONS)
      .filter((file) => file.endsWith('.graphql'))
      .sort()
      .map((file) => operation(file, known)),
  };
  // `<` escaped, so no "</script>" in the data can end the element.
  const json = JSON.stringify(config).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Control Tower playground</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
${manifest.styles.map((file) => `<link rel="stylesheet" href="/assets/${file}">`).join('\n')}
<script type="application/json" id="control-tower-config">${json}</script>
</head><body><div id="root"></div>
${manifest.scripts.map((file) => `<script src="/assets/${file}"></script>`).join('\n')}
</body></html>
`;
}

function proxy(req, res) {
  const headers = { ...req.headers, host: upstream.host };
  const forward = httpRequest(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
    (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    },
  );
  forward.on('error', (error) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`upstream: ${error.message}\n`);
  });
  req.pipe(forward);
}

const server = createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://localhost');
  if (pathname === '/graphql') return proxy(req, res);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405).end();
    return;
  }
  if (pathname === '/') {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': CSP,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(page());
    return;
  }
  const file = /^\/assets\/([\w.-]+)$/.exec(pathname)?.[1];
  if (file && file !== 'manifest.json') {
    try {
      const body = readFileSync(join(DIST, file));
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'public, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
      });
      res.end(body);
      return;
    } catch {
      // fall through to 404
    }
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
});

// The graphql-ws upgrade: the raw connection is piped to the upstream as it is.
server.on('upgrade', (req, socket, head) => {
  if (new URL(req.url, 'http://localhost').pathname !== '/graphql/ws') return socket.destroy();
  const back = connect(Number(upstream.port), upstream.hostname, () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const [name, value] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
      lines.push(`${name}: ${name.toLowerCase() === 'host' ? upstream.host : value}`);
    }
    back.write(`${lines.join('\r\n')}\r\n\r\n`);
    back.write(head);
    socket.pipe(back).pipe(socket);
  });
  back.on('error', () => socket.destroy());
  socket.on('error', () => back.destroy());
});

server.listen(port, '127.0.0.1', () => {
  console.log(`playground dev server on http://127.0.0.1:${server.address().port}/ -> ${upstream.origin}`);
});
