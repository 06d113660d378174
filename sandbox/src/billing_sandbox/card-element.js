/*
 * billing-sandbox: a card Element that looks and behaves like Stripe's Card Element, in
 * place of localstripe's five bare inputs. It is one row (brand icon, card number spaced as
 * it is typed, MM / YY, CVC and, unless `hidePostalCode`, a postal code), it validates as
 * Stripe.js does and reports it through `change` events with Stripe's error codes and
 * messages, and it sets Stripe's `StripeElement--*` classes on the node it is mounted in.
 * `confirmCardPayment`, `createPaymentMethod`, `confirmCardSetup` and `createToken` refuse
 * an incomplete or invalid card with the element's validation error, without a request.
 * Loaded after localstripe's script and stripe-v3-extension.js, whose `Stripe` it wraps; the
 * extension reads the card from `element.value.card`, as it did from localstripe's element.
 * Its rules, look and drawing are in card-rules.js, card-look.js and card-drawing.js,
 * loaded before it. Licensed GPL-3.0-or-later, like localstripe.
 *
 * Stripe renders the element in an iframe; here it is a shadow root, which keeps the page's
 * CSS out of the inputs (and ours out of the page). Its styles are constructed stylesheets,
 * which a Content-Security-Policy without 'unsafe-inline' allows (a <style> it would refuse).
 */
