"""The processes: the `billing` command, the server, the worker, the demo. Nothing imports it.

Every process starts here, before the app's modules load: the collector's settings come
first, so that loading them sets off no full collection (`core.garbage`).
"""

from billing.core import garbage

garbage.collect_less_often()
