import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { type Answer, deferred, fakeApi, fakeStripe, problem } from '../../test/fakeApi';
import { PaymentForm } from './PaymentForm';

const INTENT = { id: 'pi_1', client_secret: 'pi_1_secret_abc', credits: 2500 };
const SUCCEEDED = { paymentIntent: { id: 'pi_1', status: 'succeeded' } };
const DECLINED = {
  error: {
    type: 'card_error',
    code: 'card_declined',
    decline_code: 'generic_decline',
    message: 'Your card was declined.',
  },
};

function setup(
  confirm: (secret: string, data: unknown) => Promise<unknown>,
  intent: Answer = { body: INTENT },
) {
  const api = fakeApi({ 'POST /api/stripe/create-payment-intent': intent });
  const stripe = fakeStripe(confirm);
  const onSuccess = vi.fn();
  const onError = vi.fn();
  render(
    <PaymentForm
      amount={2500}
      currency="USD"
      description="Top-up"
      userId={7}
      onSuccess={onSuccess}
      onError={onError}
      stripe={stripe.stripe}
      service={api.service}
    />,
  );
  return { api, stripe, onSuccess, onError };
}

describe('<PaymentForm>', () => {
  it('creates the intent on the server, confirms it with the card element, reports success', async () => {
    const { api, stripe, onSuccess, onError } = setup(async () => SUCCEEDED);
    await userEvent.click(await screen.findByRole('button', { name: 'Pay $25.00' }));

    expect(await screen.findByRole('status')).toHaveTextContent(
      'Payment of $25.00 succeeded. 2,500 credits will be added to your balance.',
    );
    expect(onSuccess).toHaveBeenCalledWith({
      paymentIntentId: 'pi_1',
      amount: 2500,
      currency: 'USD',
      credits: 2500,
    });
    expect(onError).not.toHaveBeenCalled();
    expect(stripe.confirmCardPayment).toHaveBeenCalledWith('pi_1_secret_abc', {
      payment_method: { card: stripe.element },
    });
    // The service gets the amount and who pays; card data goes to Stripe only.
    expect(api.calls).toHaveLength(1);
    expect(api.calls[0]?.body).toEqual({
      user_id: 7,
      amount: 2500,
      currency: 'usd',
      description: 'Top-up',
      save_card: false,
    });
    expect(api.calls[0]?.headers.get('Idempotency-Key')).toBeTruthy();
  });

  it('offers to save the card for auto top-up, unticked by default, and sends save_card when ticked', async () => {
    const { api, onSuccess } = setup(async () => SUCCEEDED);
    const save = await screen.findByRole('checkbox', { name: 'Save this card for auto top-up' });
    expect(save).not.toBeChecked();
    await userEvent.click(save);
    expect(save).toBeChecked();
    await userEvent.click(screen.getByRole('button', { name: 'Pay $25.00' }));

    await waitFor(() => expect(onSuccess).toHaveBeenCalledTimes(1));
    expect(api.sent('POST', '/api/stripe/create-payment-intent').map((call) => call.body)).toEqual([
      { user_id: 7, amount: 2500, currency: 'usd', description: 'Top-up', save_card: true },
    ]);
  });

  it('disables the button while paying, so one click pays once', async () => {
    const pending = deferred<unknown>();
    const { api, onSuccess } = setup(() => pending.promise);
    const button = await screen.findByRole('button', { name: 'Pay $25.00' });
    await userEvent.click(button);

    const paying = await screen.findByRole('button', { name: 'Paying…' });
    expect(paying).toBeDisabled();
    expect(screen.getByRole('checkbox', { name: 'Save this card for auto top-up' })).toBeDisabled();
    await userEvent.click(paying);
    expect(api.calls).toHaveLength(1);

    pending.resolve(SUCCEEDED);
    await waitFor(() => expect(onSuccess).toHaveBeenCalledTimes(1));
  });

  it('shows a decline in plain words and lets the customer try again', async () => {
    const { onSuccess, onError } = setup(async () => DECLINED);
    await userEvent.click(await screen.findByRole('button', { name: 'Pay $25.00' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Your card was declined. Please try another card or contact your bank.',
    );
    expect(onError).toHaveBeenCalledWith({
      code: 'card_declined',
      declineCode: 'generic_decline',
      message: 'Your card was declined. Please try another card or contact your bank.',
    });
    expect(onSuccess).not.toHaveBeenCalled();
    expect(screen.getByRole('button', { name: 'Pay $25.00' })).toBeEnabled();
  });

  it.each([
    [{ type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' }, 'insufficient funds'],
    [{ type: 'card_error', code: 'expired_card' }, 'Your card has expired'],
    [{ type: 'card_error', code: 'card_declined', decline_code: 'stolen_card' }, 'Your card was declined.'],
    [{ type: 'invalid_request_error', code: 'payment_intent_authentication_failure' }, '3D Secure'],
    [{ type: 'validation_error', message: 'Your card number is incomplete.' }, 'Your card number is incomplete.'],
  ])('explains %o', async (error, words) => {
    setup(async () => ({ error }));
    await userEvent.click(await screen.findByRole('button', { name: 'Pay $25.00' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(words);
  });

  it('shows why the service refused, and never calls Stripe then', async () => {
    const refusal = problem(422, 'amount_out_of_range', 'The amount must be between $1.00 and $10,000.00.');
    const { stripe, onError } = setup(async () => SUCCEEDED, refusal);
    await userEvent.click(await screen.findByRole('button', { name: 'Pay $25.00' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('The amount must be between');
    expect(stripe.confirmCardPayment).not.toHaveBeenCalled();
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'amount_out_of_range' }));
  });

  it('pays as the signed-in user when no userId is given, and asks to sign in otherwise', async () => {
    const api = fakeApi({ 'POST /api/stripe/create-payment-intent': { body: INTENT } });
    const stripe = fakeStripe(async () => SUCCEEDED);
    const { unmount } = render(<PaymentForm amount={500} currency="usd" stripe={stripe.stripe} service={api.service} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Pay $5.00' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Please sign in to pay.');
    expect(api.calls).toHaveLength(0);
    unmount();

    api.service.setAuth({ token: 't', userId: 42, role: 'user' });
    render(<PaymentForm amount={500} currency="usd" stripe={stripe.stripe} service={api.service} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Pay $5.00' }));
    await screen.findByText(/succeeded/);
    expect(api.calls[0]?.body).toMatchObject({ user_id: 42, amount: 500, currency: 'usd' });
  });

  it('says so when the service has no Stripe publishable key', async () => {
    const api = fakeApi({
      'GET /api/stripe/config': {
        body: { publishable_key: null, portal_url: null, stripe_js_url: 'https://js.stripe.com/v3/' },
      },
    });
    render(<PaymentForm amount={2500} currency="usd" service={api.service} />);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Card payments are unavailable: Card payments are not configured on this service.',
    );
    expect(screen.getByRole('button', { name: 'Try again' })).toBeEnabled();
  });

  it('refuses an amount that is not a positive number of minor units', async () => {
    const stripe = fakeStripe(async () => SUCCEEDED);
    render(<PaymentForm amount={0} currency="usd" userId={1} stripe={stripe.stripe} service={fakeApi({}).service} />);
    expect(await screen.findByRole('alert')).toHaveTextContent('Choose an amount to pay.');
    expect(screen.getByRole('button', { name: /^Pay/ })).toBeDisabled();
  });
});
