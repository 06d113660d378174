/**
 * The typed client of the billing service's HTTP API (docs/api.md; the routes are in the OpenAPI document).
 *
 * Every call resolves to `{success: true, data}` or `{success: false, error}` where `error` is
 * the problem+json body (RFC 9457, with its stable `code`). It never throws for an HTTP error
 * or a network failure, so callers branch on `result.success` and then on `error.code`.
 * Request and response types come from `src/types/stripe.ts`, generated from the service's
 * OpenAPI; routes not in that document yet fall back to the agreed shapes until it has them.
 *
 * Card data never passes through here: cards go from Stripe Elements to Stripe.
 */
import type { AdminDashboard } from '../components/AdminFinancialDashboard/types';
import type { paths } from '../types/stripe';

type Method = 'get' | 'post' | 'delete';
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
/** The JSON body of a route's 200 response. */
export type ResponseOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { responses: { 200: { content: { 'application/json': infer T } } } }
    ? T
    : never;
/** The JSON request body of a route. */
export type RequestOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { requestBody: { content: { 'application/json': infer T } } }
    ? T
    : never;
/** The generated response type once the route is in the OpenAPI document, else `Fallback`. */
type Pending<P extends string, M extends Method, Fallback> = P extends keyof paths
  ? ResponseOf<P, M>
  : Fallback;

export type StripeConfig = ResponseOf<'/api/stripe/config', 'get'>;
export type ProductList = ResponseOf<'/api/stripe/products', 'get'>;
export type Product = ProductList['data'][number];
export type Price = Product['prices'][number];
export type CheckoutSessionRequest = RequestOf<'/api/stripe/create-checkout-session', 'post'>;
export type CheckoutSession = ResponseOf<'/api/stripe/create-checkout-session', 'post'>;
export type PaymentIntentRequest = RequestOf<'/api/stripe/create-payment-intent', 'post'>;
export type PaymentIntent = ResponseOf<'/api/stripe/create-payment-intent', 'post'>;
export type SubscriptionRequest = RequestOf<'/api/stripe/create-subscription', 'post'>;
export type SubscriptionCreated = ResponseOf<'/api/stripe/create-subscription', 'post'>;
export type Subscription = ResponseOf<'/api/stripe/subscriptions/{subscription_id}', 'delete'>;
export type PortalLink = ResponseOf<'/api/stripe/customer-portal', 'get'>;
export type SubscriptionSummary = ResponseOf<'/api/financial/subscriptions/{user_id}/summary', 'get'>;
export type CreditBalance = ResponseOf<'/api/financial/credits/{user_id}', 'get'>;
export type CreditHistoryPage = ResponseOf<'/api/financial/credits/{user_id}/transactions', 'get'>;
export type CreditHistoryItem = CreditHistoryPage['data'][number];
export type AddCreditsRequest = RequestOf<'/api/financial/credits/{user_id}/add', 'post'>;
export type SpendCreditsRequest = RequestOf<'/api/financial/credits/{user_id}/spend', 'post'>;
export type CreditTransaction = ResponseOf<'/api/financial/credits/{user_id}/spend', 'post'>;
export type WebhookEventPage = ResponseOf<'/api/admin/webhooks', 'get'>;
export type WebhookEvent = WebhookEventPage['data'][number];
export type Dashboard = Pending<'/api/financial/admin/dashboard', 'get', AdminDashboard>;
export type AuditLog = Pending<'/api/admin/audit', 'get', { data: Record<string, unknown>[] }>;
export type UserExport = Pending<'/api/financial/export/{user_id}', 'get', Record<string, unknown>>;
export type Erasure = Pending<'/api/users/{user_id}/personal-data', 'delete', unknown>;

/** An RFC 9457 problem: `code` is stable, `title` and `detail` are for people. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  [extra: string]: unknown;
}

export type ApiResult<T> = { success: true; data: T } | { success: false; error: Problem };

export interface CallOptions {
  /** Sent as `Idempotency-Key`; POST and DELETE get a fresh one when it is not given. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export function isProblem(value: object): value is Problem {
  return 'code' in value && 'status' in value && 'title' in value;
}

/** A signed-in caller: the bearer token and the user it speaks for. */
export interface Auth {
  token: string;
  userId: number;
  role: 'user' | 'admin';
}

