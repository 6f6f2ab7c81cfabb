"""Prefect tasks: the pipeline's steps, thin wrappers over releasegate's core and adapters."""
