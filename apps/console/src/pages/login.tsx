import { type FormEvent, useState } from 'react';
import { describeError, type Problem } from '../errors.ts';
import { Alert } from '../ui/feedback.tsx';

/** Checks the pasted key with one query before keeping it (in sessionStorage, this tab only). */
export function Login({
  problem,
  onSignedIn,
}: {
  problem: Problem | null;
  onSignedIn: (key: string) => void;
}) {
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Problem | null>(problem);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const key = value.trim();
    if (!key) {
      setError({
        kind: 'input',
        message: 'Paste the admin key (sk-tg-admin-…) printed at first start.',
      });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: '{ workspace { id } }' }),
      });
      const body = (await res.json().catch(() => null)) as {
        data?: { workspace?: { id: string } };
        errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
      } | null;
      if (body?.data?.workspace?.id) onSignedIn(key);
      else
        setError(
          describeError({
            graphQLErrors: body?.errors ?? [],
            response: { status: res.status },
          }) ?? {
            kind: 'auth',
            message: 'The admin key was refused.',
          },
        );
    } catch (err) {
      setError(describeError({ networkError: { message: String(err) } }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="login">
      <h1>Tollgate console</h1>
      <form onSubmit={submit} aria-describedby="login-help">
        <label htmlFor="admin-key">Admin key</label>
        <input
          id="admin-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="sk-tg-admin-…"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <p id="login-help" className="muted">
          The key printed once when Tollgate first started. It stays in this browser tab only
          (session storage) and is sent to this server alone.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
      <Alert problem={error} />
    </main>
  );
}
