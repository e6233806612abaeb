import { describe, expect, it } from 'vitest';
import { platformUpstreams } from '../src/data-runtime.ts';
import { EnvError, parseEnv } from '../src/env.ts';

describe('platform providers (SPEC §2, §6)', () => {
  it('OpenAI and Anthropic credentials; ANTHROPIC_BASE_URL is the host, /v1 is added', () => {
    expect(platformUpstreams(parseEnv({}))).toEqual({});
    const env = parseEnv({
      OPENAI_API_KEY: 'sk-o',
      ANTHROPIC_API_KEY: 'sk-ant',
      ANTHROPIC_BASE_URL: 'http://proxy.internal:9000/',
    });
    expect(platformUpstreams(env)).toEqual({
      openai: { baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-o' },
      anthropic: { baseUrl: 'http://proxy.internal:9000/v1', apiKey: 'sk-ant' },
    });
    expect(platformUpstreams(parseEnv({ ANTHROPIC_API_KEY: 'k' })).anthropic).toEqual({
      baseUrl: 'https://api.anthropic.com/v1',
      apiKey: 'k',
    });
  });

  it('OpenAI-compatible providers by name from TOLLGATE_PROVIDER_<NAME>_BASE_URL / _API_KEY', () => {
    const env = parseEnv({
      TOLLGATE_PROVIDER_GROQ_BASE_URL: 'https://api.groq.com/openai/v1',
      TOLLGATE_PROVIDER_GROQ_API_KEY: 'gsk-1',
      TOLLGATE_PROVIDER_TOGETHER_AI_BASE_URL: 'https://api.together.xyz/v1',
      TOLLGATE_PROVIDER_OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1',
    });
    expect(platformUpstreams(env)).toEqual({
      groq: { baseUrl: 'https://api.groq.com/openai/v1', apiKey: 'gsk-1' },
      'together-ai': { baseUrl: 'https://api.together.xyz/v1', apiKey: null },
      ollama: { baseUrl: 'http://127.0.0.1:11434/v1', apiKey: null },
    });
  });

  it('Azure OpenAI by TOLLGATE_PROVIDER_<NAME>_KIND=azure, with an optional _API_VERSION', () => {
    const env = parseEnv({
      TOLLGATE_PROVIDER_AZURE_KIND: 'azure',
      TOLLGATE_PROVIDER_AZURE_BASE_URL: 'https://my-res.openai.azure.com',
      TOLLGATE_PROVIDER_AZURE_API_KEY: 'az-1',
      TOLLGATE_PROVIDER_AZURE_API_VERSION: '2024-06-01',
      TOLLGATE_PROVIDER_AZURE_EU_KIND: 'azure',
      TOLLGATE_PROVIDER_AZURE_EU_BASE_URL: 'https://eu-res.openai.azure.com',
      TOLLGATE_PROVIDER_GROQ_KIND: 'openai',
      TOLLGATE_PROVIDER_GROQ_BASE_URL: 'https://api.groq.com/openai/v1',
    });
    expect(platformUpstreams(env)).toEqual({
      azure: {
        baseUrl: 'https://my-res.openai.azure.com',
        apiKey: 'az-1',
        kind: 'azure',
        apiVersion: '2024-06-01',
      },
      'azure-eu': {
        baseUrl: 'https://eu-res.openai.azure.com',
        apiKey: null,
        kind: 'azure',
        apiVersion: undefined,
      },
      groq: { baseUrl: 'https://api.groq.com/openai/v1', apiKey: null },
    });
  });

  it('bad Azure variables are named', () => {
    let error: unknown;
    try {
      parseEnv({
        TOLLGATE_PROVIDER_A_KIND: 'bedrock',
        TOLLGATE_PROVIDER_A_BASE_URL: 'https://a.example',
        TOLLGATE_PROVIDER_B_KIND: 'azure',
        TOLLGATE_PROVIDER_B_BASE_URL: 'https://b.example',
        TOLLGATE_PROVIDER_B_API_VERSION: 'yesterday',
        TOLLGATE_PROVIDER_C_KIND: 'azure',
        TOLLGATE_PROVIDER_D_BASE_URL: 'https://d.example/v1',
        TOLLGATE_PROVIDER_D_API_VERSION: '2024-10-21',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvError);
    const text = (error as EnvError).problems.join('\n');
    expect(text).toContain('TOLLGATE_PROVIDER_A_KIND must be openai or azure');
    expect(text).toContain('TOLLGATE_PROVIDER_B_API_VERSION must be an api-version');
    expect(text).toContain('TOLLGATE_PROVIDER_C_KIND needs TOLLGATE_PROVIDER_C_BASE_URL');
    expect(text).toContain('TOLLGATE_PROVIDER_D_API_VERSION applies to KIND=azure only');
  });

  it('bad provider variables are named, secrets never echoed', () => {
    let error: unknown;
    try {
      parseEnv({
        TOLLGATE_PROVIDER_VLLM_BASE_URL: 'ftp://x',
        TOLLGATE_PROVIDER_GROQ_API_KEY: 'gsk-SECRET',
        TOLLGATE_PROVIDER_OPENAI_BASE_URL: 'https://x.example/v1',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvError);
    const text = (error as EnvError).problems.join('\n');
    expect(text).toContain('TOLLGATE_PROVIDER_VLLM_BASE_URL');
    expect(text).toContain('TOLLGATE_PROVIDER_GROQ_API_KEY needs TOLLGATE_PROVIDER_GROQ_BASE_URL');
    expect(text).toContain('TOLLGATE_PROVIDER_OPENAI_BASE_URL');
    expect(text).not.toContain('gsk-SECRET');
  });
});
