// The session token and the few GraphQL calls the playground makes itself.

const TOKEN_KEY = 'control-tower.token';

// The token lives in this browser tab only: sessionStorage, never localStorage or cookies.
export const tokenStore = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

// GraphiQL's own storage (tabs, history, theme) also stays in this tab: sessionStorage, under
// GraphiQL's "graphiql:" prefix, so that its "Clear data" leaves the token alone.
const graphiqlKeys = () => Object.keys(sessionStorage).filter((key) => key.startsWith('graphiql:'));
export const graphiqlStorage = {
  getItem: (key) => sessionStorage.getItem(key),
  setItem: (key, value) => sessionStorage.setItem(key, value),
  removeItem: (key) => sessionStorage.removeItem(key),
  get length() {
    return graphiqlKeys().length;
  },
  clear: () => graphiqlKeys().forEach((key) => sessionStorage.removeItem(key)),
};

// The token to start with: this tab's, else the demo token of `serve --demo` (kept for the tab).
export function initialToken(demoToken) {
  const stored = tokenStore.get();
  if (stored) return stored;
  if (demoToken) tokenStore.set(demoToken);
  return demoToken || null;
}

// True when an answer says the session is gone (a failed `login` says so too, but that is
// the sign-in form's business, not a reason to sign out).
export function isUnauthenticated(payload) {
  return (payload?.errors ?? []).some(
    (error) => error?.extensions?.code === 'UNAUTHENTICATED' && error?.path?.[0] !== 'login',
  );
}

// The error of an answer, as a line to show.
export function errorText(payload) {
  const error = payload?.errors?.[0];
  if (!error) return null;
  const code = error.extensions?.code;
  return code ? `${error.message} (${code})` : error.message;
}

// POSTs one operation and returns the decoded answer ({data, errors}).
export async function request(url, query, variables, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  try {
    return await response.json();
  } catch {
    return { errors: [{ message: `HTTP ${response.status} ${response.statusText}` }] };
  }
}

// The graphql-ws endpoint, as an absolute ws:// or wss:// URL on this page's origin.
export function webSocketUrl(path) {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}
