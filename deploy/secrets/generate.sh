#!/usr/bin/env bash
# Writes the secret files deploy/compose.yaml mounts: random ones generated here, the
# Stripe keys taken from your environment (STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY,
# STRIPE_WEBHOOK_SECRET). Existing files are kept. Never commit this folder's output.
#
# The folder is closed to other users (0700); the files in it are readable (0644), since
# Compose mounts them as they are and the containers run as users of their own.
set -euo pipefail
cd "$(dirname "$0")"
chmod 700 .

write() {  # name value: unless the file exists already
    [[ -s "$1" ]] || { printf '%s' "$2" > "$1"; chmod 644 "$1"; }
}
random() { python3 -c "import secrets; print(secrets.token_hex(32), end='')"; }
fernet() { python3 -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode(), end='')"; }

write POSTGRES_PASSWORD "$(random)"
password=$(cat POSTGRES_PASSWORD)
write PGBOUNCER_USERLIST "\"billing\" \"$password\""
write DATABASE_URL "postgresql+asyncpg://billing:$password@pgbouncer:6432/billing"
write BILLING_JWT_SECRET "$(random)"
write BILLING_ENCRYPTION_KEYS "$(fernet)"
write BILLING_METRICS_TOKEN "$(random)"
for name in STRIPE_SECRET_KEY STRIPE_PUBLISHABLE_KEY STRIPE_WEBHOOK_SECRET; do
    if [[ ! -s "$name" ]]; then
        value="${!name:-}"
        [[ -n "$value" ]] || { echo "set $name (from your Stripe dashboard) and run again" >&2; exit 2; }
        write "$name" "$value"
    fi
done
echo "secrets written to $(pwd)"
