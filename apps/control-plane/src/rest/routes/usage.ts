import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import * as exports from '../../services/export.ts';
import * as usage from '../../services/usage.ts';
import { ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

/** Usage reports: a sub-account's, the caller's own, by tag, and the monthly export. */
export const USAGE_ROUTES: Route[] = [
  {
    method: 'GET',
    path: '/v1/sub-accounts/:id/usage',
    action: 'workspace.read',
    query: true,
    handle: async ({ deps, caller, params, query }) =>
      ok(json.usageJson(await usage.subAccountUsage(deps, caller, params.id!, query))),
  },
  {
    method: 'GET',
    path: '/v1/usage',
    action: 'usage.own.read',
    query: true,
    handle: async ({ deps, caller, query }) =>
      ok(json.usageJson(await usage.ownUsage(deps, caller, query))),
  },
  {
    method: 'GET',
    path: '/v1/usage/export',
    action: 'workspace.read',
    query: true,
    handle: async ({ deps, caller, query, res }) => {
      await streamExport(res, exports.usageExport(deps, caller, query));
      return null;
    },
  },
  {
    method: 'GET',
    path: '/v1/usage/by-tag',
    action: 'workspace.read',
    query: true,
    handle: async ({ deps, caller, query }) =>
      ok(json.tagUsageJson(await usage.usageByTag(deps, caller, query))),
  },
];

/** Writes an export chunk by chunk, honouring backpressure (`write` false → wait for `drain`). */
async function streamExport(res: ServerResponse, x: exports.UsageExport): Promise<void> {
  const csv = x.format === 'csv';
  res.writeHead(200, {
    'content-type': csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'content-disposition': `attachment; filename="usage-${x.month}.${x.format}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  let closed = false;
  res.once('close', () => {
    closed = true;
  });
  const write = async (text: string) => {
    if (!res.write(text) && !closed) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  };
  if (csv) await write(exports.csvHeader());
  for await (const lines of x.chunks()) {
    if (closed) return;
    let buf = '';
    for (const line of lines) {
      buf += csv ? exports.csvLine(line) : exports.jsonLine(line);
      if (buf.length >= 65_536) {
        await write(buf);
        buf = '';
      }
    }
    if (buf) await write(buf);
  }
  res.end();
}
