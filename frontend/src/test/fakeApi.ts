/**
 * A stand-in for the billing service in component tests: routes answer with JSON, and every
 * request is recorded (method, path, query, headers, body) so tests can assert what was sent.
 */
import type { Stripe } from '@stripe/stripe-js';
import { vi } from 'vitest';
import { StripeService } from '../services/stripe';

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

export interface Answer {
  status?: number;
  body: unknown;
}

type Route = Answer | ((request: Recorded) => Answer | Promise<Answer>);

export function problem(status: number, code: string, detail: string): Answer {
  return { status, body: { type: 'about:blank', title: code, status, code, detail } };
}

export function fakeApi(routes: Record<string, Route>) {
  const calls: Recorded[] = [];
  // Both clients: StripeService calls fetch(url, init); openapi-fetch calls fetch(request).
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const asked = input instanceof Request ? input : null;
    const url = new URL(asked ? asked.url : String(input), 'http://billing.test');
    const text = asked ? await asked.clone().text() : init.body;
    const request: Recorded = {
      method: asked?.method ?? init.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: new Headers(asked?.headers ?? init.headers),
      body: typeof text === 'string' && text ? JSON.parse(text) : undefined,
    };
    calls.push(request);
    const route = routes[`${request.method} ${request.path}`];
    const answer = typeof route === 'function' ? await route(request) : route;
    const { status = 200, body } = answer ?? problem(404, 'not_found', 'No such route.');
    const empty = status === 204 || body === undefined;
    return new Response(empty ? null : JSON.stringify(body), {
      status,
      headers: empty ? {} : { 'Content-Type': status < 400 ? 'application/json' : 'application/problem+json' },
    });
  });
  const service = new StripeService({ fetch });
  return { service, calls, fetch, sent: (method: string, path: string) => calls.filter((c) => c.method === method && c.path === path) };
}

/**
 * Enough of Stripe.js for `<Elements>` and `<CardElement>`: the card element is a plain object,
 * and `confirmCardPayment` answers as the test says.
 */
export function fakeStripe(confirm: (secret: string, data: unknown) => Promise<unknown>) {
  const element = {
    mount: vi.fn(),
    unmount: vi.fn(),
    destroy: vi.fn(),
    on: vi.fn(),
    off: vi.fn(),
    update: vi.fn(),
  };
  const elements = { create: vi.fn(() => element), getElement: vi.fn(() => element), update: vi.fn() };
  const confirmCardPayment = vi.fn(confirm);
  const stripe = {
    elements: vi.fn(() => elements),
    createToken: vi.fn(),
    createPaymentMethod: vi.fn(),
    confirmCardPayment,
  };
  return { stripe: stripe as unknown as Stripe, element, confirmCardPayment };
}

/** A promise and the functions that settle it, for "while it is still running" checks. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
