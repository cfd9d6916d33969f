"""The HTTP API in front of the claims (docs/integrators.md): `python -m api`, or `make run` with the worker."""
