import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import {
  firstLedgerPage,
  ledgerCursor,
  ledgerNext,
  ledgerPrevious,
  lowBalanceText,
  microsToCents,
  parseReference,
  parseTopUpAmount,
} from '../billing.ts';
import { type NodeOf, nodesOf } from '../connection.ts';
import { describeError, resultError } from '../errors.ts';
import {
  type SubAccountLedgerQuery,
  SubAccountLedgerQueryDocument,
  TopUpCreditsMutationDocument,
} from '../generated/graphql.ts';
import { formatUsd } from '../money.ts';
import { AlertLine, Notice } from '../ui/feedback.tsx';
import { Field } from '../ui/forms.tsx';
import { When } from '../ui/labels.tsx';
import { Pager } from '../ui/tables.tsx';

export const LEDGER_PAGE = 20;

type Ledger = Extract<
  SubAccountLedgerQuery['subAccountLedger'],
  { __typename: 'SubAccountLedgerConnection' }
>;
type LedgerEntry = NodeOf<Ledger>;

/** A prepaid sub-account's balance, its top-up form and its ledger (paged, oldest first). */
export function Balance({
  id,
  lowBalanceThresholdCents,
  refresh,
  report,
  onToppedUp,
}: {
  id: string;
  /** Its own `balance.low` threshold; null = the default (a share of the credits). */
  lowBalanceThresholdCents: number | null;
  refresh: string;
  report: Report;
  /** The sub-account's cap is its credits: its page reloads after a top-up. */
  onToppedUp: () => void;
}) {
  const [pager, setPager] = useState(firstLedgerPage);
  const [result, reexecute] = useQuery({
    query: SubAccountLedgerQueryDocument,
    variables: { id, first: LEDGER_PAGE, after: ledgerCursor(pager) },
  });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  // Spend and budget events of this sub-account (its draws) refresh the balance.
  useEffect(() => {
    if (refresh !== '|') reexecute({ requestPolicy: 'network-only' });
  }, [refresh, reexecute]);
  const ledger = result.data?.subAccountLedger;
  const data = ledger?.__typename === 'SubAccountLedgerConnection' ? ledger : null;
  const entries = data ? nodesOf(data) : undefined;
  // A page's `endCursor` starts the next one, when there is one.
  const nextCursor = data?.pageInfo.hasNextPage ? data.pageInfo.endCursor : null;
  const page = pager.cursors.length;
  return (
    <section aria-labelledby="balance-h" className="balance">
      <h2 id="balance-h">Prepaid balance</h2>
      {ledger && !data ? (
        <p className="alert" role="alert">
          {'message' in ledger ? ledger.message : 'The ledger is unavailable.'}
        </p>
      ) : null}
      <div className="cards">
        <BalanceFigures
          balance={data?.balance}
          lowBalanceThresholdCents={lowBalanceThresholdCents}
        />
        <TopUp
          id={id}
          report={report}
          onDone={() => {
            reexecute({ requestPolicy: 'network-only' });
            onToppedUp();
          }}
        />
      </div>
      <h3 id="ledger-h">Ledger</h3>
      <LedgerTable entries={entries} />
      <Pager
        label="Ledger pages"
        previousLabel="Previous entries"
        nextLabel="Next entries"
        canPrevious={page !== 1}
        canNext={Boolean(nextCursor)}
        onPrevious={() => setPager(ledgerPrevious)}
        onNext={() => setPager((p) => ledgerNext(p, nextCursor))}
      >
        Ledger page {page}
        {entries ? ` · ${entries.length} shown` : ''}
      </Pager>
    </section>
  );
}

