"""Pure, deterministic business rules: used by the workflow and by activities, tested without Temporal."""
