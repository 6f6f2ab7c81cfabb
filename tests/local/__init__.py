"""Tests of the local target (real processes, real HTTP on 127.0.0.1)."""