function TopUp({ id, report, onDone }: { id: string; report: Report; onDone: () => void }) {
  const [amount, setAmount] = useState('');
  const [reference, setReference] = useState('');
  const [errors, setErrors] = useState<{ amount?: string; reference?: string }>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [state, topUp] = useMutation(TopUpCreditsMutationDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setMessage(null);
    const a = parseTopUpAmount(amount);
    const ref = parseReference(reference);
    if (!a.ok || !ref.ok) {
      setErrors({
        ...(a.ok ? {} : { amount: a.error }),
        ...(ref.ok ? {} : { reference: ref.error }),
      });
      setProblem('Fix the marked fields; nothing was credited.');
      return;
    }
    setErrors({});
    const r = await topUp({
      subAccountId: id,
      input: { amountCents: a.value, reference: ref.value },
    });
    report(describeError(r.error));
    const out = r.data?.topUpCredits;
    const err = resultError(out);
    setProblem(err);
    if (out?.__typename === 'TopUpPayload') {
      const left = formatUsd(microsToCents(out.balance.balanceMicroUsd));
      setMessage(
        out.idempotentReplay
          ? `Already credited: ${ref.value} was topped up before (${formatUsd(out.credit.amountCents)}); nothing changed. Balance ${left}.`
          : `Credited ${formatUsd(out.credit.amountCents)} (${ref.value}). Balance ${left}.`,
      );
      onDone();
    }
  };
  return (
    <form className="card top-up" onSubmit={submit} noValidate aria-labelledby="topup-h">
      <h3 id="topup-h">Top up</h3>
      <Field label="Amount (USD)" hint="Whole cents, up to $1,000,000" error={errors.amount}>
        {(fid, describedBy) => (
          <input
            id={fid}
            inputMode="decimal"
            placeholder="50.00"
            aria-describedby={describedBy}
            aria-invalid={errors.amount ? true : undefined}
            value={amount}
            onChange={(e) => setAmount(e.target.value)}
          />
        )}
      </Field>
      <Field
        label="Reference"
        hint="Invoice or payment id; the same one again credits once"
        error={errors.reference}
      >
        {(fid, describedBy) => (
          <input
            id={fid}
            placeholder="invoice-2026-0042"
            aria-describedby={describedBy}
            aria-invalid={errors.reference ? true : undefined}
            value={reference}
            onChange={(e) => setReference(e.target.value)}
          />
        )}
      </Field>
      <AlertLine text={problem} />
      {message ? <Notice>{message}</Notice> : null}
      <button type="submit" disabled={state.fetching}>
        {state.fetching ? 'Crediting…' : 'Add credits'}
      </button>
    </form>
  );
}

/** Credits bought, drawn and left, and where `balance.low` fires. */
function BalanceFigures({
  balance,
  lowBalanceThresholdCents,
}: {
  balance: Ledger['balance'] | undefined;
  lowBalanceThresholdCents: number | null;
}) {
  return (
    <div className="card">
      <dl className="figures" data-testid="balance">
        <div>
          <dt>Credits</dt>
          <dd data-testid="credits">
            {balance ? formatUsd(microsToCents(balance.creditsMicroUsd)) : '—'}
          </dd>
        </div>
        <div>
          <dt>Draws</dt>
          <dd data-testid="draws">
            {balance ? formatUsd(microsToCents(balance.drawsMicroUsd)) : '—'}
          </dd>
        </div>
        <div>
          <dt>Balance</dt>
          <dd data-testid="balance-left">
            <strong>{balance ? formatUsd(microsToCents(balance.balanceMicroUsd)) : '—'}</strong>
          </dd>
        </div>
      </dl>
      <p className="small" data-testid="low-balance">
        Low-balance alert (balance.low):{' '}
        {lowBalanceText(lowBalanceThresholdCents, balance?.creditsMicroUsd)}
      </p>
    </div>
  );
}

/** The ledger's entries: top-ups with their reference, and one line of draws per day. */
function LedgerTable({ entries }: { entries: LedgerEntry[] | undefined }) {
  return (
    <div className="table-wrap">
      <table className="data" aria-labelledby="ledger-h">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Entry</th>
            <th scope="col">Reference / requests</th>
            <th scope="col" className="num">
              Amount
            </th>
          </tr>
        </thead>
        <tbody className="ledger">
          {entries && entries.length === 0 ? (
            <tr>
              <td colSpan={4} className="muted">
                No top-ups or usage yet.
              </td>
            </tr>
          ) : null}
          {entries?.map((e) => (
            <tr key={e.id} className={`ledger-${e.kind}`}>
              <td>
                {e.kind === 'draw' ? (
                  <time dateTime={e.at}>{e.at.slice(0, 10)}</time>
                ) : (
                  <When iso={e.at} />
                )}
              </td>
              <td>
                <span className={`badge badge-${e.kind}`}>
                  {e.kind === 'credit' ? 'top-up' : 'usage'}
                </span>
              </td>
              <td className="small">
                {e.kind === 'credit'
                  ? `${e.reference ?? ''}${e.actor ? ` · by ${e.actor}` : ''}`
                  : `${(e.requests ?? 0).toLocaleString('en-US')} requests that day`}
              </td>
              <td className="num">{formatUsd(microsToCents(e.amountMicroUsd))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