export interface ServiceOptions {
  /** The service's origin; '' (the default) means the page's own. */
  baseUrl?: string;
  fetch?: typeof fetch;
}

export interface DevSignInResult {
  token: string;
  user_id: number;
  role: 'user' | 'admin';
  expires_at: string;
}
type Query = Record<string, string | number | boolean | null | undefined>;

interface Call extends CallOptions {
  query?: Query;
  body?: unknown;
}

/** A random key: `crypto.getRandomValues` also works on pages that are not secure contexts. */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** A problem from an HTTP answer: the body when it is problem+json, else one made from the status. */
export function problemOf(status: number, statusText: string, body: unknown): Problem {
  if (body && typeof body === 'object' && 'code' in body && 'title' in body) {
    return { type: 'about:blank', status, ...(body as Partial<Problem>) } as Problem;
  }
  return {
    type: 'about:blank',
    title: statusText || `HTTP ${status}`,
    status,
    code: `http_${status}`,
    detail: `The service answered ${status} ${statusText}`.trim() + '.',
  };
}

export const NETWORK_PROBLEM: Problem = {
  type: 'about:blank',
  title: 'The service could not be reached',
  status: 0,
  code: 'network_error',
  detail: 'Check your connection and try again.',
};

function path(template: string, ...values: (string | number)[]): string {
  let index = 0;
  return template.replace(/\{[^}]+\}/g, () => encodeURIComponent(String(values[index++])));
}

export class StripeService {
  private auth: Auth | null = null;
  private readonly baseUrl: string;
  private readonly fetcher: typeof fetch;

  constructor(options: ServiceOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/$/, '');
    this.fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Who calls from now on (null: nobody, only public routes work). */
  setAuth(auth: Auth | null): void {
    this.auth = auth;
  }

  /** The bearer token of who calls, for the app's other API client (`lib/api.ts`). */
  get token(): string | null {
    return this.auth?.token ?? null;
  }

  /** The signed-in user's id, for components that act for "the current user". */
  get userId(): number | null {
    return this.auth?.userId ?? null;
  }

