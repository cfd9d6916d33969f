"""Auditors' tools: replay histories against the code and reconstruct decision trails."""
