"""Who sent an update: OpenID Connect bearer tokens, the keys that verify them, and the development issuer."""
