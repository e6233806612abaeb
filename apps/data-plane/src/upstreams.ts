import { type CompiledPolicy, providerRouteFor } from '@tollgate/policy';

/** Platform credentials of one provider (SPEC §2: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, …). */
export interface UpstreamConfig {
  /** Base URL including the API version segment, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  apiKey?: string | null;
}

const DEFAULT_BASE_URLS: Record<string, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com/v1',
};

export type ResolvedUpstream =
  | { ok: true; baseUrl: string; apiKey: string | null; byok: boolean }
  | { ok: false; message: string };

/** The workspace's own key for the provider (BYOK) first, else the platform's credentials. */
export function resolveUpstream(
  policy: CompiledPolicy,
  workspaceId: string,
  provider: string,
  upstreams: Readonly<Record<string, UpstreamConfig | undefined>>,
  openKey: (sealed: string) => string,
): ResolvedUpstream {
  const platform = upstreams[provider];
  const route = providerRouteFor(policy, workspaceId, provider);
  if (route !== undefined) {
    const baseUrl = route.baseUrl ?? platform?.baseUrl ?? DEFAULT_BASE_URLS[provider];
    if (baseUrl === undefined) {
      return { ok: false, message: `No base URL is known for provider ${provider}.` };
    }
    try {
      return { ok: true, baseUrl, apiKey: openKey(route.sealedApiKey), byok: true };
    } catch {
      return { ok: false, message: `The provider key for ${provider} cannot be opened.` };
    }
  }
  if (platform === undefined) {
    return { ok: false, message: `No upstream is configured for provider ${provider}.` };
  }
  return { ok: true, baseUrl: platform.baseUrl, apiKey: platform.apiKey ?? null, byok: false };
}

export function endpointUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}
