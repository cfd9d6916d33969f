"""The decision core's state machine (testkit/core_machine.py) over many sequences, with the rate and violations.

    .venv/bin/python bench/core_sequences.py                 # 100,000 sequences of up to 30 commands
    .venv/bin/python bench/core_sequences.py --sequences 5000

Prints sequences, commands sent, wall time, sequences a second, and the shrunk failing sequence if an invariant
broke (exit 1). No engine, no database: the core alone, as `make test` runs it with fewer sequences.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from testkit.core_machine import CoreMachine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    started = time.monotonic()
    failure = None
    try:
        run_state_machine_as_test(CoreMachine, settings=settings(
            max_examples=args.sequences, stateful_step_count=args.steps, deadline=None, database=None,
            suppress_health_check=list(HealthCheck)))
    except AssertionError as err:
        failure = err
    took = time.monotonic() - started
    print(f"sequences: {CoreMachine.sequences}  commands: {CoreMachine.steps}  wall: {took:.1f} s  "
          f"rate: {CoreMachine.sequences / took:.0f} sequences/s  violations: {0 if failure is None else 1}")
    if failure is not None:
        print(f"violation: {failure}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
