"""The database: the engine and its transaction helpers, the schema's migrations, the hash-chained claim event
log, the transactional outbox of CloudEvents, and the one-time codes' wrong-try counts."""
