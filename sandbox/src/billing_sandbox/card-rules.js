/*
 * The card Element's rules, as Stripe.js applies them: which brand the digits are, how the
 * number and expiry are spaced while typed, and each field's validation error and message.
 * Part of billing-sandbox's Stripe.js stand-in (see card-element.js). Licensed
 * GPL-3.0-or-later, like localstripe.
 */
const BillingSandboxCard = (function () {
  'use strict';

  /* ---------------------------------------------------------------- card brands ------- */

  // The brands Stripe's Card Element tells apart, tried in order on the digits typed.
  // `gaps`: where a space goes while typing; `lengths`: the complete lengths; `cvc`: its size.
  const BRANDS = [
    {brand: 'amex', pattern: /^3[47]/, gaps: [4, 10], lengths: [15], cvc: 4},
    {brand: 'diners', pattern: /^36/, gaps: [4, 10], lengths: [14], cvc: 3},
    {brand: 'diners', pattern: /^3(0[0-59]|[89])/, gaps: [4, 8, 12], lengths: [16], cvc: 3},
    {brand: 'jcb', pattern: /^35/, gaps: [4, 8, 12], lengths: [16], cvc: 3},
    {brand: 'discover', pattern: /^(6011|64[4-9]|65|622)/, gaps: [4, 8, 12], lengths: [16],
     cvc: 3},
    // Not every UnionPay number passes the Luhn check: Stripe does not check them.
    {brand: 'unionpay', pattern: /^62/, gaps: [4, 8, 12], lengths: [16, 17, 18, 19], cvc: 3,
     noLuhn: true},
    {brand: 'mastercard', pattern: /^(5[1-5]|222[1-9]|22[3-9]|2[3-6]|27[01]|2720)/,
     gaps: [4, 8, 12], lengths: [16], cvc: 3},
    {brand: 'visa', pattern: /^4/, gaps: [4, 8, 12], lengths: [16], cvc: 3},
  ];
  const UNKNOWN = {brand: 'unknown', gaps: [4, 8, 12], lengths: [16], cvc: 3};

  function brandOf(digits) {
    return BRANDS.find(entry => entry.pattern.test(digits)) || UNKNOWN;
  }

  function luhnOk(digits) {
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let digit = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) {
        digit *= 2;
        if (digit > 9) {
          digit -= 9;
        }
      }
      sum += digit;
    }
    return sum % 10 === 0;
  }

  function formatNumber(digits, brand) {
    let text = '';
    for (let i = 0; i < digits.length; i++) {
      if (brand.gaps.includes(i)) {
        text += ' ';
      }
      text += digits[i];
    }
    return text;
  }

  function formatExpiry(digits) {
    return digits.length > 2 ? `${digits.slice(0, 2)} / ${digits.slice(2)}` : digits;
  }

  /* ---------------------------------------------------------------- validation -------- */

  // Stripe.js's validation errors, word for word, by code.
  const MESSAGES = {
    incomplete_number: 'Your card number is incomplete.',
    invalid_number: 'Your card number is invalid.',
    incomplete_expiry: "Your card's expiration date is incomplete.",
    invalid_expiry_month: "Your card's expiration month is invalid.",
    invalid_expiry_month_past: "Your card's expiration date is in the past.",
    invalid_expiry_year_past: "Your card's expiration year is in the past.",
    invalid_expiry_year: "Your card's expiration year is invalid.",
    incomplete_cvc: "Your card's security code is incomplete.",
    incomplete_zip: 'Your postal code is incomplete.',
  };

  function validationError(code) {
    return {type: 'validation_error', code: code, message: MESSAGES[code]};
  }

  // Each field's state: `error` is the code it would report; `now` means it is reported
  // as soon as it is typed (an invalid number), not only once the field is left (incomplete).
  function checkNumber(digits) {
    const brand = brandOf(digits);
    if (brand.lengths.includes(digits.length) && (brand.noLuhn || luhnOk(digits))) {
      return {complete: true};
    }
    if (digits.length >= Math.max(...brand.lengths)) {
      return {error: 'invalid_number', now: true};
    }
    return {error: 'incomplete_number'};
  }

  function checkExpiry(digits) {
    if (digits.length < 4) {
      const badMonth = digits.length >= 2 && !(Number(digits.slice(0, 2)) >= 1);
      return badMonth ? {error: 'invalid_expiry_month', now: true}
                      : {error: 'incomplete_expiry'};
    }
    const month = Number(digits.slice(0, 2));
    const year = 2000 + Number(digits.slice(2, 4));
    const today = new Date();
    if (month < 1 || month > 12) {
      return {error: 'invalid_expiry_month', now: true};
    }
    if (year < today.getFullYear()) {
      return {error: 'invalid_expiry_year_past', now: true};
    }
    if (year === today.getFullYear() && month < today.getMonth() + 1) {
      return {error: 'invalid_expiry_month_past', now: true};
    }
    if (year > today.getFullYear() + 50) {
      return {error: 'invalid_expiry_year', now: true};
    }
    return {complete: true};
  }

  function checkCvc(digits, brand) {
    return digits.length >= brand.cvc ? {complete: true} : {error: 'incomplete_cvc'};
  }

  function checkPostalCode(text) {
    const compact = text.replace(/[\s-]/g, '');
    const enough = /^\d+$/.test(compact) ? compact.length >= 5 : compact.length >= 3;
    return enough ? {complete: true} : {error: 'incomplete_zip'};
  }

  return {brandOf, formatNumber, formatExpiry, validationError, checkNumber, checkExpiry,
          checkCvc, checkPostalCode};
})();
