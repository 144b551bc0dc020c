"""bitcoinzk.prover"""
