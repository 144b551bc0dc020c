"""Gold settlement: bit/Winternitz commitments, Script arithmetic, the chunked
BN254 Groth16 verifier and the challenge-response game on Bitcoin."""
