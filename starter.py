"""Command line for back-office staff and systems: start claims, act on them, read them.

    python starter.py start claim.json
    python starter.py status C-1001
    python starter.py approve C-1001 --approver sup-7 --role supervisor --comment "checked"
    python starter.py db upgrade
    python starter.py policies load policies.json
    python starter.py worklist --overdue
    python starter.py audit replay --workflow-id claim-C-1001
    python starter.py demo
"""

import os
import sys

from cli import status

if __name__ == "__main__":
    if status.wanted(sys.argv[1:]):  # the command staff and scripts run most, without the rest's imports
        code = status.main(sys.argv[1:])
    else:
        from cli.main import main

        code = main()
    # The Temporal client's runtime threads can outlive the event loop and crash the interpreter's teardown
    # (SIGABRT or SIGSEGV after the command's answer was printed: temporalio/sdk-python issue 300). Everything
    # this command does is done and flushed here, so the process ends without that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
