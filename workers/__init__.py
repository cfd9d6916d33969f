"""What a claims worker runs: the claim and complaint workflows and every activity they call, bound to the
database, the payment gateway, the senders and the keys. `worker.py` runs one as a process; the demo and the tests
build theirs with the same function."""
