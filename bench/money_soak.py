"""Soak the money invariants: the state machine of testkit/money_machine.py, thousands of sequences.

    .venv/bin/python bench/money_soak.py --sequences 2000 --steps 12

Prints sequences run, steps, failures, wall time and sequences per second; exits 1 on a violation
(hypothesis prints the shrunk sequence first; --no-shrink skips shrinking on a long run).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CLAIMS_PROPERTY_PROGRESS", "25")  # read when the state machine's module is imported
os.environ.setdefault("CLAIMS_DEV_ISSUER", "true")  # as the tests' configuration sets it: the rig is the embedded stack

from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from testkit.money_machine import ClaimsMachine, machine_settings  # noqa: E402
from testkit.money_rig import Rig  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=2000, help="whole-workflow sequences to generate")
    parser.add_argument("--steps", type=int, default=12, help="most rules per sequence")
    parser.add_argument("--no-shrink", action="store_true", help="report the first failing sequence as found")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("temporalio").setLevel(logging.CRITICAL)

    rig = Rig()
    ClaimsMachine.rig = rig
    started = time.monotonic()
    failures = 0
    try:
        run_state_machine_as_test(ClaimsMachine, settings=machine_settings(
            examples=args.sequences, steps=args.steps, shrink=not args.no_shrink))
    except BaseException as err:  # noqa: BLE001 - a violation (or several) is the soak's finding
        failures = len(getattr(err, "exceptions", [err]))
        print(f"VIOLATION: {type(err).__name__}: {err}")
        traceback.print_exception(err)
    finally:
        rig.close()
    wall = time.monotonic() - started
    print(f"sequences run: {ClaimsMachine.sequences}")
    print(f"steps: {ClaimsMachine.steps}")
    print(f"failures: {failures}")
    print(f"tasks the test server lost at a continue-as-new (time released for each): {rig.lost_tasks}")
    print(f"wall time: {wall:.1f} s")
    print(f"sequences per second: {ClaimsMachine.sequences / wall:.2f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
