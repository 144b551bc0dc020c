"""JSON-RPC 2.0: the dispatcher and POST handler, the Layer-2 API's parameters and
result shapes (shared with the full node), and the client for the node's API."""
