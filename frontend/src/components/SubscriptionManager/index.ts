export { SubscriptionManager, statusWords } from './SubscriptionManager';
export type { SubscriptionManagerProps } from './SubscriptionManager';
