/**
 * `<PaymentForm amount={2500} currency="USD" onSuccess onError description="..."/>`: a card
 * payment in a Stripe Elements card element.
 *
 * The service creates the payment intent (it decides the credits, never the browser), and
 * Stripe.js confirms it with the card, running 3D Secure when the bank asks for it. The card
 * goes from the element to Stripe only: the service receives the amount, never card data.
 * With "Save this card for auto top-up" ticked, the service asks Stripe to keep the card for
 * later off-session charges (`save_card: true`); unticked, the request says `save_card: false`.
 */
import { CardElement, Elements, useElements, useStripe } from '@stripe/react-stripe-js';
import type { Stripe, StripeCardElementOptions } from '@stripe/stripe-js';
import { type FormEvent, useCallback, useEffect, useId, useRef, useState } from 'react';
import { formatCredits, formatMoney } from '../../lib/format';
import { problemMessage } from '../../lib/problems';
import { type StripeService, stripeService } from '../../services/stripe';
import { loadStripeFromConfig } from '../../services/stripeJs';
import { type CardError, cardErrorMessage } from './messages';

export interface PaymentSuccess {
  paymentIntentId: string;
  amount: number;
  currency: string;
  /** Credits the service will add once Stripe reports the payment (by webhook). */
  credits: number;
}

export interface PaymentFailure {
  /** The service's problem code, or Stripe's error code (`card_declined`, ...). */
  code: string;
  declineCode?: string;
  /** What the form showed the customer. */
  message: string;
}

export interface PaymentFormProps {
  /** In the currency's minor unit: 2500 with USD is $25.00. */
  amount: number;
  currency: string;
  description?: string;
  /** Who pays; the signed-in user of `service` when omitted. */
  userId?: number;
  onSuccess?: (payment: PaymentSuccess) => void;
  onError?: (failure: PaymentFailure) => void;
  /** A Stripe instance (or a stable promise of one) instead of the one the config names. */
  stripe?: Stripe | Promise<Stripe | null>;
  service?: StripeService;
}

const CARD_OPTIONS: StripeCardElementOptions = {
  hidePostalCode: true,
  style: {
    base: { fontSize: '16px', color: '#1f2937', '::placeholder': { color: '#6b7280' } },
    invalid: { color: '#b91c1c' },
  },
};

type Loaded =
  | { status: 'loading' }
  | { status: 'ready'; stripe: Stripe }
  | { status: 'failed'; message: string };

function useStripeInstance(props: PaymentFormProps, service: StripeService, attempt: number) {
  const [loaded, setLoaded] = useState<Loaded>({ status: 'loading' });
  const given = props.stripe;
  useEffect(() => {
    let live = true;
    setLoaded({ status: 'loading' });
    Promise.resolve(given ?? loadStripeFromConfig(service))
      .then((stripe) => {
        if (!live) return;
        if (stripe) setLoaded({ status: 'ready', stripe });
        else setLoaded({ status: 'failed', message: 'Stripe.js is not available.' });
      })
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        if (live) setLoaded({ status: 'failed', message });
      });
    return () => {
      live = false;
    };
  }, [given, service, attempt]);
  return loaded;
}

export function PaymentForm(props: PaymentFormProps) {
  const service = props.service ?? stripeService;
  const [attempt, setAttempt] = useState(0);
  const loaded = useStripeInstance(props, service, attempt);
  if (loaded.status === 'loading') {
    return (
      <div className="payment-form" aria-busy="true">
        <p className="muted" role="status">
          Loading the secure card form…
        </p>
      </div>
    );
  }
  if (loaded.status === 'failed') {
    return (
      <div className="payment-form">
        <p className="notice notice-error" role="alert">
          Card payments are unavailable: {loaded.message}
        </p>
        <button type="button" className="button secondary" onClick={() => setAttempt(attempt + 1)}>
          Try again
        </button>
      </div>
    );
  }
  return (
    <Elements stripe={loaded.stripe}>
      <CardPayment {...props} service={service} />
    </Elements>
  );
}

