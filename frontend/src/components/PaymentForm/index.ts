export { PaymentForm } from './PaymentForm';
export type { PaymentFailure, PaymentFormProps, PaymentSuccess } from './PaymentForm';
export { cardErrorMessage } from './messages';
