"""Settings of the benchmark's own processes (``make bench`` only, never deployed).

They live with the benchmark code, not in ``config/settings/``: the product's settings
never name anything under ``tests/`` (the image may be built without it), and these may
(the no-tenancy middleware and backend, the ceiling view).
"""
