"""Sources: what reads the outside world for a gate or a check (status pages, smoke checks).

Each sits behind a small interface in `base.py`; `releasegate.wiring` picks the
implementation a configuration names. This package's `__init__` imports nothing.
"""