  async request<T>(method: string, route: string, call: Call = {}): Promise<ApiResult<T>> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.auth) headers.Authorization = `Bearer ${this.auth.token}`;
    if (call.body !== undefined) headers['Content-Type'] = 'application/json';
    if (method === 'POST' || method === 'DELETE') {
      headers['Idempotency-Key'] = call.idempotencyKey ?? newIdempotencyKey();
    }
    let response: Response;
    try {
      response = await this.fetcher(this.url(route, call.query), {
        method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal: call.signal,
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') throw error;
      return { success: false, error: NETWORK_PROBLEM };
    }
    const body: unknown = await response.json().catch(() => null);
    if (response.ok) return { success: true, data: body as T };
    return { success: false, error: problemOf(response.status, response.statusText, body) };
  }

  private url(route: string, query: Query = {}): string {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) search.set(key, String(value));
    }
    const text = search.toString();
    return `${this.baseUrl}${route}${text ? `?${text}` : ''}`;
  }

  // --- Stripe: configuration, catalog, checkout, payments, subscriptions, portal ---

  getConfig(options?: CallOptions) {
    return this.request<StripeConfig>('GET', '/api/stripe/config', options);
  }

  getProducts(options?: CallOptions) {
    return this.request<ProductList>('GET', '/api/stripe/products', options);
  }

  createCheckoutSession(body: CheckoutSessionRequest, options?: CallOptions) {
    const route = '/api/stripe/create-checkout-session';
    return this.request<CheckoutSession>('POST', route, { ...options, body });
  }

  createPaymentIntent(body: PaymentIntentRequest, options?: CallOptions) {
    const route = '/api/stripe/create-payment-intent';
    return this.request<PaymentIntent>('POST', route, { ...options, body });
  }

  createSubscription(body: SubscriptionRequest, options?: CallOptions) {
    const route = '/api/stripe/create-subscription';
    return this.request<SubscriptionCreated>('POST', route, { ...options, body });
  }

  /** Cancel at the end of the paid period (the default) or, with `atPeriodEnd: false`, now. */
  cancelSubscription(subscriptionId: string, atPeriodEnd = true, options?: CallOptions) {
    const route = path('/api/stripe/subscriptions/{subscription_id}', subscriptionId);
    const query = { at_period_end: atPeriodEnd };
    return this.request<Subscription>('DELETE', route, { ...options, query });
  }

  listSubscriptions(userId: number, options?: CallOptions) {
    const route = path('/api/stripe/subscriptions/{user_id}', userId);
    return this.request<Subscription[]>('GET', route, options);
  }

  getCustomerPortal(query: { user_id: number; return_url: string }, options?: CallOptions) {
    return this.request<PortalLink>('GET', '/api/stripe/customer-portal', { ...options, query });
  }

  // --- Credits ---

  getCreditBalance(userId: number, options?: CallOptions) {
    const route = path('/api/financial/credits/{user_id}', userId);
    return this.request<CreditBalance>('GET', route, options);
  }

  listCreditTransactions(
    userId: number,
    query: { limit?: number; cursor?: string | null } = {},
    options?: CallOptions,
  ) {
    const route = path('/api/financial/credits/{user_id}/transactions', userId);
    return this.request<CreditHistoryPage>('GET', route, { ...options, query });
  }

  addCredits(userId: number, body: AddCreditsRequest, options?: CallOptions) {
    const route = path('/api/financial/credits/{user_id}/add', userId);
    return this.request<CreditTransaction>('POST', route, { ...options, body });
  }

  spendCredits(userId: number, body: SpendCreditsRequest, options?: CallOptions) {
    const route = path('/api/financial/credits/{user_id}/spend', userId);
    return this.request<CreditTransaction>('POST', route, { ...options, body });
  }

  // --- Reporting ---

  getSubscriptionSummary(userId: number, options?: CallOptions) {
    const route = path('/api/financial/subscriptions/{user_id}/summary', userId);
    return this.request<SubscriptionSummary>('GET', route, options);
  }

  /** Dates are UTC days (YYYY-MM-DD), both inclusive; the service defaults to the last 30. */
  getAdminDashboard(range: { from?: string; to?: string } = {}, options?: CallOptions) {
    const route = '/api/financial/admin/dashboard';
    return this.request<Dashboard>('GET', route, { ...options, query: range });
  }

  // --- Administration and compliance ---

  listWebhookEvents(
    query: { status?: string; limit?: number; cursor?: string | null } = {},
    options?: CallOptions,
  ) {
    return this.request<WebhookEventPage>('GET', '/api/admin/webhooks', { ...options, query });
  }

  replayWebhookEvent(eventId: string, options?: CallOptions) {
    const route = path('/api/admin/webhooks/{event_id}/replay', eventId);
    return this.request<WebhookEvent>('POST', route, options);
  }

  getAuditLog(filters: Query = {}, options?: CallOptions) {
    return this.request<AuditLog>('GET', '/api/admin/audit', { ...options, query: filters });
  }

  exportUserData(userId: number, options?: CallOptions) {
    const route = path('/api/financial/export/{user_id}', userId);
    return this.request<UserExport>('GET', route, options);
  }

  erasePersonalData(userId: number, options?: CallOptions) {
    const route = path('/api/users/{user_id}/personal-data', userId);
    return this.request<Erasure>('DELETE', route, options);
  }

  // --- Operations ---

  health(options?: CallOptions) {
    return this.request<ResponseOf<'/healthz', 'get'>>('GET', '/healthz', options);
  }

  ready(options?: CallOptions) {
    return this.request<ResponseOf<'/readyz', 'get'>>('GET', '/readyz', options);
  }

  // --- Development only (not in the contract): the demo app's sign-in ---

  devSignIn(body: { user_id: number; role: 'user' | 'admin' }, options?: CallOptions) {
    return this.request<DevSignInResult>('POST', '/api/dev/sign-in', { ...options, body });
  }
}

/** The app's client: same origin as the page. */
export const stripeService = new StripeService();