type Outcome =
  | { kind: 'idle' }
  | { kind: 'paying' }
  | { kind: 'failed'; message: string }
  | { kind: 'succeeded'; message: string };

function CardPayment(props: PaymentFormProps & { service: StripeService }) {
  const { amount, currency, description, service, onSuccess, onError } = props;
  const stripe = useStripe();
  const elements = useElements();
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'idle' });
  const [saveCard, setSaveCard] = useState(false);
  const labelId = useId();
  const saveCardId = useId();
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
    };
  }, []);

  const valid = Number.isSafeInteger(amount) && amount > 0;
  const price = valid ? formatMoney(amount, currency) : '';

  const fail = useCallback(
    (failure: PaymentFailure) => {
      if (live.current) setOutcome({ kind: 'failed', message: failure.message });
      onError?.(failure);
    },
    [onError],
  );

  async function pay(event: FormEvent) {
    event.preventDefault();
    const card = elements?.getElement('card');
    if (!stripe || !card || !valid || outcome.kind === 'paying') return;
    const payer = props.userId ?? service.userId;
    if (payer === null) {
      fail({ code: 'unauthenticated', message: 'Please sign in to pay.' });
      return;
    }
    setOutcome({ kind: 'paying' });
    const intent = await service.createPaymentIntent({
      user_id: payer,
      amount,
      currency: currency.toLowerCase(),
      description: description ?? null,
      save_card: saveCard,
    });
    if (!intent.success) {
      fail({ code: intent.error.code, message: problemMessage(intent.error) });
      return;
    }
    const result = await stripe.confirmCardPayment(intent.data.client_secret, {
      payment_method: { card },
    });
    if (result.error) {
      const error: CardError = result.error;
      fail({
        code: error.code ?? error.type ?? 'payment_failed',
        declineCode: error.decline_code,
        message: cardErrorMessage(error),
      });
      return;
    }
    if (result.paymentIntent.status !== 'succeeded') {
      const message =
        result.paymentIntent.status === 'processing'
          ? 'Your payment is processing. Your credits will arrive once your bank confirms it.'
          : 'The payment was not completed. Please try again.';
      fail({ code: `payment_${result.paymentIntent.status}`, message });
      return;
    }
    const credits = intent.data.credits;
    if (live.current) {
      setOutcome({
        kind: 'succeeded',
        message: `Payment of ${price} succeeded. ${formatCredits(credits)} will be added to your balance.`,
      });
    }
    onSuccess?.({ paymentIntentId: result.paymentIntent.id, amount, currency, credits });
  }

  if (outcome.kind === 'succeeded') {
    return (
      <div className="payment-form">
        <p className="notice notice-success" role="status">
          {outcome.message}
        </p>
        <button
          type="button"
          className="button secondary"
          onClick={() => setOutcome({ kind: 'idle' })}
        >
          Make another payment
        </button>
      </div>
    );
  }

  const paying = outcome.kind === 'paying';
  return (
    <form className="payment-form" onSubmit={pay} aria-busy={paying} noValidate>
      <div className="field">
        <span className="label" id={labelId}>
          Card details
        </span>
        <div className="card-element" role="group" aria-labelledby={labelId}>
          <CardElement options={CARD_OPTIONS} />
        </div>
        <p className="hint">Your card details go straight to Stripe; this site never sees them.</p>
      </div>
      <div className="field">
        <label htmlFor={saveCardId}>
          <input
            id={saveCardId}
            type="checkbox"
            checked={saveCard}
            disabled={paying}
            onChange={(event) => setSaveCard(event.target.checked)}
          />{' '}
          Save this card for auto top-up
        </label>
      </div>
      {outcome.kind === 'failed' && (
        <p className="notice notice-error" role="alert">
          {outcome.message}
        </p>
      )}
      {!valid && (
        <p className="notice notice-error" role="alert">
          Choose an amount to pay.
        </p>
      )}
      <button type="submit" className="button primary" disabled={!stripe || !valid || paying}>
        {paying ? 'Paying…' : `Pay ${price}`}
      </button>
      {description && <p className="hint">{description}</p>}
    </form>
  );
}
