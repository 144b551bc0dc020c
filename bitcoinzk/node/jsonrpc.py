"""JSON-RPC 2.0 over HTTP: parsing, dispatch, batches, error objects.

Standard codes (-32700..-32603) for protocol errors; application errors carry
the code of the typed exception that rejected the request (bitcoinzk.l2.errors,
-32000 and below) and a readable message.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bitcoinzk import httprpc

PARSE_ERROR = httprpc.PARSE_ERROR
INVALID_REQUEST = httprpc.INVALID_REQUEST
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
DEFAULT_LIMITS = httprpc.HttpLimits()

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]


class JsonRpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class Dispatcher:
    def __init__(self) -> None:
        self.methods: dict[str, Handler] = {}

    def method(self, name: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.methods[name] = fn
            return fn

        return register

    async def handle(self, body: bytes, limits: httprpc.HttpLimits = DEFAULT_LIMITS) -> Any | None:
        """Answer a request body; None when nothing is to be sent (notifications only)."""
        try:
            request = httprpc.decode(body, limits)
        except httprpc.RequestRejected as exc:
            return _error(None, JsonRpcError(exc.code, exc.message))
        if isinstance(request, list):
            budget = _ReplyBudget(limits.max_reply_bytes)
            answers = await asyncio.gather(*(self._budgeted(r, budget) for r in request))
            replies = [a for a in answers if a is not None]
            return replies or None
        return await self._one(request)

    async def _budgeted(self, request: Any, budget: _ReplyBudget) -> dict[str, Any] | None:
        """`_one`, unless the batch's replies already passed the reply limit: then the item
        is not run and gets a small error. Items start in order and a read method runs to
        its end without suspending, so the reply stays within the limit plus one item."""
        if budget.used > budget.limit:
            if not isinstance(request, dict):
                return _error(None, JsonRpcError(INVALID_REQUEST, "Invalid Request: not an object"))
            if "id" not in request:
                return None
            return _error(
                request.get("id"),
                JsonRpcError(INVALID_REQUEST, f"batch reply over {budget.limit} bytes: not run"),
            )
        reply = await self._one(request)
        if reply is not None:
            budget.used += len(json.dumps(reply))
        return reply

    async def _one(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error(None, JsonRpcError(INVALID_REQUEST, "Invalid Request: not an object"))
        req_id = request.get("id")
        if request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str):
            return _error(
                req_id,
                JsonRpcError(INVALID_REQUEST, "Invalid Request: need jsonrpc '2.0' and a method"),
            )
        if req_id is not None and (isinstance(req_id, bool) or not isinstance(req_id, (str, int))):
            return _error(None, JsonRpcError(INVALID_REQUEST, "Invalid Request: bad id"))
        notification = "id" not in request
        fn = self.methods.get(request["method"])
        params = request.get("params", [])
        try:
            if fn is None:
                raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {request['method']:.100}")
            if not isinstance(params, (list, dict)):
                raise JsonRpcError(INVALID_PARAMS, "params must be an array or an object")
            args, kwargs = (params, {}) if isinstance(params, list) else ([], params)
            try:
                inspect.signature(fn).bind(*args, **kwargs)
            except TypeError as exc:
                # Wrong number or names of parameters; a TypeError inside a handler is a bug.
                raise JsonRpcError(INVALID_PARAMS, f"Invalid params: {exc}") from None
            result = await fn(*args, **kwargs)
        except JsonRpcError as exc:
            return None if notification else _error(req_id, exc)
        except Exception:
            log.exception("handler error")
            return (
                None
                if notification
                else _error(req_id, JsonRpcError(INTERNAL_ERROR, "Internal error"))
            )
        if notification:
            return None
        return {"jsonrpc": "2.0", "id": req_id, "result": result}


class _ReplyBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


def _error(req_id: Any, exc: JsonRpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": exc.to_json()}


async def http_rpc(
    rpc: Dispatcher, request: web.Request, limits: httprpc.HttpLimits
) -> web.StreamResponse:
    """Answer one JSON-RPC POST (shared by the sequencer node and the full node)."""
    try:
        body = await httprpc.read_body(request, limits)
    except httprpc.RequestRejected as exc:
        error = {"code": exc.code, "message": exc.message}
        return web.json_response({"jsonrpc": "2.0", "id": None, "error": error}, status=exc.status)
    except httprpc.BodyTimeout:
        return web.Response(status=408)  # never sent: the connection is closed
    reply = await rpc.handle(body, limits)
    if reply is None:
        return web.Response(status=204)
    return await httprpc.send_json(request, json.dumps(reply), limits)