(function () {
  'use strict';

  const extendedStripe = Stripe;
  const {brandOf, validationError, checkNumber, checkExpiry, checkCvc, checkPostalCode,
         elementSheet, sheet, optionsCss, FIELDS, CLASSES} = BillingSandboxCard;

  class CardElement {
    constructor(elements, options) {
      this._elements = elements;
      this._listeners = {};
      this._options = {};
      this._values = {number: '', expiry: '', cvc: '', postalCode: ''};
      this._left = {};     // fields the customer has typed into and left
      this._refused = {};  // fields a payment was refused for, until they are typed into
      this._focused = null;
      this._container = null;
      this._destroyed = false;
      this._optionSheet = sheet('');
      this.update(options || {});
    }

    /* What stripe-v3-extension.js (and localstripe's createToken) send to the API. */
    get value() {
      const expiry = this._values.expiry;
      return {
        card: {
          number: this._values.number,
          exp_month: Number(expiry.slice(0, 2)),
          exp_year: 2000 + Number(expiry.slice(2, 4)),
          cvc: this._values.cvc,
        },
        postal_code: this._postalShown() ? this._values.postalCode : '',
      };
    }

    mount(target) {
      if (this._destroyed) {
        throw new Error('This Element has already been destroyed. Please create a new one.');
      }
      const node = typeof target === 'string' ? document.querySelector(target) : target;
      if (typeof target === 'string' && !node) {
        throw new Error(`The selector you specified (${target}) applies to no DOM elements ` +
                        'that are currently on the page.\nMake sure the element exists on ' +
                        'the page before calling mount().');
      }
      if (!(node instanceof window.Element)) {
        throw new Error('Invalid DOM element. Make sure to call mount() with a valid DOM ' +
                        'element or selector.');
      }
      if (this._container) {
        if (this._container === node) {
          return;
        }
        throw new Error('This Element is already mounted. Use `unmount()` to unmount the ' +
                        'Element before re-mounting.');
      }
      this._container = node;
      this._host = document.createElement('div');
      this._host.className = '__SandboxStripeElement';
      const shadow = this._host.attachShadow({mode: 'open'});
      shadow.adoptedStyleSheets = [elementSheet(), this._optionSheet];
      this._row = document.createElement('div');
      this._row.className = 'CardField';
      this._icon = document.createElement('span');
      this._icon.className = 'CardField-brand';
      this._icon.setAttribute('aria-hidden', 'true');
      this._row.appendChild(this._icon);
      this._inputs = {};
      Object.keys(FIELDS).forEach(field => this._row.appendChild(this._makeField(field)));
      shadow.appendChild(this._row);
      this._listen();
      node.appendChild(this._host);
      this._skinIfBare();
      this._render();
      this._lastReported = JSON.stringify(this._state());
      setTimeout(() => {
        if (this._container === node) {
          this._emit('ready', {elementType: 'card'});
        }
      }, 0);
    }

    unmount() {
      if (!this._container) {
        return;
      }
      this._host.remove();
      const classes = Object.values(this._classes());
      this._container.classList.remove(...classes);
      this._container.removeAttribute('data-sandbox-card-skin');
      this._container = this._host = this._row = this._icon = this._inputs = null;
      this._focused = null;
    }

    destroy() {
      this.unmount();
      this._destroyed = true;
      this._elements._forget(this);
    }

    on(event, handler) {
      (this._listeners[event] = this._listeners[event] || []).push(handler);
      return this;
    }

    once(event, handler) {
      const wrapped = (...args) => {
        this.off(event, wrapped);
        handler(...args);
      };
      return this.on(event, wrapped);
    }

    off(event, handler) {
      const handlers = this._listeners[event] || [];
      this._listeners[event] = handler ? handlers.filter(h => h !== handler) : [];
      return this;
    }

    update(options) {
      const given = options || {};
      const postalBefore = this._postalShown();
      this._options = {...this._options, ...given};
      if (given.value && typeof given.value.postalCode === 'string') {
        this._values.postalCode = given.value.postalCode.slice(0, 10);
      }
      this._optionSheet.replaceSync(optionsCss(this._options.style));
      if (this._container) {
        if (postalBefore !== this._postalShown() && this._focused === 'postalCode') {
          this._inputs.postalCode.blur();
        }
        this._changed(false);
      }
    }

    focus() {
      if (this._inputs) {
        this._inputs[this._focused || 'number'].focus();
      }
    }

    blur() {
      if (this._inputs && this._focused) {
        this._inputs[this._focused].blur();
      }
    }

    clear() {
      this._values = {number: '', expiry: '', cvc: '', postalCode: ''};
      this._left = {};
      this._refused = {};
      this._changed(true);
    }

    /* ------------------------------------------------ for confirmCardPayment & co. ---- */

    // Stripe.js's validation before any request: the first field's error, empty or not.
    // A refused card shows its errors in the element, as Stripe's does.
    _validationError() {
      const fields = this._shownFields().filter(name => !this._check(name).complete);
      if (!fields.length) {
        return null;
      }
      fields.forEach(name => { this._refused[name] = true; });
      this._changed(false);
      return validationError(this._check(fields[0]).error);
    }

    /* ------------------------------------------------ state ---------------------------- */

    _postalShown() {
      return !this._options.hidePostalCode;
    }

    _shownFields() {
      return Object.keys(FIELDS).filter(field => field !== 'postalCode' || this._postalShown());
    }

    _brand() {
      return brandOf(this._values.number);
    }

    _check(field) {
      const value = this._values[field];
      if (field === 'number') {
        return checkNumber(value);
      }
      if (field === 'expiry') {
        return checkExpiry(value);
      }
      if (field === 'cvc') {
        return checkCvc(value, this._brand());
      }
      return checkPostalCode(value);
    }

    // Whether the field's error shows: at once for an invalid value; for an incomplete
    // one, once the customer has typed into the field and left it, or a payment was refused
    // for it; in both cases until they type into it again.
    _errorShown(field) {
      const check = this._check(field);
      if (check.complete) {
        return false;
      }
      if (check.now || this._refused[field]) {
        return true;
      }
      return Boolean(this._left[field]) && this._values[field] !== '';
    }

    _state() {
      const fields = this._shownFields();
      const shown = fields.find(field => this._errorShown(field));
      return {
        elementType: 'card',
        empty: fields.every(field => this._values[field] === ''),
        complete: fields.every(field => this._check(field).complete),
        brand: this._brand().brand,
        error: shown ? validationError(this._check(shown).error) : undefined,
        value: {postalCode: this._postalShown() ? this._values.postalCode : ''},
      };
    }

    // After a change of the values (`typed`) or of what shows: repaint, and tell the page
    // in a `change` event when the values or anything it reports changed.
    _changed(typed) {
      const state = this._state();
      const key = JSON.stringify(state);
      this._render(state);
      if (typed || key !== this._lastReported) {
        this._lastReported = key;
        this._emit('change', state);
      }
    }

    _emit(event, payload) {
      (this._listeners[event] || []).slice().forEach(handler => {
        try {
          handler(payload);
        } catch (error) {
          setTimeout(() => { throw error; });  // reported, without stopping the others
        }
      });
    }

    _classes() {
      return {...CLASSES, ...(this._options.classes || {})};
    }
  }
  Object.assign(CardElement.prototype, BillingSandboxCard.drawing);  // card-drawing.js

  /* ---------------------------------------------------------------- elements() -------- */

  class Elements {
    constructor() {
      this._card = null;
    }

    create(type, options) {
      if (type !== 'card') {
        throw new Error(`The sandbox's Stripe.js makes card Elements only, not ${type}.`);
      }
      if (this._card) {
        throw new Error('Can only create one Element of type card.');
      }
      this._card = new CardElement(this, options);
      return this._card;
    }

    // By name, or by react-stripe-js's component (which carries `__elementType`).
    getElement(type) {
      const name = typeof type === 'string' ? type : type && type.__elementType;
      return name === 'card' ? this._card : null;
    }

    update() {}  // locale, fonts: the sandbox's element has one look

    fetchUpdates() {
      return Promise.resolve({});
    }

    _forget(element) {
      if (this._card === element) {
        this._card = null;
      }
    }
  }

  /* ---------------------------------------------------------------- Stripe() ---------- */

  // A card Element in a `payment_method`: refused while incomplete or invalid; otherwise
  // passed on with its postal code as billing_details.address.postal_code. The extension
  // reads the card from the element itself (`element.value.card`); `plain` hands over the
  // card's fields instead, for localstripe's confirmCardSetup.
  function checked(method, plain) {
    if (!method || typeof method !== 'object' || !(method.card instanceof CardElement)) {
      return {method: method};
    }
    const element = method.card;
    const error = element._validationError();
    if (error) {
      return {error: error};
    }
    const details = {...(method.billing_details || {})};
    const postalCode = element.value.postal_code;
    if (postalCode) {
      details.address = {postal_code: postalCode, ...(details.address || {})};
    }
    return {method: {...method, card: plain ? element.value.card : element,
                     billing_details: details}};
  }

  Stripe = function (key, options) {
    const stripe = extendedStripe(key, options);
    const {confirmCardPayment, createPaymentMethod, confirmCardSetup, createToken} = stripe;

    stripe.elements = () => new Elements();

    stripe.confirmCardPayment = async function (clientSecret, data, extra) {
      const made = checked(data && data.payment_method, false);
      if (made.error) {
        return {error: made.error};
      }
      const given = data && data.payment_method ? {...data, payment_method: made.method} : data;
      return confirmCardPayment.call(stripe, clientSecret, given, extra);
    };

    stripe.createPaymentMethod = async function (data, element, extra) {
      // Also the older form: createPaymentMethod('card', element, {billing_details}).
      const params = typeof data === 'string' ? {type: data, card: element, ...(extra || {})}
                                              : data;
      const made = checked(params, false);
      return made.error ? {error: made.error} : createPaymentMethod.call(stripe, made.method);
    };

    stripe.confirmCardSetup = async function (clientSecret, data, extra) {
      const made = checked(data && data.payment_method, true);
      if (made.error) {
        return {error: made.error};
      }
      const given = data && data.payment_method ? {...data, payment_method: made.method} : data;
      return confirmCardSetup.call(stripe, clientSecret, given, extra);
    };

    stripe.createToken = async function (element, data) {
      if (element instanceof CardElement) {
        const error = element._validationError();
        if (error) {
          return {error: error};
        }
      }
      return createToken.call(stripe, element, data);
    };

    return stripe;
  };
})();
