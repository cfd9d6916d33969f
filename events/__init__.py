"""Claim events for the systems around the claims department: every published entry of the claim event log,
as a CloudEvents 1.0 event, written to a transactional outbox with its log row and relayed from there to
signed webhooks and a message broker, at least once and in order per claim."""
