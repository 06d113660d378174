/**
 * The typed API client for new code: openapi-fetch over the generated `paths`
 * (`src/types/stripe.ts`, from the service's OpenAPI by `make types`), so a route, its
 * parameters and its answer are checked by the compiler.
 *
 * Every request carries the session's bearer token (the one `stripeService` holds: one
 * sign-in for both clients) and every POST, PUT, PATCH and DELETE an `Idempotency-Key`:
 * the caller's when given (so a retried action is the same action), else a fresh one.
 * `unwrap` turns an answer into its data or throws an `ApiError` holding the service's
 * problem+json, which is what TanStack Query's `error` then is.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import { NETWORK_PROBLEM, newIdempotencyKey, type Problem, problemOf, stripeService } from '../services/stripe';
import type { paths } from '../types/stripe';

export { newIdempotencyKey } from '../services/stripe';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** An answer that is not a success, or no answer at all: `problem` says which. */
export class ApiError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.name = 'ApiError';
    this.problem = problem;
  }
}

export const authenticate: Middleware = {
  onRequest({ request }) {
    const token = stripeService.token;
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    request.headers.set('Accept', 'application/json');
    if (WRITES.has(request.method) && !request.headers.has('Idempotency-Key')) {
      request.headers.set('Idempotency-Key', newIdempotencyKey());
    }
    return request;
  },
};

/** A client of the service at `baseUrl` (the page's own origin by default). */
export function createApi(baseUrl = globalThis.location?.origin ?? '') {
  // `fetch` is looked up at each call, so tests can stub the global one.
  const client = createClient<paths>({ baseUrl, fetch: (request) => globalThis.fetch(request) });
  client.use(authenticate);
  return client;
}

export const api = createApi();

/** The headers of an action that is to be the same action when retried. */
export function idempotent(key: string) {
  return { 'Idempotency-Key': key };
}

/** An action's input with its idempotency key, made when the person asked (a dialog opened). */
export interface Keyed<T> {
  key: string;
  input: T;
}

type Answer = { data?: unknown; error?: unknown; response: Response };
type DataOf<R> = R extends { data: infer D } ? D : never;

/** The answer's data, or an `ApiError` with the service's problem (or the network's). */
export async function unwrap<R extends Answer>(call: Promise<R>): Promise<DataOf<R>> {
  let answer: R;
  try {
    answer = await call;
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(NETWORK_PROBLEM);
  }
  const { response } = answer;
  if (response.ok) return answer.data as DataOf<R>;
  throw new ApiError(problemOf(response.status, response.statusText, answer.error));
}

/** The problem behind a query's or a mutation's error, whatever was thrown. */
export function problemFrom(error: unknown): Problem {
  if (error instanceof ApiError) return error.problem;
  return {
    type: 'about:blank',
    title: 'Something went wrong',
    status: 0,
    code: 'client_error',
    detail: error instanceof Error ? error.message : String(error),
  };
}
