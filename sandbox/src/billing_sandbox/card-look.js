/*
 * The card Element's look: brand icons, its stylesheets (constructed, so a CSP without
 * 'unsafe-inline' allows them), the `style` option's CSS, and its fields and classes.
 * Part of billing-sandbox's Stripe.js stand-in (see card-element.js). Licensed
 * GPL-3.0-or-later, like localstripe.
 */
Object.assign(BillingSandboxCard, (function () {
  'use strict';

  /* ---------------------------------------------------------------- icons ------------- */

  // Small inline SVG cards (no network): the brand's colours and name, as Stripe's icons.
  const CARD = 'viewBox="0 0 32 21" xmlns="http://www.w3.org/2000/svg" focusable="false"';
  const LABEL = 'font-family="Arial, Helvetica, sans-serif" font-weight="700" ' +
                'text-anchor="middle"';
  const ICONS = {
    unknown: `<svg ${CARD}><rect x="0.5" y="0.5" width="31" height="20" rx="3"
      fill="none" stroke="currentColor"/><rect x="0.5" y="5" width="31" height="3.5"
      fill="currentColor"/><rect x="4" y="13" width="9" height="2.5" rx="1"
      fill="currentColor"/></svg>`,
    visa: `<svg ${CARD}><rect width="32" height="21" rx="3" fill="#1a1f71"/>
      <text x="16" y="14.5" ${LABEL} font-style="italic" font-size="9.5"
      fill="#ffffff">VISA</text></svg>`,
    mastercard: `<svg ${CARD}><rect width="32" height="21" rx="3" fill="#252525"/>
      <circle cx="12.5" cy="10.5" r="6.5" fill="#eb001b"/>
      <circle cx="19.5" cy="10.5" r="6.5" fill="#f79e1b"/>
      <path d="M16 5.05a6.5 6.5 0 0 1 0 10.9a6.5 6.5 0 0 1 0-10.9z" fill="#ff5f00"/></svg>`,
    amex: `<svg ${CARD}><rect width="32" height="21" rx="3" fill="#2e77bc"/>
      <text x="16" y="13.5" ${LABEL} font-size="7.5" fill="#ffffff">AMEX</text></svg>`,
    discover: `<svg ${CARD}><rect x="0.5" y="0.5" width="31" height="20" rx="3"
      fill="#ffffff" stroke="#d9d9d9"/><path d="M13 21h16a3 3 0 0 0 3-3v-8z" fill="#f48120"/>
      <text x="15" y="12.5" ${LABEL} font-size="5.6" fill="#231f20">DISCOVER</text></svg>`,
    diners: `<svg ${CARD}><rect width="32" height="21" rx="3" fill="#0079be"/>
      <circle cx="16" cy="10.5" r="6.5" fill="#ffffff"/>
      <circle cx="16" cy="10.5" r="4.5" fill="none" stroke="#0079be" stroke-width="1.4"/>
      </svg>`,
    jcb: `<svg ${CARD}><rect width="32" height="21" rx="3" fill="#ffffff" stroke="#d9d9d9"/>
      <rect x="5" y="3" width="7" height="15" rx="2" fill="#0b4ea2"/>
      <rect x="12.5" y="3" width="7" height="15" rx="2" fill="#e60012"/>
      <rect x="20" y="3" width="7" height="15" rx="2" fill="#00913a"/>
      <text x="16" y="13.2" ${LABEL} font-size="6" fill="#ffffff">JCB</text></svg>`,
    unionpay: `<svg ${CARD}><rect width="32" height="21" rx="3" fill="#ffffff"
      stroke="#d9d9d9"/><path d="M6 3h6l-3 15H3z" fill="#e21836"/>
      <path d="M13 3h6l-3 15h-6z" fill="#00447c"/><path d="M20 3h6l-3 15h-6z" fill="#007b84"/>
      <text x="16" y="13" ${LABEL} font-size="5.5" fill="#ffffff">UnionPay</text></svg>`,
    error: `<svg ${CARD}><rect width="32" height="21" rx="3" fill="#eb1c26"/>
      <rect x="14.8" y="4" width="2.4" height="8.5" rx="1.2" fill="#ffffff"/>
      <circle cx="16" cy="15.8" r="1.4" fill="#ffffff"/></svg>`,
    cvc: `<svg ${CARD}><rect x="0.5" y="0.5" width="31" height="20" rx="3"
      fill="none" stroke="currentColor"/><rect x="0.5" y="3.5" width="31" height="3.5"
      fill="currentColor"/><rect x="4" y="10" width="17" height="5" rx="1"
      fill="none" stroke="currentColor"/><text x="26" y="15" ${LABEL} font-size="5"
      fill="currentColor">123</text></svg>`,
  };

  /* ---------------------------------------------------------------- styles ------------ */

  // Inside the shadow root: one row, inputs without the browser's (or the page's) chrome.
  // The defaults are Stripe's: a system font at 16px, grey placeholders, red when invalid.
  const ELEMENT_CSS = `
    :host { display: block; }
    [hidden] { display: none !important; }
    .CardField {
      display: flex; align-items: center; width: 100%; min-width: 0;
      font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue",
        Ubuntu, sans-serif;
      font-size: 16px; line-height: 1.2em; color: #30313d; color-scheme: light;
    }
    .CardField-brand {
      flex: 0 0 auto; display: inline-flex; align-items: center;
      width: 1.5em; height: 1em; margin-right: 0.6em; color: #aab7c4;
    }
    .CardField-brand svg { display: block; width: 100%; height: 100%; }
    .CardField-field { flex: 0 0 auto; min-width: 0; margin-left: 0.75em; }
    .CardField-number { flex: 1 1 auto; margin-left: 0; }
    .CardField-expiry { width: 7.5ch; }
    .CardField-cvc { width: 4.5ch; }
    .CardField-postalCode { width: 6.5ch; }
    .InputElement {
      all: unset; box-sizing: border-box; display: block; width: 100%; min-width: 0;
      margin: 0; padding: 0; border: 0; background: transparent; outline: none;
      font: inherit; line-height: inherit; color: inherit; letter-spacing: inherit;
      cursor: text; white-space: nowrap; text-overflow: ellipsis; -webkit-appearance: none;
    }
    .InputElement::placeholder { color: #aab7c4; opacity: 1; }
    .InputElement.is-invalid { color: #eb1c26; }
    .InputElement:disabled { cursor: default; }
    .CardField--disabled { opacity: 0.6; }
  `;

  // In the page: a border for a container the page left bare (see `_skinIfBare`). `:where`
  // gives these rules no weight, so any rule of the page about the container wins.
  const SKIN_CSS = `
    :where([data-sandbox-card-skin]) {
      box-sizing: border-box; padding: 10px 12px; background: #ffffff;
      border: 1px solid #d6d9de; border-radius: 6px;
      box-shadow: 0 1px 1px rgba(0, 0, 0, 0.03);
      transition: border-color 0.15s ease, box-shadow 0.15s ease;
    }
    :where([data-sandbox-card-skin~="focus"]) {
      border-color: #0570de; box-shadow: 0 0 0 3px rgba(5, 112, 222, 0.25);
    }
    :where([data-sandbox-card-skin~="invalid"]) { border-color: #eb1c26; }
    :where([data-sandbox-card-skin~="invalid"][data-sandbox-card-skin~="focus"]) {
      box-shadow: 0 0 0 3px rgba(235, 28, 38, 0.2);
    }
  `;

  function sheet(text) {
    const made = new CSSStyleSheet();
    made.replaceSync(text);
    return made;
  }

  let shared = null;
  let skinAdopted = false;

  // The element's own stylesheet, made once and shared by every element.
  function elementSheet() {
    shared = shared || sheet(ELEMENT_CSS);
    return shared;
  }

  function adoptSkin() {
    if (!skinAdopted) {
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet(SKIN_CSS)];
      skinAdopted = true;
    }
  }

  // The `style` option's properties (Stripe's list, camelCase) and pseudo-classes.
  const STYLE_PROPERTIES = {
    color: 'color', fontFamily: 'font-family', fontSize: 'font-size',
    fontSmoothing: '-webkit-font-smoothing', fontStyle: 'font-style',
    fontVariant: 'font-variant', fontWeight: 'font-weight', letterSpacing: 'letter-spacing',
    lineHeight: 'line-height', textAlign: 'text-align', textDecoration: 'text-decoration',
    textShadow: 'text-shadow', textTransform: 'text-transform',
  };
  const PSEUDOS = ['::placeholder', ':focus', ':hover', '::selection', ':disabled'];

  function declarations(style) {
    return Object.keys(style || {})
      .filter(name => STYLE_PROPERTIES[name] && typeof style[name] !== 'object')
      // A value may not close the rule: no braces, semicolons or angle brackets.
      .map(name => `${STYLE_PROPERTIES[name]}: ${String(style[name]).replace(/[{};<>]/g, '')};`)
      .join(' ');
  }

  // CSS for `style.base`, `style.complete`, `style.empty` and `style.invalid`.
  function optionsCss(style) {
    const variants = {
      base: '.CardField',
      complete: '.CardField.is-complete',
      empty: '.CardField.is-empty',
      invalid: '.CardField .InputElement.is-invalid',
    };
    let css = '';
    Object.keys(variants).forEach(variant => {
      const given = (style || {})[variant];
      if (!given) {
        return;
      }
      const root = variants[variant];
      css += `${root} { ${declarations(given)} }\n`;
      if (given.iconColor && variant !== 'invalid') {
        css += `${root} .CardField-brand { color: ${declarations({color: given.iconColor})
          .replace(/^color: |;$/g, '')}; }\n`;
      }
      const inputs = variant === 'invalid' ? root : `${root} .InputElement`;
      PSEUDOS.forEach(pseudo => {
        if (given[pseudo]) {
          css += `${inputs}${pseudo} { ${declarations(given[pseudo])} }\n`;
        }
      });
    });
    return css;
  }

  // The four fields, in order, named and labelled as in Stripe's Card Element.
  const FIELDS = {
    number: {name: 'cardnumber', label: 'Card number', placeholder: 'Card number',
             autocomplete: 'cc-number'},
    expiry: {name: 'exp-date', label: 'Expiration date', placeholder: 'MM / YY',
             autocomplete: 'cc-exp'},
    cvc: {name: 'cvc', label: 'Security code', placeholder: 'CVC', autocomplete: 'cc-csc'},
    postalCode: {name: 'postal', label: 'ZIP', placeholder: 'ZIP',
                 autocomplete: 'postal-code'},
  };
  const CLASSES = {
    base: 'StripeElement', complete: 'StripeElement--complete',
    empty: 'StripeElement--empty', focus: 'StripeElement--focus',
    invalid: 'StripeElement--invalid',
  };

  return {ICONS, elementSheet, sheet, adoptSkin, optionsCss, FIELDS, CLASSES};
})());
