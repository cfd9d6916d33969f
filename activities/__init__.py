"""Everything with side effects, grouped by the system it talks to."""
