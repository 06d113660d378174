/**
 * Stripe.js errors in plain words. Declines are worded so they never tell a stranger more
 * than the card holder needs (a lost or stolen card reads as an ordinary decline).
 */

export interface CardError {
  type?: string;
  code?: string;
  decline_code?: string;
  message?: string;
}

const TRY_ANOTHER = 'Please try another card or contact your bank.';

const DECLINES: Record<string, string> = {
  insufficient_funds: 'Your card has insufficient funds. Please try another card.',
  expired_card: 'Your card has expired. Check the expiry date or use another card.',
  incorrect_cvc: "Your card's security code is incorrect. Check it and try again.",
  invalid_cvc: "Your card's security code is incorrect. Check it and try again.",
  incorrect_number: 'Your card number is incorrect. Check it and try again.',
  invalid_number: 'Your card number is incorrect. Check it and try again.',
  invalid_expiry_month: "Your card's expiry month is invalid.",
  invalid_expiry_year: "Your card's expiry year is invalid.",
  processing_error: 'Your card could not be processed just now. Please try again in a moment.',
  card_velocity_exceeded: `Your card has been used too often for now. ${TRY_ANOTHER}`,
  payment_intent_authentication_failure:
    'Your bank could not confirm this payment (3D Secure was not completed). ' +
    'Please try again or use another card.',
};

/** What to tell the customer about a failed `confirmCardPayment`. */
export function cardErrorMessage(error: CardError): string {
  const known = DECLINES[error.decline_code ?? ''] ?? DECLINES[error.code ?? ''];
  if (known) return known;
  if (error.code === 'card_declined') return `Your card was declined. ${TRY_ANOTHER}`;
  if (error.type === 'validation_error' && error.message) return error.message;
  if (error.type === 'card_error' && error.message) return `${error.message} ${TRY_ANOTHER}`;
  return 'The payment could not be completed. Please try again.';
}
