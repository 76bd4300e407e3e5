// The playground: a sign-in form until there is a session, then a header bar (saved
// operations, who is signed in, sign out) above GraphiQL.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { GraphiQLInterface, GraphiQLProvider } from 'graphiql';
import { useEditorContext } from '@graphiql/react';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { createClient } from 'graphql-ws';
import {
  errorText,
  graphiqlStorage,
  initialToken,
  isUnauthenticated,
  request,
  tokenStore,
  webSocketUrl,
} from './api.js';

const LOGIN = `mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { token operator { name email } }
}`;
const VIEWER = '{ viewer { name email } }';
const LOGOUT = 'mutation { logout }';

// The GraphiQL Explorer (@graphiql/plugin-explorer): the schema as a tree whose fields an
// operator ticks to write the query in the editor (and unticks to take them out). Made
// once, and the list too: GraphiQL 3 shows `visiblePlugin` again whenever its `plugins`
// change, so a list made at each render would keep reopening it.
const EXPLORER = explorerPlugin();
const PLUGINS = [EXPLORER];

export function App({ config }) {
  const [token, setToken] = useState(() => initialToken(config.demoToken));
  const signIn = useCallback((newToken) => {
    tokenStore.set(newToken);
    setToken(newToken);
  }, []);
  const signOut = useCallback(() => {
    tokenStore.clear();
    setToken(null);
  }, []);

  if (!token) return <SignIn url={config.graphqlUrl} onSignedIn={signIn} />;
  return <Playground key={token} config={config} token={token} onSignedOut={signOut} />;
}

