"""The Layer-2 node's JSON-RPC dialect: JSON-RPC 2.0 only, notifications, error objects.

Standard codes (-32700..-32603) for protocol errors; application errors carry
the code of the typed exception that rejected the request (bitcoinzk.spec.errors,
-32000 and below) and a readable message.  Everything else (limits, batches,
binding) is `bitcoinzk.httprpc.JsonRpcServer`'s.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bitcoinzk import httprpc
from bitcoinzk.httprpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
)

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "Dispatcher",
    "JsonRpcError",
]


class JsonRpcError(httprpc.MethodError):
    """An error answered by a Layer-2 RPC method (or by the protocol)."""


class Dispatcher(httprpc.JsonRpcServer):
    """The Layer-2 RPC (sequencer node and full node): methods are async."""

    def check(self, request: dict[str, Any]) -> httprpc.Reply | None:
        # answered even without an id: a request this malformed is no notification
        req_id = request.get("id")
        if request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str):
            message = "Invalid Request: need jsonrpc '2.0' and a method"
            return _reply(req_id, JsonRpcError(INVALID_REQUEST, message))
        if req_id is not None and (isinstance(req_id, bool) or not isinstance(req_id, (str, int))):
            return _reply(None, JsonRpcError(INVALID_REQUEST, "Invalid Request: bad id"))
        return None

    def reply(self, request: dict[str, Any], result: Any) -> httprpc.Reply:
        if "id" not in request:
            return None, 200  # a notification: nothing is sent
        return {"jsonrpc": "2.0", "id": request["id"], "result": result}, 200

    def error(self, request: Any, exc: httprpc.MethodError) -> httprpc.Reply:
        if not isinstance(request, dict):
            return _reply(None, exc)
        if "id" not in request:
            return None, 200  # a notification gets no reply, not even an error
        return _reply(request["id"], exc)

    def refused(self, exc: httprpc.RequestRejected) -> web.Response:
        # a body too large is refused by HTTP status; one read but refused is answered
        # as JSON-RPC, with HTTP 200
        status = exc.status if exc.status == 413 else 200
        error = {"code": exc.code, "message": exc.message}
        return web.json_response({"jsonrpc": "2.0", "id": None, "error": error}, status=status)


def _reply(req_id: Any, exc: httprpc.MethodError) -> httprpc.Reply:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.data is not None:
        error["data"] = exc.data
    return {"jsonrpc": "2.0", "id": req_id, "error": error}, 200
