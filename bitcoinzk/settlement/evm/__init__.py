"""Silver settlement: the Vyper rollup and verifier contracts, EVM clients
(embedded py-evm, any JSON-RPC node), deploy and commit."""
