import { type CompiledPolicy, providerRouteFor, subAccountRouteFor } from '@tollgate/policy';

/** Platform credentials of one provider (SPEC §2: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, …). */
export interface UpstreamConfig {
  /** Base URL including the API version segment, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  apiKey?: string | null;
  /** Wire flavour: `openai` (default; `{base}/v1/...`, bearer key) or `azure` (Azure OpenAI:
   * `{base}/openai/deployments/{deployment}/...?api-version=`, `api-key` header, no `model`). */
  kind?: 'openai' | 'azure';
  /** Azure OpenAI `api-version` (default {@link AZURE_DEFAULT_API_VERSION}). */
  apiVersion?: string;
}

/** The latest GA data-plane inference version of the deployment-style Azure OpenAI API. */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

/** Azure OpenAI settings of a resolved upstream; null for OpenAI-style upstreams. */
export interface AzureFlavour {
  apiVersion: string;
}

const DEFAULT_BASE_URLS: Record<string, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com/v1',
};

export type ResolvedUpstream =
  | {
      ok: true;
      baseUrl: string;
      apiKey: string | null;
      byok: boolean;
      /** The base URL is a workspace's (a BYOK route's `base_url`), not the operator's: its
       * connections are refused on non-public addresses (TOLLGATE_ALLOW_PRIVATE_UPSTREAMS). */
      workspaceBaseUrl: boolean;
      azure: AzureFlavour | null;
    }
  | { ok: false; message: string };

/** The sub-account's own key for the provider (sub-account BYOK) first, then the workspace's
 * (BYOK), else the platform's credentials. */
export function resolveUpstream(
  policy: CompiledPolicy,
  workspaceId: string,
  provider: string,
  upstreams: Readonly<Record<string, UpstreamConfig | undefined>>,
  openKey: (sealed: string) => string,
  subAccountId?: string,
): ResolvedUpstream {
  const platform = upstreams[provider];
  const platformAzure = platform?.kind === 'azure';
  const azure: AzureFlavour | null = platformAzure
    ? { apiVersion: platform.apiVersion ?? AZURE_DEFAULT_API_VERSION }
    : null;
  const route =
    (subAccountId === undefined ? undefined : subAccountRouteFor(policy, subAccountId, provider)) ??
    providerRouteFor(policy, workspaceId, provider);
  if (route !== undefined) {
    const baseUrl = route.baseUrl ?? platform?.baseUrl ?? DEFAULT_BASE_URLS[provider];
    if (baseUrl === undefined) {
      return { ok: false, message: `No base URL is known for provider ${provider}.` };
    }
    // The route's own flavour when it declares Azure (its api-version, else the platform's, else
    // the default); a route without a kind keeps the platform's flavour and api-version.
    const routeAzure: AzureFlavour | null =
      route.kind === 'azure'
        ? {
            apiVersion:
              route.apiVersion ??
              (platformAzure ? platform.apiVersion : undefined) ??
              AZURE_DEFAULT_API_VERSION,
          }
        : route.kind === 'openai'
          ? null
          : azure;
    try {
      const apiKey = openKey(route.sealedApiKey);
      return {
        ok: true,
        baseUrl,
        apiKey,
        byok: true,
        workspaceBaseUrl: route.baseUrl != null,
        azure: routeAzure,
      };
    } catch {
      return { ok: false, message: `The provider key for ${provider} cannot be opened.` };
    }
  }
  if (platform === undefined) {
    return { ok: false, message: `No upstream is configured for provider ${provider}.` };
  }
  const apiKey = platform.apiKey ?? null;
  return {
    ok: true,
    baseUrl: platform.baseUrl,
    apiKey,
    byok: false,
    workspaceBaseUrl: false,
    azure,
  };
}

export function endpointUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}

/** Azure OpenAI's URL of an endpoint for one deployment:
 * `{base}/openai/deployments/{deployment}{path}?api-version=…` (a base given with `/openai` too). */
export function azureEndpointUrl(
  baseUrl: string,
  deployment: string,
  path: string,
  apiVersion: string,
): string {
  const base = baseUrl.replace(/\/+$/, '').replace(/\/openai$/, '');
  const query = new URLSearchParams({ 'api-version': apiVersion });
  return `${base}/openai/deployments/${encodeURIComponent(deployment)}${path}?${query}`;
}
