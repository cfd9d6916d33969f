"""The HTTP API in front of the claims (SPEC section 11): `python -m api`, or `make run` with the worker."""
