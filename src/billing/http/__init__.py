"""The HTTP layer: the app factory, problem+json, middleware, fast lanes, health, frontend."""
