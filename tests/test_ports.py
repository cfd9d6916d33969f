"""Ports the product and the tests choose for the servers they start (config/temporal.py `free_port`)."""

from __future__ import annotations

from config.temporal import LISTEN_PORTS, free_port


def test_a_port_is_handed_out_once_though_none_was_bound_in_between() -> None:
    # A stack asks for its server's, its UI's and its API's ports before any of them binds: a port handed out twice
    # made the API fail at start with "address already in use" (its own Temporal server held it).
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
    assert all(p in LISTEN_PORTS for p in ports)
