import { createContext, useContext, useEffect, useRef } from 'react';
import type { ConnectionState } from '../client.ts';
import type { LiveState } from '../live.ts';

// The live subscription's state, shared by every page: App provides it, pages read it.

export interface LiveContextValue {
  live: LiveState;
  connection: ConnectionState;
  /** How many times the live connection came back after it was lost (pages reload then). */
  reconnects: number;
}

export const LiveContext = createContext<LiveContextValue>({
  live: { feed: [], spend: {}, counts: { events: 0, spend: 0 } },
  connection: 'connecting',
  reconnects: 0,
});

export const useLive = () => useContext(LiveContext);

type Reexecute = (opts: { requestPolicy: 'network-only' }) => void;

/**
 * Keeps a page's query current: it runs again (network-only) when the live connection comes back
 * after being lost, and whenever `trigger` changes (a live update the page shows) — at most once a
 * second. Nothing happens on mount: the query has just run.
 */
export function useLiveRefetch(reexecute: Reexecute, trigger = '') {
  const { reconnects } = useLive();
  const key = `${reconnects}|${trigger}`;
  const mounted = useRef(key);
  const run = useRef(reexecute);
  run.current = reexecute;
  const lastRefresh = useRef(0);
  useEffect(() => {
    if (key === mounted.current) return;
    const wait = Math.max(0, lastRefresh.current + 1_000 - Date.now());
    const t = setTimeout(() => {
      lastRefresh.current = Date.now();
      run.current({ requestPolicy: 'network-only' });
    }, wait);
    return () => clearTimeout(t);
  }, [key]);
}
