"""A claim's timeline written with the effect that follows it, in one local activity (claims started since
`three-local-steps`).

A claim paid on its fast path does three things that last: it is taken in (`IntakeActivities.take_in`), paid, and
told. Its timeline used to be written by activities of its own between them: the entries noted before the money moved,
then those noted when the lifecycle ended, before the letters. Each local activity costs the worker a workflow
activation, its payloads' encoding and a transaction. Here each batch of entries goes with the effect it precedes,
written first, in its own commit, so the log still holds the decision before the money moves and the letter's reason
before the letter goes out.
"""

from __future__ import annotations

import structlog
from temporalio import activity

from activities.database import ClaimsDatabase
from activities.notifications import NotificationActivities, latest_start
from activities.payments import PaymentActivities
from models.messages import LettersAfterEvents, PaidAfterEvents, PaymentAfterEvents, SentAfterEvents

log = structlog.get_logger(__name__)


class LifecycleActivities:
    def __init__(self, database: ClaimsDatabase, payments: PaymentActivities,
                 notifications: NotificationActivities) -> None:
        self.database = database
        self.payments = payments
        self.notifications = notifications

    @activity.defn(no_thread_cancel_exception=True)
    def record_and_pay(self, req: PaymentAfterEvents) -> PaidAfterEvents:
        """The entries written (`ClaimsDatabase.record_events`), then the payment made (`PaymentActivities.pay`). A
        retry writes nothing twice (each entry has its key) and pays nothing twice (the payout's idempotency key). A
        payment refused (a bank account rejected) fails the activity after the entries were written: the workflow
        writes them again with its next batch, and the log takes them as written."""
        heads = self.database.record_events(req.events)
        return PaidAfterEvents(log_heads=heads, receipt=self.payments.pay(req.payment))

    @activity.defn(no_thread_cancel_exception=True)
    def record_and_notify(self, req: LettersAfterEvents) -> SentAfterEvents:
        """The entries written, then the letters sent as `NotificationActivities.notify_all` sends them, each begun
        only while half the attempt's time is left. Only the write fails the activity (nothing has gone out then). Once
        it is done, a batch of letters that could not start (the outbox could not be read) answers no outcomes, and
        each letter goes on by itself."""
        begin_until = latest_start()  # half the attempt's time, the entries' write included
        heads = self.database.record_events(req.events)
        try:
            outcomes = self.notifications.send_batch(req.letters, begin_until)
        except Exception as err:  # noqa: BLE001 (every letter goes on by itself, with retries)
            log.warning("letters not sent with the timeline; each goes on by itself", claim_id=req.letters.claim_id,
                        error=type(err).__name__)
            outcomes = []
        return SentAfterEvents(log_heads=heads, outcomes=outcomes)
