"""Settings (environment) and the tables of business rules."""
