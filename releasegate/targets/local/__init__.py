"""The local target: releases run as processes on 127.0.0.1 behind a per-environment proxy.

Imports nothing: `releasegate.wiring` imports the target only when one is configured.
"""
