import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { hasMore, listError, listPlaceholder, nodesOf } from '../connection.ts';
import { describeError, resultError } from '../errors.ts';
import {
  CreateWebhookMutationDocument,
  DeleteWebhookMutationDocument,
  ReplayWebhookDeliveryMutationDocument,
  RotateWebhookSecretMutationDocument,
  UpdateWebhookMutationDocument,
  WebhookDeliveriesQueryDocument,
  WebhooksQueryDocument,
} from '../generated/graphql.ts';
import { AlertLine, MoreRows, Notice, OnceSecret } from '../ui/feedback.tsx';
import { ConfirmButton, LabelledInput } from '../ui/forms.tsx';
import { StatusBadge, When } from '../ui/labels.tsx';
import { useLiveRefetch } from '../ui/live-context.ts';
import { DataTable } from '../ui/tables.tsx';
import { WEBHOOK_EVENTS } from '../webhook-events.ts';

/** The event names an endpoint can subscribe to (SPEC §8). */

export function WebhooksPage({ report }: { report: Report }) {
  const [result, reexecute] = useQuery({ query: WebhooksQueryDocument });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  useLiveRefetch(reexecute);
  const hooks = nodesOf(result.data?.webhooks);
  const [, update] = useMutation(UpdateWebhookMutationDocument);
  const [, del] = useMutation(DeleteWebhookMutationDocument);
  const [, rotate] = useMutation(RotateWebhookSecretMutationDocument);
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const act = async (
    run: () => Promise<{ error?: unknown; data?: Record<string, unknown> | null }>,
    done: string,
  ) => {
    const r = await run();
    report(describeError(r.error as never));
    const out = r.data
      ? (Object.values(r.data)[0] as { __typename: string; message?: string })
      : null;
    setMessage(resultError(out) ?? (r.error ? null : done));
    reexecute({ requestPolicy: 'network-only' });
    return out;
  };
  return (
    <section aria-labelledby="wh-h">
      <h1 id="wh-h">Webhooks</h1>
      {secret ? (
        <OnceSecret
          label={secret.label}
          secret={secret.value}
          kept="secret"
          onDone={() => setSecret(null)}
        />
      ) : null}
      {message ? <Notice>{message}</Notice> : null}
      <AlertLine text={listError(result.data?.webhooks)} />
      <MoreRows more={hasMore(result.data?.webhooks)} shown={200} />
      <DataTable
        columns={['URL', 'Events', 'Status', 'Created']}
        actions
        empty={listPlaceholder(result, result.data?.webhooks, hooks.length, {
          what: 'webhook endpoints',
          empty: 'No webhook endpoints.',
        })}
      >
        {hooks.map((w) => (
          <tr key={w.id}>
            <td className="mono small break">
              <a href={`#/webhooks/${w.id}`}>{w.url}</a>
            </td>
            <td className="small">{w.events.join(', ')}</td>
            <td>
              <StatusBadge status={w.status} />
            </td>
            <td>
              <When iso={w.createdAt} />
            </td>
            <td className="row-actions">
              <a href={`#/webhooks/${w.id}`}>Deliveries</a>
              <button
                type="button"
                className="secondary small"
                onClick={() =>
                  act(
                    () =>
                      update({
                        id: w.id,
                        status: w.status === 'enabled' ? 'disabled' : 'enabled',
                      }),
                    w.status === 'enabled' ? 'Endpoint disabled.' : 'Endpoint enabled.',
                  )
                }
              >
                {w.status === 'enabled' ? 'Disable' : 'Enable'}
                <span className="sr-only"> endpoint {w.url}</span>
              </button>
              <button
                type="button"
                className="secondary small"
                onClick={async () => {
                  const out = (await act(() => rotate({ id: w.id }), 'Secret rotated.')) as {
                    __typename: string;
                    secret?: string;
                  } | null;
                  if (out?.secret)
                    setSecret({ label: `New signing secret for ${w.url}`, value: out.secret });
                }}
              >
                Rotate secret <span className="sr-only">of endpoint {w.url}</span>
              </button>
              <ConfirmButton
                question={`Delete the endpoint ${w.url}?`}
                onConfirm={() => act(() => del({ id: w.id }), 'Endpoint deleted.')}
              >
                Delete <span className="sr-only">endpoint {w.url}</span>
              </ConfirmButton>
            </td>
          </tr>
        ))}
      </DataTable>
      <CreateWebhook
        report={report}
        onCreated={(s, url) => {
          setSecret({ label: `Signing secret for ${url}`, value: s });
          reexecute({ requestPolicy: 'network-only' });
        }}
      />
    </section>
  );
}

