import { useState } from 'react';
import { useMutation } from 'urql';
import type { Report } from '../App.tsx';
import { hasMore, listError, listPlaceholder, type NodeOf, nodesOf } from '../connection.ts';
import { describeError, resultError } from '../errors.ts';
import {
  CreateSubAccountKeyMutationDocument,
  RevokeSubAccountKeyMutationDocument,
} from '../generated/graphql.ts';
import { AlertLine, MoreRows, Notice, OnceSecret } from '../ui/feedback.tsx';
import { StatusBadge, When } from '../ui/labels.tsx';
import { DataTable } from '../ui/tables.tsx';
import type { Detail } from './sub-account.tsx';

/** A sub-account's API keys: create one (rotate; the secret is shown once) and revoke. */
export function Keys({
  sa,
  report,
  onChanged,
}: {
  sa: Detail;
  report: Report;
  /** Loads the sub-account (and so its keys) again: a new key is listed at once. */
  onChanged: () => void;
}) {
  const [, createKey] = useMutation(CreateSubAccountKeyMutationDocument);
  const [, revoke] = useMutation(RevokeSubAccountKeyMutationDocument);
  const [secret, setSecret] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const rotate = async () => {
    const r = await createKey({ subAccountId: sa.id });
    report(describeError(r.error));
    const out = r.data?.createSubAccountKey;
    const err = resultError(out);
    if (err) setMessage(err);
    else if (out?.__typename === 'CreateSubAccountKeyPayload') {
      setSecret(out.key);
      setMessage(`New key ${out.prefix}… created; older keys keep working until you revoke them.`);
    }
    onChanged();
  };
  const revokeKey = async (keyId: string, prefix: string) => {
    if (!window.confirm(`Revoke key ${prefix}…? Requests with it are refused within a second.`))
      return;
    const r = await revoke({ subAccountId: sa.id, keyId });
    report(describeError(r.error));
    setMessage(
      resultError(r.data?.revokeSubAccountKey) ?? (r.error ? null : `Key ${prefix}… revoked.`),
    );
    onChanged();
  };
  return (
    <section aria-labelledby="keys-h">
      <div className="section-head">
        <h2 id="keys-h">API keys</h2>
        {sa.status !== 'deleted' ? (
          <button type="button" onClick={rotate}>
            Create key (rotate)
          </button>
        ) : null}
      </div>
      {secret ? (
        <OnceSecret label="New API key" secret={secret} onDone={() => setSecret(null)} />
      ) : null}
      {message ? <Notice>{message}</Notice> : null}
      <AlertLine text={listError(sa.keys)} />
      <MoreRows more={hasMore(sa.keys)} shown={200} />
      <KeysTable
        keys={nodesOf(sa.keys)}
        empty={listPlaceholder({}, sa.keys, nodesOf(sa.keys).length, {
          what: 'the keys',
          empty: 'No keys.',
        })}
        onRevoke={revokeKey}
      />
    </section>
  );
}

function KeysTable({
  keys,
  empty,
  onRevoke,
}: {
  keys: NodeOf<Detail['keys']>[];
  empty: string | null;
  onRevoke: (keyId: string, prefix: string) => void;
}) {
  const now = Date.now();
  return (
    <DataTable columns={['Prefix', 'Created', 'Expires', 'State']} actions empty={empty}>
      {keys.map((k) => {
        const expired = k.expiresAt !== null && Date.parse(k.expiresAt) <= now;
        const state = k.revokedAt ? 'revoked' : expired ? 'expired' : 'active';
        return (
          <tr key={k.id}>
            <td className="mono">{k.prefix}…</td>
            <td>
              <When iso={k.createdAt} />
            </td>
            <td>
              <When iso={k.expiresAt} />
            </td>
            <td>
              <StatusBadge status={state} />
            </td>
            <td>
              {state === 'active' ? (
                <button
                  type="button"
                  className="danger small"
                  onClick={() => onRevoke(k.id, k.prefix)}
                >
                  Revoke <span className="sr-only">key {k.prefix}</span>
                </button>
              ) : null}
            </td>
          </tr>
        );
      })}
    </DataTable>
  );
}
