import { useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { hasMore, listError, listPlaceholder, type NodeOf, nodesOf } from '../connection.ts';
import { describeError, resultError } from '../errors.ts';
import {
  type AdminKeysQuery,
  AdminKeysQueryDocument,
  CreateAdminKeyMutationDocument,
  RevokeAdminKeyMutationDocument,
} from '../generated/graphql.ts';
import { AlertLine, MoreRows, Notice, OnceSecret } from '../ui/feedback.tsx';
import { ConfirmButton, Field } from '../ui/forms.tsx';
import { StatusBadge, When } from '../ui/labels.tsx';
import { useLiveRefetch } from '../ui/live-context.ts';
import { DataTable } from '../ui/tables.tsx';

type AdminKey = NodeOf<AdminKeysQuery['adminKeys']>;

const DAY = 86_400;
/** Lifetimes offered for a new key (seconds; '' = until revoked). */
const LIFETIMES: ReadonlyArray<[string, string]> = [
  ['', 'Never (until revoked)'],
  [String(DAY), '1 day'],
  [String(7 * DAY), '7 days'],
  [String(30 * DAY), '30 days'],
  [String(90 * DAY), '90 days'],
];

/**
 * The workspace's own admin keys: create one (rotation with overlap; the secret is shown once) and
 * revoke. Revoking the key of this session signs the console out, as a refused key does.
 */
export function AdminKeys({ report }: { report: Report }) {
  const [result, reexecute] = useQuery({
    query: AdminKeysQueryDocument,
    requestPolicy: 'network-only',
  });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  useLiveRefetch(reexecute);
  const refresh = () => reexecute({ requestPolicy: 'network-only' });
  const [, createKey] = useMutation(CreateAdminKeyMutationDocument);
  const [, revoke] = useMutation(RevokeAdminKeyMutationDocument);
  const [secret, setSecret] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [lifetime, setLifetime] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const create = async () => {
    setMessage(null);
    setProblem(null);
    const r = await createKey({
      name: name.trim() === '' ? null : name,
      expiresInSeconds: lifetime === '' ? null : Number(lifetime),
    });
    report(describeError(r.error));
    const out = r.data?.createAdminKey;
    const err = resultError(out);
    if (err) setProblem(`The API refused to create a key: ${err}`);
    else if (out?.__typename === 'CreateAdminKeyPayload') {
      setSecret(out.key);
      setName('');
      setLifetime('');
      const until = out.expiresAt
        ? ` It stops working at ${new Date(out.expiresAt).toISOString().replace('T', ' ').slice(0, 16)} UTC.`
        : '';
      setMessage(
        `New admin key ${out.name ? `“${out.name}” ` : ''}${out.prefix}… created; older keys keep working until you revoke them.${until}`,
      );
    }
    refresh();
  };
  const revokeKey = async (k: AdminKey) => {
    setMessage(null);
    setProblem(null);
    const r = await revoke({ id: k.id });
    report(describeError(r.error));
    const out = r.data?.revokeAdminKey;
    const err = resultError(out);
    if (err) setProblem(`The API refused to revoke key ${k.prefix}…: ${err}`);
    else if (out?.__typename === 'AdminKey') {
      if (k.current) {
        // This console's key no longer works: sign out the way a refused key does.
        report({
          kind: 'auth',
          message: `You revoked the admin key of this session (${k.prefix}…). Sign in with another admin key.`,
        });
        return;
      }
      setMessage(`Admin key ${k.prefix}… revoked.`);
    }
    refresh();
  };
  const keys = nodesOf(result.data?.adminKeys);
  return (
    <section className="panel" aria-labelledby="admin-keys-h">
      <div className="section-head">
        <h2 id="admin-keys-h">Admin keys</h2>
      </div>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <Field label="Key name" hint="Optional: what you will call it (ci, console-alice)">
          {(id, describedBy) => (
            <input
              id={id}
              aria-describedby={describedBy}
              value={name}
              maxLength={100}
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        <Field label="Expires" hint="A temporary key (a CI job) stops working by itself">
          {(id, describedBy) => (
            <select
              id={id}
              aria-describedby={describedBy}
              value={lifetime}
              onChange={(e) => setLifetime(e.target.value)}
            >
              {LIFETIMES.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit">Create admin key</button>
      </form>
      <p className="muted">
        Admin keys sign in to this console and call the admin API. To rotate, create a new key,
        switch to it, then revoke the old one; the workspace's last working key without an expiry
        cannot be revoked.
      </p>
      {secret ? (
        <OnceSecret label="New admin key" secret={secret} onDone={() => setSecret(null)} />
      ) : null}
      {message ? <Notice>{message}</Notice> : null}
      <AlertLine text={problem ?? listError(result.data?.adminKeys)} />
      <MoreRows more={hasMore(result.data?.adminKeys)} shown={200} />
      <DataTable
        columns={['Name', 'Prefix', 'Created', 'Status']}
        actions
        empty={listPlaceholder(result, result.data?.adminKeys, keys.length, {
          what: 'the admin keys',
          empty: 'No admin keys.',
        })}
      >
        {keys.map((k) => (
          <AdminKeyRow key={k.id} k={k} onRevoke={() => revokeKey(k)} />
        ))}
      </DataTable>
    </section>
  );
}

function AdminKeyRow({ k, onRevoke }: { k: AdminKey; onRevoke: () => unknown }) {
  const expired = k.expiresAt != null && Date.parse(k.expiresAt) <= Date.now();
  return (
    <tr>
      <td>{k.name ?? <span className="muted">—</span>}</td>
      <td>
        <span className="mono">{k.prefix}…</span>
        {k.current ? <span className="badge badge-session">this session</span> : null}
      </td>
      <td>
        <When iso={k.createdAt} />
      </td>
      <td>
        {k.revokedAt ? (
          <>
            <StatusBadge status="revoked" /> at <When iso={k.revokedAt} />
          </>
        ) : expired ? (
          <>
            <StatusBadge status="expired" /> at <When iso={k.expiresAt} />
          </>
        ) : k.expiresAt ? (
          <>
            <StatusBadge status="active" /> until <When iso={k.expiresAt} />
          </>
        ) : (
          <StatusBadge status="active" />
        )}
      </td>
      <td>
        {k.revokedAt || expired ? null : (
          <ConfirmButton
            question={
              k.current
                ? `Revoke key ${k.prefix}…? It is the key of this session: you will be signed out and must sign in again with another admin key.`
                : `Revoke key ${k.prefix}…? Requests with it are refused at once.`
            }
            onConfirm={onRevoke}
          >
            Revoke <span className="sr-only">key {k.prefix}</span>
          </ConfirmButton>
        )}
      </td>
    </tr>
  );
}
