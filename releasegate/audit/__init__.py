"""The audit trail: the record model (`record`), the store interface (`store`), the file and
S3 stores, and re-verification of approval signatures (`proofs`).

Imports nothing, so the record model loads without any store; `releasegate.wiring` opens
the store a configuration names.
"""
