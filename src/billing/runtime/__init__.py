"""The processes: the `billing` command, the server, the worker, the demo. Nothing imports it."""
