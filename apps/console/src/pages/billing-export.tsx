import { useState } from 'react';
import type { Report } from '../App.tsx';
import { type ExportFormat, exportFileName, exportLineCount, exportPath } from '../billing.ts';
import { storedKey } from '../client.ts';
import { describeError } from '../errors.ts';
import { AlertLine, Notice } from '../ui/feedback.tsx';

/**
 * The month's billing export from the control plane. It needs the admin key, so it is fetched
 * with the Authorization header and the blob handed to the browser as a download.
 */
export function BillingExport({ month, report }: { month: string; report: Report }) {
  const [busy, setBusy] = useState<ExportFormat | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const download = async (format: ExportFormat) => {
    setBusy(format);
    setMessage(null);
    setProblem(null);
    try {
      const res = await fetch(exportPath(month, format), {
        headers: { authorization: `Bearer ${storedKey() ?? ''}` },
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as {
          error?: { message?: string };
        } | null;
        if (res.status === 401 || res.status === 403)
          return report(describeError({ response: { status: res.status } }));
        return setProblem(
          `The export failed (${res.status}): ${body?.error?.message ?? res.statusText}`,
        );
      }
      const blob = await res.blob();
      const lines = exportLineCount(await blob.text(), format);
      const name = exportFileName(month, format);
      saveBlob(blob, name);
      setMessage(`Downloaded ${name}: ${lines} line${lines === 1 ? '' : 's'}.`);
    } catch (err) {
      report(describeError({ networkError: { message: String(err) } }));
    } finally {
      setBusy(null);
    }
  };
  return (
    <section aria-labelledby="export-h" className="export">
      <h2 id="export-h">Billing export for {month}</h2>
      <p className="muted small">
        One line per sub-account × model × tag set of the UTC month, in micro-USD; the lines add up
        to the month's usage.
      </p>
      <div className="actions">
        <button type="button" disabled={busy !== null} onClick={() => download('csv')}>
          {busy === 'csv' ? 'Preparing…' : `Download CSV (${month})`}
        </button>
        <button type="button" disabled={busy !== null} onClick={() => download('jsonl')}>
          {busy === 'jsonl' ? 'Preparing…' : `Download JSON lines (${month})`}
        </button>
      </div>
      <AlertLine text={problem} />
      {message ? <Notice>{message}</Notice> : null}
    </section>
  );
}

/** Hands a blob to the browser as a download named `fileName` (through a temporary link). */
function saveBlob(blob: Blob, fileName: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
