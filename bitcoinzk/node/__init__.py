"""The Layer-2 node: composition root (server), batch pipeline, signature checks,
configuration; `rpc/` (JSON-RPC) and `explorer/` (HTML pages)."""
