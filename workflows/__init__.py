"""Deterministic orchestration: one workflow per file, rules as pure functions under `rules/`."""
