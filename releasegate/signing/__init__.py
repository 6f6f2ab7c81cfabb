"""Approval signatures: the canonical payload (`payload`), the SSHSIG format (`sshsig`),
the verifier interface (`verifier`) and the ssh-keygen adapter (`keygen`).

Imports nothing; `releasegate.wiring.signature_verifier` chooses the verifier.
"""
