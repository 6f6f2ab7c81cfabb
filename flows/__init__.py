"""Prefect flows: the pipeline (`deploy`) and `rollback`."""
