/*
 * billing-sandbox: makes localstripe's Stripe.js stand-in use the card typed into
 * elements().create('card') for createPaymentMethod and confirmCardPayment, with the test
 * cards' outcomes and a 3D Secure challenge. Licensed GPL-3.0-or-later, like localstripe.
 */
(function () {
  const localstripeStripe = Stripe;

  async function post(path, key, body) {
    // No Content-Type header: a "simple" cross-origin request needs no CORS preflight.
    const response = await fetch(LOCALSTRIPE_BASE_API + path, {
      method: 'POST',
      body: JSON.stringify({key: key, ...body}),
    });
    const json = await response.json().catch(() => ({}));
    if (!response.ok || json.error) {
      return {error: json.error || {type: 'api_error', message: 'Request failed'}};
    }
    return {result: json};
  }

  function cardOf(element) {
    return element && element.value ? element.value.card : null;
  }

  async function createMethod(key, data) {
    const card = cardOf(data.card);
    if (!card) {
      return {error: {type: 'validation_error', message: 'Your card number is incomplete.'}};
    }
    return post('/v1/payment_methods', key, {
      type: 'card', card: card, billing_details: data.billing_details || {},
    });
  }

  async function authenticate(key, intent, clientSecret) {
    const success = await openModal('3D Secure\nDo you want to confirm or cancel?',
                                    'Complete authentication', 'Fail authentication');
    const answer = await post(`/v1/payment_intents/${intent}/_authenticate`, key,
                              {client_secret: clientSecret, success: success});
    if (answer.error || answer.result.status === 'succeeded') {
      return answer;
    }
    return {error: {type: 'invalid_request_error',
                    code: 'payment_intent_authentication_failure',
                    message: 'We are unable to authenticate your payment method. Please ' +
                             'choose a different payment method and try again.',
                    payment_intent: answer.result}};
  }

  Stripe = function (key, options) {
    const stripe = localstripeStripe(key, options);

    stripe.createPaymentMethod = async function (data, element, extra) {
      const params = typeof data === 'string' ? {type: data, card: element, ...(extra || {})}
                                              : data;
      const made = await createMethod(key, params);
      return made.error ? {error: made.error} : {paymentMethod: made.result};
    };

    stripe.confirmCardPayment = async function (clientSecret, data) {
      const intent = clientSecret.match(/^(pi_[A-Za-z0-9]+)_secret_/)[1];
      let method = data && data.payment_method;
      if (method && typeof method === 'object') {
        const made = await createMethod(key, method);
        if (made.error) {
          return {error: made.error};
        }
        method = made.result.id;
      }
      const body = {client_secret: clientSecret};
      if (method) {
        body.payment_method = method;
      }
      let answer = await post(`/v1/payment_intents/${intent}/confirm`, key, body);
      if (!answer.error && answer.result.status === 'requires_action') {
        answer = await authenticate(key, intent, clientSecret);
      }
      return answer.error ? {error: answer.error} : {paymentIntent: answer.result};
    };

    return stripe;
  };
})();