function CreateWebhook({
  report,
  onCreated,
}: {
  report: Report;
  onCreated: (secret: string, url: string) => void;
}) {
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>([
    'sub_account.budget.warning',
    'sub_account.budget.exhausted',
  ]);
  const [problem, setProblem] = useState<string | null>(null);
  const [state, create] = useMutation(CreateWebhookMutationDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!/^https?:\/\/\S+$/.test(url.trim())) return setProblem('Enter an http(s) URL.');
    if (events.length === 0) return setProblem('Pick at least one event.');
    const r = await create({ url: url.trim(), events });
    report(describeError(r.error));
    const out = r.data?.createWebhook;
    const err = resultError(out);
    setProblem(err);
    if (out?.__typename === 'CreateWebhookPayload') {
      setUrl('');
      onCreated(out.secret, url.trim());
    }
  };
  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby="wh-new">
      <h2 id="wh-new">New endpoint</h2>
      <LabelledInput
        id="wh-url"
        label="URL"
        type="url"
        value={url}
        onChange={(e) => setUrl(e.target.value)}
        placeholder="https://example.com/hooks/tollgate"
      />
      <fieldset>
        <legend>Events</legend>
        <div className="checks">
          {WEBHOOK_EVENTS.map((ev) => (
            <label key={ev}>
              <input
                type="checkbox"
                checked={events.includes(ev)}
                onChange={(e) =>
                  setEvents(e.target.checked ? [...events, ev] : events.filter((x) => x !== ev))
                }
              />{' '}
              {ev}
            </label>
          ))}
        </div>
      </fieldset>
      <AlertLine text={problem} />
      <button type="submit" disabled={state.fetching}>
        Create endpoint
      </button>
    </form>
  );
}

export function WebhookPage({ id, report }: { id: string; report: Report }) {
  const [result, reexecute] = useQuery({
    query: WebhookDeliveriesQueryDocument,
    variables: { webhookId: id },
  });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  useLiveRefetch(reexecute);
  const [, replay] = useMutation(ReplayWebhookDeliveryMutationDocument);
  const [message, setMessage] = useState<string | null>(null);
  const out = result.data?.webhookDeliveries;
  const endpoint = result.data?.webhook;
  const url = endpoint?.__typename === 'WebhookEndpoint' ? endpoint.url : null;
  return (
    <section aria-labelledby="dl-h">
      <p className="crumbs">
        <a href="#/webhooks">Webhooks</a> / {id}
      </p>
      <div className="section-head">
        <h1 id="dl-h">
          Deliveries{url !== null ? <span className="mono small muted"> to {url}</span> : null}
        </h1>
        <button
          type="button"
          className="secondary"
          onClick={() => reexecute({ requestPolicy: 'network-only' })}
        >
          Refresh
        </button>
      </div>
      {message ? <Notice>{message}</Notice> : null}
      <AlertLine text={listError(out)} />
      <MoreRows more={hasMore(out)} shown={100} />
      <DataTable
        columns={['Created', 'Event', 'Status', 'Attempts', 'Next attempt']}
        actions
        empty={listPlaceholder(result, out, nodesOf(out).length, {
          what: 'the deliveries',
          empty: 'No deliveries yet.',
        })}
      >
        {nodesOf(out).map((d) => (
          <tr key={d.id}>
            <td>
              <When iso={d.createdAt} />
              <div className="mono small muted">{d.id}</div>
            </td>
            <td className="small">{d.eventType}</td>
            <td>
              <StatusBadge status={d.status} />
            </td>
            <td className="small">
              <ol className="attempts">
                {d.attempts.map((a) => (
                  <li key={a.attempt}>
                    #{a.attempt}: {a.statusCode ?? a.error ?? 'no answer'} in {a.durationMs} ms
                  </li>
                ))}
              </ol>
            </td>
            <td>
              <When iso={d.nextAttemptAt} />
            </td>
            <td>
              <button
                type="button"
                className="secondary small"
                onClick={async () => {
                  const r = await replay({ webhookId: id, deliveryId: d.id });
                  report(describeError(r.error));
                  setMessage(
                    resultError(r.data?.replayWebhookDelivery) ?? `Delivery ${d.id} replayed.`,
                  );
                  reexecute({ requestPolicy: 'network-only' });
                }}
              >
                Replay <span className="sr-only">{d.id}</span>
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