function SignIn({ url, onSignedIn }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const answer = await request(url, LOGIN, {
        email: form.get('email'),
        password: form.get('password'),
      });
      const token = answer?.data?.login?.token;
      if (token) onSignedIn(token);
      else setError(errorText(answer) ?? 'Sign-in failed.');
    } catch (failure) {
      setError(`Sign-in failed: ${failure.message}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="ct-signin">
      <form id="sign-in" onSubmit={submit}>
        <h1>Control Tower</h1>
        <label>
          E-mail
          <input name="email" type="email" autoComplete="username" required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {error && (
          <p className="ct-error" role="alert" id="sign-in-error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

// Close codes of the server's /graphql/ws: the session ended (sign in again), refused
// (token or capability), too many connections. None is worth retrying at once.
const SESSION_ENDED = 4401;
const NO_RETRY = [4401, 4403, 4429];
const isCloseEvent = (value) => typeof value?.code === 'number' && 'reason' in value;

// GraphiQL's fetcher: the bearer token on every HTTP request and on the graphql-ws
// connection; an UNAUTHENTICATED answer (or a closed session) ends the session here too.
function useFetcher(config, token, onUnauthenticated) {
  const wsClient = useMemo(() => {
    const url = webSocketUrl(config.subscriptionsUrl);
    const client = createClient({
      url,
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: true,
      shouldRetry: (event) => !(isCloseEvent(event) && NO_RETRY.includes(event.code)),
      on: { closed: (event) => isCloseEvent(event) && event.code === SESSION_ENDED && onUnauthenticated() },
    });
    // What GraphiQL shows when the socket fails: a sentence, not a bare browser event.
    const readable = (error) => {
      if (Array.isArray(error)) {
        if (isUnauthenticated({ errors: error })) onUnauthenticated();
        return error;
      }
      if (error instanceof Error) return error;
      if (isCloseEvent(error)) {
        return new Error(`The WebSocket closed (${error.code}${error.reason ? `: ${error.reason}` : ''})`);
      }
      return new Error(`Could not connect to ${url}`);
    };
    return {
      subscribe: (payload, sink) =>
        client.subscribe(payload, { ...sink, error: (error) => sink.error(readable(error)) }),
      dispose: () => client.dispose(),
    };
  }, [config.subscriptionsUrl, token, onUnauthenticated]);
  useEffect(() => () => wsClient.dispose(), [wsClient]);

  return useMemo(() => {
    const fetchAndWatch = async (url, init) => {
      const response = await fetch(url, init);
      response
        .clone()
        .json()
        .then((payload) => isUnauthenticated(payload) && onUnauthenticated())
        .catch(() => {});
      return response;
    };
    return createGraphiQLFetcher({
      url: config.graphqlUrl,
      headers: { authorization: `Bearer ${token}` },
      wsClient,
      fetch: fetchAndWatch,
      enableIncrementalDelivery: false,
    });
  }, [config.graphqlUrl, token, wsClient, onUnauthenticated]);
}

function Playground({ config, token, onSignedOut }) {
  const [viewer, setViewer] = useState(null);
  const fetcher = useFetcher(config, token, onSignedOut);
  const first = config.operations[0];

  useEffect(() => {
    let live = true;
    request(config.graphqlUrl, VIEWER, {}, token)
      .then((answer) => {
        if (!live) return;
        if (isUnauthenticated(answer)) onSignedOut();
        else setViewer(answer?.data?.viewer ?? { error: errorText(answer) });
      })
      .catch((failure) => live && setViewer({ error: failure.message }));
    return () => {
      live = false;
    };
  }, [config.graphqlUrl, token, onSignedOut]);

  async function signOut() {
    try {
      await request(config.graphqlUrl, LOGOUT, {}, token);
    } catch {
      // Signed out here all the same.
    }
    onSignedOut();
  }

  return (
    <GraphiQLProvider
      fetcher={fetcher}
      storage={graphiqlStorage}
      defaultQuery={first?.document}
      defaultTabs={first ? [{ query: first.document, variables: first.variables }] : undefined}
      shouldPersistHeaders={false}
      plugins={PLUGINS}
      // Open at sign-in: composing a query by ticking fields is what an operator new to
      // the schema wants first, and the sidebar button closes it (or switches to the docs
      // or the history). GraphiQL 3 does not remember that choice: the next page load or
      // sign-in opens the Explorer again.
      visiblePlugin={EXPLORER}
    >
      <div className="ct-app">
        <header className="ct-bar">
          <strong className="ct-title">Control Tower</strong>
          <SavedOperations operations={config.operations} />
          <span className="ct-viewer" id="viewer">
            {viewer?.name
              ? `Signed in as ${viewer.name} (${viewer.email})`
              : viewer?.error
                ? viewer.error
                : 'Signing in…'}
          </span>
          <button type="button" id="sign-out" onClick={signOut}>
            Sign out
          </button>
        </header>
        <div className="ct-graphiql">
          <GraphiQLInterface isHeadersEditorEnabled />
        </div>
      </div>
    </GraphiQLProvider>
  );
}

// Picking a saved operation opens it in a new tab: its document in the query editor, its
// variables in the variables editor.
function SavedOperations({ operations }) {
  const { addTab, queryEditor, variableEditor, tabs, activeTabIndex } = useEditorContext({
    nonNull: true,
  });
  const pending = useRef(null);

  // addTab() fills the new tab with the default query once React has applied it; the
  // saved operation goes in after that.
  useEffect(() => {
    const operation = pending.current;
    if (!operation || !queryEditor || !variableEditor) return;
    pending.current = null;
    queryEditor.setValue(operation.document);
    variableEditor.setValue(operation.variables ?? '{}');
  }, [tabs.length, activeTabIndex, queryEditor, variableEditor]);

  function pick(event) {
    const operation = operations.find((candidate) => candidate.file === event.target.value);
    event.target.value = '';
    if (!operation) return;
    pending.current = operation;
    addTab();
  }

  return (
    <select id="saved-operations" defaultValue="" onChange={pick} aria-label="Saved operations">
      <option value="" disabled>
        Saved operations…
      </option>
      {operations.map((operation) => (
        <option
          key={operation.file}
          value={operation.file}
          data-operation={operation.file}
          title={operation.description ?? operation.file}
        >
          {operation.title}
        </option>
      ))}
    </select>
  );
}
