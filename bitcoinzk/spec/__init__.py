"""The executable specification: accounts, pubdata, the state tree and the STF.

Written to be read (execution-specs style); the circuit mirrors it check for check.
Imports nothing of bitcoinzk above `crypto/`."""
