"""Everything with side effects, grouped by the system it talks to.

Every activity here is a plain function run on the worker's thread pool, declared with
`no_thread_cancel_exception=True`: a cancelled or shut-down activity finishes its short transaction instead
of having an exception thrown into its thread at an arbitrary bytecode, which can leave a lock (a logging
handler's, a connection pool's) held by a thread that no longer exists and stop the whole process. Each
activity is short and idempotent, so letting it finish is always safe; the payment adapter needs this most.
"""
