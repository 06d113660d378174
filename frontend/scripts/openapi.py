"""Print the service's OpenAPI document, the source of `src/types/stripe.ts`.

Settings are development's defaults (no `.env`), so the document is the same on every
machine; it does not depend on them.
"""

import json
import sys

from billing.core.config import Settings
from billing.http.app import create_app

document = create_app(Settings(_env_file=None, BILLING_ENV="development")).openapi()
json.dump(document, sys.stdout, indent=2)
sys.stdout.write("\n")
