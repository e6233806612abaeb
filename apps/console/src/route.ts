// Hash routes (`#/sub-accounts/sa_…`): the console is one page served at `/`.

export type Route =
  | { page: 'sub-accounts' }
  | { page: 'sub-account'; id: string }
  | { page: 'tags' }
  | { page: 'live' }
  | { page: 'webhooks' }
  | { page: 'webhook'; id: string }
  | { page: 'provider-keys' }
  | { page: 'prices' }
  | { page: 'plans' }
  | { page: 'settings' }
  | { page: 'not-found'; path: string };

const ID = /^[A-Za-z0-9_-]{1,100}$/;

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\/+$/, '') || '/sub-accounts';
  const parts = path.split('/').filter(Boolean);
  const [first, second, ...rest] = parts;
  if (rest.length > 0) return { page: 'not-found', path };
  switch (first) {
    case 'sub-accounts':
      if (second === undefined) return { page: 'sub-accounts' };
      return ID.test(second) ? { page: 'sub-account', id: second } : { page: 'not-found', path };
    case 'webhooks':
      if (second === undefined) return { page: 'webhooks' };
      return ID.test(second) ? { page: 'webhook', id: second } : { page: 'not-found', path };
    case 'tags':
    case 'live':
    case 'provider-keys':
    case 'prices':
    case 'plans':
    case 'settings':
      return second === undefined ? { page: first } : { page: 'not-found', path };
    default:
      return { page: 'not-found', path };
  }
}

export function href(route: Route): string {
  switch (route.page) {
    case 'sub-account':
      return `#/sub-accounts/${route.id}`;
    case 'webhook':
      return `#/webhooks/${route.id}`;
    case 'not-found':
      return '#/sub-accounts';
    default:
      return `#/${route.page}`;
  }
}
