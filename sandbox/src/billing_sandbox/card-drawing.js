/*
 * How the card Element draws its fields and follows the typing in them: methods mixed
 * into CardElement (card-element.js).
 * Part of billing-sandbox's Stripe.js stand-in (see card-element.js). Licensed
 * GPL-3.0-or-later, like localstripe.
 */
BillingSandboxCard.drawing = (function () {
  'use strict';

  const {brandOf, formatNumber, formatExpiry, ICONS, adoptSkin, FIELDS} = BillingSandboxCard;

  return {
    /* ------------------------------------------------ rendering ------------------------ */

    _makeField(field) {
      const wrapper = document.createElement('span');
      wrapper.className = `CardField-field CardField-${field}`;
      const input = document.createElement('input');
      const spec = FIELDS[field];
      input.className = 'InputElement';
      input.type = 'text';
      input.name = spec.name;
      input.setAttribute('aria-label', spec.label);
      input.setAttribute('placeholder', spec.placeholder);
      input.setAttribute('autocomplete', spec.autocomplete);
      input.setAttribute('inputmode', 'numeric');
      input.setAttribute('autocorrect', 'off');
      input.setAttribute('spellcheck', 'false');
      input.dataset.field = field;
      wrapper.appendChild(input);
      this._inputs[field] = input;
      return wrapper;
    },

    _render(state) {
      if (!this._container) {
        return;
      }
      const now = state || this._state();
      const brand = this._brand();
      const fields = this._shownFields();
      Object.keys(FIELDS).forEach(field => {
        const input = this._inputs[field];
        const shown = fields.includes(field);
        input.parentElement.hidden = !shown;
        const text = this._display(field);
        if (input.value !== text) {
          input.value = text;
        }
        const invalid = shown && this._errorShown(field);
        input.classList.toggle('is-invalid', invalid);
        input.classList.toggle('is-complete', this._check(field).complete);
        input.classList.toggle('is-empty', this._values[field] === '');
        input.setAttribute('aria-invalid', String(invalid));
        input.disabled = Boolean(this._options.disabled);
        input.maxLength = field === 'number' ? 23 : field === 'expiry' ? 7 :
                          field === 'cvc' ? brand.cvc : 10;
      });
      this._row.classList.toggle('is-complete', now.complete);
      this._row.classList.toggle('is-empty', now.empty);
      this._row.classList.toggle('CardField--disabled', Boolean(this._options.disabled));

      const icon = this._errorShown('number') ? 'error'
                   : this._focused === 'cvc' ? 'cvc' : brand.brand;
      this._icon.hidden = Boolean(this._options.hideIcon);
      if (this._icon.dataset.icon !== icon) {
        this._icon.innerHTML = ICONS[icon];
        this._icon.dataset.icon = icon;
      }
      this._icon.dataset.brand = brand.brand;

      const names = this._classes();
      const states = {
        complete: now.complete, empty: now.empty,
        focus: this._focused !== null, invalid: Boolean(now.error),
      };
      this._container.classList.add(names.base);
      Object.keys(states).forEach(name => {
        this._container.classList.toggle(names[name], states[name]);
      });
      if (this._skinned) {
        const tokens = Object.keys(states).filter(name => states[name]);
        this._container.setAttribute('data-sandbox-card-skin', ['on', ...tokens].join(' '));
      }
    },

    _display(field) {
      const value = this._values[field];
      if (field === 'number') {
        return formatNumber(value, this._brand());
      }
      if (field === 'expiry') {
        // "12 / " once the month is typed, so the separator appears as Stripe's does.
        return value.length === 2 && this._expiryOpen ? `${value} / ` : formatExpiry(value);
      }
      return value;
    },

    // Stripe leaves the container's look to the page. A page that left the container and
    // its parent without a border would show borderless inputs: give those a border that
    // follows focus and validity (the page's own CSS wins over it).
    _skinIfBare() {
      this._container.classList.add(this._classes().base);
      const bordered = node => {
        const style = node && node !== document.body && node !== document.documentElement
          ? getComputedStyle(node) : null;
        return Boolean(style) && (parseFloat(style.borderTopWidth) > 0 ||
                                  parseFloat(style.borderBottomWidth) > 0 ||
                                  style.boxShadow !== 'none');
      };
      this._skinned = !bordered(this._container) && !bordered(this._container.parentElement);
      if (this._skinned) {
        adoptSkin();
      }
    },

    /* ------------------------------------------------ typing --------------------------- */

    _listen() {
      Object.keys(FIELDS).forEach(field => {
        const input = this._inputs[field];
        input.addEventListener('input', event => this._onInput(field, event));
        input.addEventListener('keydown', event => this._onKeyDown(field, event));
        input.addEventListener('focus', () => this._onFocus(field));
        input.addEventListener('blur', event => this._onBlur(field, event));
      });
    },

    _onInput(field, event) {
      const input = this._inputs[field];
      const raw = input.value;
      const caret = input.selectionStart === null ? raw.length : input.selectionStart;
      const atEnd = caret === raw.length;
      const deleting = (event.inputType || '').startsWith('delete');
      const before = this._values[field];
      let value;
      if (field === 'number') {
        value = raw.replace(/\D/g, '');
        value = value.slice(0, Math.max(...brandOf(value).lengths));
      } else if (field === 'expiry') {
        value = this._typedExpiry(raw, caret, before, deleting);
      } else if (field === 'cvc') {
        value = raw.replace(/\D/g, '').slice(0, 4);
      } else {
        value = raw.replace(/[^A-Za-z0-9 -]/g, '').slice(0, 10);
      }
      this._values[field] = value;
      this._left[field] = this._refused[field] = false;
      this._fitCvc();
      this._expiryOpen = field === 'expiry' && !deleting && value.length === 2;

      // The caret stays after the same digits; spaces and " / " move under it.
      const digitsBefore = raw.slice(0, caret).replace(field === 'postalCode' ? /[^A-Za-z0-9 -]/g
                                                                              : /\D/g, '').length;
      this._changed(true);
      const shown = input.value;
      let position = shown.length;
      if (!atEnd) {
        let seen = 0;
        position = 0;
        while (position < shown.length && seen < digitsBefore) {
          if (field === 'postalCode' || /\d/.test(shown[position])) {
            seen++;
          }
          position++;
        }
      }
      input.setSelectionRange(position, position);
      if (!deleting && atEnd && this._check(field).complete) {
        this._advance(field);
      }
    },

    // The digits of "MM / YY" from what is in the input: "4" is April ("04 / "), "1/" is
    // January, "13" is "01 / 3"; deleting only the " / " deletes the digit before it too.
    _typedExpiry(raw, caret, before, deleting) {
      let digits = raw.replace(/\D/g, '');
      if (deleting) {
        if (digits === before) {
          const cut = raw.slice(0, caret).replace(/\D/g, '').length;
          digits = digits.slice(0, Math.max(cut - 1, 0)) + digits.slice(cut);
        }
        return digits.slice(0, 4);
      }
      if (digits.length === 6 && digits.slice(2, 4) === '20') {
        digits = digits.slice(0, 2) + digits.slice(4);  // a four-digit year, pasted
      }
      if (/^[2-9]/.test(digits)) {
        digits = '0' + digits;
      } else if (/^1[3-9]$/.test(digits)) {
        digits = '01' + digits.slice(1);
      } else if (digits.length === 1 && /[/\s]/.test(raw) && digits !== '0') {
        digits = '0' + digits;
      }
      return digits.slice(0, 4);
    },

    // A CVC typed for an American Express card loses its fourth digit for any other brand.
    _fitCvc() {
      const size = this._brand().cvc;
      if (this._values.cvc.length > size) {
        this._values.cvc = this._values.cvc.slice(0, size);
      }
    },

    _advance(field) {
      const order = this._shownFields();
      const next = order[order.indexOf(field) + 1];
      if (next) {
        const input = this._inputs[next];
        input.focus();
        input.setSelectionRange(input.value.length, input.value.length);
      }
    },

    _onKeyDown(field, event) {
      const input = this._inputs[field];
      const order = this._shownFields();
      const index = order.indexOf(field);
      const atStart = input.selectionStart === 0 && input.selectionEnd === 0;
      const atEnd = input.selectionStart === input.value.length;
      if (event.key === 'Enter') {
        // Stripe's Elements submit the form they are in when Enter is pressed.
        const form = this._container && this._container.closest('form');
        if (form) {
          event.preventDefault();
          form.requestSubmit ? form.requestSubmit() : form.submit();
        }
      } else if (event.key === 'Escape') {
        this._emit('escape', {elementType: 'card'});
      } else if ((event.key === 'Backspace' || event.key === 'ArrowLeft') && atStart &&
                 index > 0) {
        event.preventDefault();
        const previous = this._inputs[order[index - 1]];
        previous.focus();
        previous.setSelectionRange(previous.value.length, previous.value.length);
      } else if (event.key === 'ArrowRight' && atEnd && index < order.length - 1) {
        event.preventDefault();
        const next = this._inputs[order[index + 1]];
        next.focus();
        next.setSelectionRange(0, 0);
      }
    },

    _onFocus(field) {
      const entering = this._focused === null;
      this._focused = field;
      this._changed(false);
      if (entering) {
        this._emit('focus', {elementType: 'card'});
      }
    },

    _onBlur(field, event) {
      if (this._values[field] !== '') {
        this._left[field] = true;
      }
      this._expiryOpen = false;
      if (!this._inputs) {
        return;  // unmounted
      }
      if (Object.values(this._inputs).includes(event.relatedTarget)) {
        return;  // to another of the card's fields: its focus event repaints
      }
      this._focused = null;
      this._changed(false);
      this._emit('blur', {elementType: 'card'});
    }
  };
})();
