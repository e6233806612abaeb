import type { ClientRequest } from 'node:http';
import type { Outcome } from '../flight.ts';
import type { ForwardJob } from './proxy.ts';

/** One forwarded request while the proxy works on it. */
export interface Live {
  job: ForwardJob;
  proxyReq: ClientRequest | null;
  timedOut: boolean;
  ended: boolean;
  /** Number of the upstream call in progress (0 = first); answers of earlier ones are ignored. */
  attempt: number;
  /** What a stream has produced so far, for an end that comes from outside the tap. */
  partial: (() => Partial<Outcome>) | null;
}

export function outcome(
  fields: Partial<Outcome> & Pick<Outcome, 'status' | 'httpStatus'>,
): Outcome {
  return {
    errorClass: null,
    usage: null,
    served: false,
    outputEstimate: 0,
    ttftMs: null,
    servedModel: null,
    ...fields,
  };
}
