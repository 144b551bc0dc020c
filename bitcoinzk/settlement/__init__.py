"""Settlement: a new state root counts only with a valid proof.

`evm/` is Silver (a Vyper contract on an EVM chain), `bitvm/` is Gold (a BitVM game
in Taproot scripts on Bitcoin)."""
