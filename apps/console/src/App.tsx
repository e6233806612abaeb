import { useCallback, useEffect, useMemo, useReducer, useState } from 'react';
import { Provider, useClient } from 'urql';
import { type ConnectionState, createConsoleClient, storedKey, storeKey } from './client.ts';
import { describeError, type Problem } from './errors.ts';
import {
  LiveBudgetEventsSubscriptionDocument,
  LiveSpendSubscriptionDocument,
  WorkspaceQueryDocument,
} from './generated/graphql.ts';
import { emptyLive, liveReducer, trackReconnects } from './live.ts';
import { LivePage } from './pages/live-feed.tsx';
import { Login } from './pages/login.tsx';
import { PlansPage } from './pages/plans.tsx';
import { PricesPage } from './pages/prices.tsx';
import { ProviderKeysPage } from './pages/provider-keys.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { SubAccountPage } from './pages/sub-account.tsx';
import { SubAccountsPage } from './pages/sub-accounts.tsx';
import { TagsPage } from './pages/tags.tsx';
import { WebhookPage, WebhooksPage } from './pages/webhooks.tsx';
import { parseRoute, type Route } from './route.ts';
import { Alert } from './ui/feedback.tsx';
import { LiveContext, useLive } from './ui/live-context.ts';

function useHashRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function App() {
  const [key, setKey] = useState<string | null>(() => storedKey());
  const [problem, setProblem] = useState<Problem | null>(null);
  const signOut = useCallback((why: Problem | null = null) => {
    storeKey(null);
    setKey(null);
    setProblem(why);
  }, []);
  if (!key) {
    return (
      <Login
        problem={problem}
        onSignedIn={(k) => {
          storeKey(k);
          setProblem(null);
          setKey(k);
        }}
      />
    );
  }
  return <Session adminKey={key} onSignOut={signOut} />;
}

function Session({
  adminKey,
  onSignOut,
}: {
  adminKey: string;
  onSignOut: (why?: Problem | null) => void;
}) {
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [client, setClient] = useState<ReturnType<typeof createConsoleClient>['client'] | null>(
    null,
  );
  useEffect(() => {
    const made = createConsoleClient(adminKey, (s) => setConnection(s));
    setClient(made.client);
    return () => {
      void made.dispose();
    };
  }, [adminKey]);
  // The control plane refused the key on the live connection (revoked or expired meanwhile, in
  // another tab or by someone else): sign out at once, as a refused request does.
  useEffect(() => {
    if (connection === 'refused') {
      onSignOut({
        kind: 'auth',
        message:
          'The admin key was refused (revoked or expired). Sign in again with a valid admin key.',
      });
    }
  }, [connection, onSignOut]);
  if (!client) return null;
  return (
    <Provider value={client}>
      <LiveFeed connection={connection}>
        <Shell onSignOut={onSignOut} />
      </LiveFeed>
    </Provider>
  );
}

