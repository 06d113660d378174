/** The admin console's shapes, as the service's OpenAPI document defines them. */
import type { components, operations } from '../../types/stripe';

type Schemas = components['schemas'];

export type InboxEvent = Schemas['InboxEvent'];
export type InboxPage = Schemas['InboxPage'];
export type InboxStatus = NonNullable<
  NonNullable<operations['list_inbox_api_admin_webhooks_get']['parameters']['query']>['status']
>;
export type Endpoint = Schemas['Endpoint'];
export type EndpointWithSecret = Schemas['EndpointWithSecret'];
export type CreateEndpointRequest = Schemas['CreateEndpointRequest'];
export type Delivery = Schemas['Delivery'];
export type DeliveryPage = Schemas['DeliveryPage'];
export type DeliveryStatus = Delivery['status'];
export type AuditEntry = Schemas['AuditEntryOut'];
export type AuditPage = Schemas['AuditPage'];
export type AuditChain = Schemas['AuditChainOut'];

/** How many rows a page of any admin list asks for. */
export const PAGE_SIZE = 20;
/** How often a list with something in flight (pending) looks again. */
export const POLL_MS = 2000;

/** The rows of every loaded page, in order. */
export function rowsOf<T>(pages: { data: T[] }[] | undefined): T[] {
  return pages?.flatMap((page) => page.data) ?? [];
}
