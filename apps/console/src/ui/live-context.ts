import { createContext, useContext } from 'react';
import type { ConnectionState } from '../client.ts';
import type { LiveState } from '../live.ts';

// The live subscription's state, shared by every page: App provides it, pages read it.

export interface LiveContextValue {
  live: LiveState;
  connection: ConnectionState;
}

export const LiveContext = createContext<LiveContextValue>({
  live: { feed: [], spend: {}, counts: { events: 0, spend: 0 } },
  connection: 'connecting',
});

export const useLive = () => useContext(LiveContext);
