"""Exodus: the exit circuit, exit proofs and claims (docs/protocol.md, "Exodus")."""