/** One subscription each for budget events and spend, for every page of the session. */
function LiveFeed({
  connection,
  children,
}: {
  connection: ConnectionState;
  children: React.ReactNode;
}) {
  const client = useClient();
  const [live, dispatch] = useReducer(liveReducer, undefined, emptyLive);
  useEffect(() => {
    const events = client.subscription(LiveBudgetEventsSubscriptionDocument, {}).subscribe((r) => {
      if (r.data) dispatch({ kind: 'event', event: r.data.budgetEvents });
    });
    const spend = client.subscription(LiveSpendSubscriptionDocument, {}).subscribe((r) => {
      if (r.data) dispatch({ kind: 'spend', spend: r.data.workspaceSpendUpdates });
    });
    return () => {
      events.unsubscribe();
      spend.unsubscribe();
    };
  }, [client]);
  // Counted here so that every page can reload what failed while the connection was down.
  const [reconnects, setReconnects] = useState({ lost: false, count: 0 });
  useEffect(() => setReconnects((prev) => trackReconnects(prev, connection)), [connection]);
  const value = useMemo(
    () => ({ live, connection, reconnects: reconnects.count }),
    [live, connection, reconnects.count],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

const NAV: Array<{ page: Route['page']; label: string; href: string }> = [
  { page: 'sub-accounts', label: 'Sub-accounts', href: '#/sub-accounts' },
  { page: 'plans', label: 'Plans', href: '#/plans' },
  { page: 'tags', label: 'Tags & budgets', href: '#/tags' },
  { page: 'live', label: 'Live feed', href: '#/live' },
  { page: 'webhooks', label: 'Webhooks', href: '#/webhooks' },
  { page: 'provider-keys', label: 'Provider keys', href: '#/provider-keys' },
  { page: 'prices', label: 'Prices', href: '#/prices' },
  { page: 'settings', label: 'Settings', href: '#/settings' },
];

function Shell({ onSignOut }: { onSignOut: (why?: Problem | null) => void }) {
  const route = useHashRoute();
  const client = useClient();
  const { connection, live, reconnects } = useLive();
  const [workspace, setWorkspace] = useState<{ name: string } | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  // The control plane answers again: "cannot reach it" is no longer true (pages reload themselves).
  useEffect(() => {
    if (reconnects > 0) setProblem((prev) => (prev?.kind === 'network' ? null : prev));
  }, [reconnects]);
  useEffect(() => {
    client
      .query(WorkspaceQueryDocument, {})
      .toPromise()
      .then((r) => {
        const p = describeError(r.error);
        if (p?.kind === 'auth') onSignOut(p);
        else setProblem(p);
        if (r.data) setWorkspace(r.data.workspace);
      });
  }, [client, onSignOut]);
  const current =
    route.page === 'sub-account'
      ? 'sub-accounts'
      : route.page === 'webhook'
        ? 'webhooks'
        : route.page;
  // The badge counts budget events not yet seen on the Live feed page.
  const [seenEvents, setSeenEvents] = useState(0);
  useEffect(() => {
    if (route.page === 'live') setSeenEvents(live.counts.events);
  }, [route.page, live.counts.events]);
  const unseen = live.counts.events - seenEvents;
  // Stable, so pages can report from effects; the same message twice does not re-render.
  const report = useCallback(
    (p: Problem | null) => {
      if (p?.kind === 'auth') onSignOut(p);
      else
        setProblem((prev) => (prev?.message === p?.message && prev?.kind === p?.kind ? prev : p));
    },
    [onSignOut],
  );
  return (
    <div className="shell">
      {/* Routes live in the hash, so skipping to the content moves focus rather than navigating. */}
      <button
        type="button"
        className="skip"
        onClick={() => document.getElementById('main')?.focus()}
      >
        Skip to content
      </button>
      <header className="top">
        <span className="brand">Tollgate</span>
        <span className="muted">{workspace ? `workspace ${workspace.name}` : ''}</span>
        <span className={`conn conn-${connection}`} role="status">
          {connection === 'connected'
            ? 'Live'
            : connection === 'connecting'
              ? 'Connecting…'
              : 'Live connection lost — reconnecting…'}
        </span>
        <button type="button" className="secondary" onClick={() => onSignOut(null)}>
          Sign out
        </button>
      </header>
      <nav aria-label="Main">
        <ul>
          {NAV.map((n) => (
            <li key={n.page}>
              <a href={n.href} aria-current={current === n.page ? 'page' : undefined}>
                {n.label}
                {n.page === 'live' && unseen > 0 ? (
                  <span className="count">
                    {unseen}
                    <span className="sr-only"> new events</span>
                  </span>
                ) : null}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <Alert problem={problem} onDismiss={() => setProblem(null)} />
        <Page route={route} report={report} />
      </main>
    </div>
  );
}

export type Report = (p: Problem | null) => void;

function Page({ route, report }: { route: Route; report: Report }) {
  switch (route.page) {
    case 'sub-accounts':
      return <SubAccountsPage report={report} />;
    case 'sub-account':
      return <SubAccountPage id={route.id} report={report} />;
    case 'tags':
      return <TagsPage report={report} />;
    case 'live':
      return <LivePage />;
    case 'webhooks':
      return <WebhooksPage report={report} />;
    case 'webhook':
      return <WebhookPage id={route.id} report={report} />;
    case 'provider-keys':
      return <ProviderKeysPage report={report} />;
    case 'prices':
      return <PricesPage report={report} />;
    case 'plans':
      return <PlansPage report={report} />;
    case 'settings':
      return <SettingsPage report={report} />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            Nothing lives at <code>{route.path}</code>.{' '}
            <a href="#/sub-accounts">Back to sub-accounts</a>
          </p>
        </section>
      );
  }
}
