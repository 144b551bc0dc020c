"""The project's JSON-RPC server, written once for its two endpoints (the Layer-2 node's
and the Bitcoin node's RPC): limits, timeouts, body reading, request decoding, batches and
their reply budget, parameter binding and error replies, so that both refuse the same
things the same way.  `JsonRpcServer` serves a method table (a dict, name -> handler);
a subclass says only what its dialect does differently (JSON-RPC 2.0 only with
notifications for the Layer-2 node; bitcoind's 1.0/2.0 replies and HTTP statuses for the
Bitcoin RPC).

What each limit stops:
- `max_body_bytes`: memory per request (aiohttp refuses the body once it passes the limit).
- `max_batch`: work per request; an over-long batch gets ONE error, not one per item.
- `max_reply_bytes`: memory per reply (a small request must not ask for a huge answer).
- `header_timeout`: a connection must send a complete request line and headers within
  this many seconds of connecting or of its previous reply (aiohttp's keep-alive timer,
  which closes a connection whose next request has not fully arrived), so a client that
  trickles headers (slowloris) or never sends anything is dropped.
- `body_timeout`: the body must arrive within this many seconds of the headers; a
  connection that trickles its body is closed without a reply.
- `reply_timeout`: a reply must be taken by the client within this many seconds, else
  the connection is aborted and its buffered reply dropped (a client that asks for large
  replies and never reads them would otherwise hold each one in memory).
JSON nesting is bounded by `bitcoinzk.safejson` before parsing.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bitcoinzk import safejson

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

MAX_BODY_BYTES = 1 << 20
MAX_BATCH = 1000
MAX_REPLY_BYTES = 64 << 20
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 20.0
REPLY_TIMEOUT = 60.0


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int = MAX_BODY_BYTES
    max_batch: int = MAX_BATCH
    max_reply_bytes: int = MAX_REPLY_BYTES
    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    reply_timeout: float = REPLY_TIMEOUT


class RequestRejected(Exception):
    """The request as a whole is refused: one error for the client, with its HTTP status."""

    def __init__(self, code: int, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class BodyTimeout(Exception):
    """The body did not arrive in time; the connection has been closed (nobody to answer)."""


def application(limits: HttpLimits) -> web.Application:
    return web.Application(client_max_size=limits.max_body_bytes)


def runner(app: web.Application, limits: HttpLimits) -> web.AppRunner:
    # auto_decompress off: client_max_size would count decompressed bytes only after the
    # work is done, and no JSON-RPC client compresses its requests. lingering_time: how
    # long the rest of a refused (413) body is read and dropped so that its sender can
    # read the error; aiohttp's 10 s also held every shutdown that long.
    return web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=limits.header_timeout,
        auto_decompress=False,
        lingering_time=1.0,
    )


async def read_body(request: web.Request, limits: HttpLimits) -> bytes:
    """The request body, within the size and time limits (RequestRejected, BodyTimeout)."""
    try:
        async with asyncio.timeout(limits.body_timeout):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RequestRejected(
            INVALID_REQUEST, f"request body over {limits.max_body_bytes} bytes", 413
        ) from None
    except TimeoutError:
        log.info("closing %s: body not received in %ss", request.remote, limits.body_timeout)
        request.protocol.force_close()
        raise BodyTimeout from None


async def send_json(
    request: web.Request, text: str, limits: HttpLimits, status: int = 200
) -> web.StreamResponse:
    """Write a JSON reply that the client must read within `reply_timeout`."""
    data = text.encode()
    resp = web.StreamResponse(status=status)
    resp.content_type = "application/json"
    resp.content_length = len(data)
    try:
        async with asyncio.timeout(limits.reply_timeout):
            await resp.prepare(request)
            await resp.write(data)
            await resp.write_eof()
    except TimeoutError:
        log.info("aborting %s: reply not read in %ss", request.remote, limits.reply_timeout)
        # abort, not close: close would keep the unsent reply buffered until it is read.
        if request.transport is not None:
            request.transport.abort()
        request.protocol.force_close()
    return resp


def decode(body: bytes, limits: HttpLimits) -> Any:
    """The parsed request: an object, or a non-empty batch of at most `max_batch` items
    (anything else is the caller's to reject per item). Raises RequestRejected."""
    try:
        request = safejson.loads(body)
    except safejson.JSONDepthError as exc:
        raise RequestRejected(PARSE_ERROR, f"Parse error: {exc}", 400) from None
    except ValueError:
        raise RequestRejected(PARSE_ERROR, "Parse error: body is not valid JSON", 400) from None
    if isinstance(request, list):
        if not request:
            raise RequestRejected(INVALID_REQUEST, "Invalid Request: empty batch", 400)
        if len(request) > limits.max_batch:
            raise RequestRejected(
                INVALID_REQUEST, f"Invalid Request: batch larger than {limits.max_batch}", 400
            )
    return request


Handler = Callable[..., Any]
"""A method: called with the request's params (positional or named); may be async."""

Reply = tuple[dict[str, Any] | None, int]
"""One request's reply object (None: nothing to send, a notification) and HTTP status."""


class MethodError(Exception):
    """What a method raises to answer with an error object instead of a result."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class JsonRpcServer(ABC):
    """POST / answered from a method table: the part both RPC servers share.

    Items of a batch start in order; once the replies so far pass `max_reply_bytes`, the
    remaining items are not run and each gets a small error, so a reply stays within the
    limit plus one item whatever the batch asks for.  Items that wait (an async handler)
    run together."""

    def __init__(self, limits: HttpLimits | None = None) -> None:
        self.methods: dict[str, Handler] = {}
        self.limits = limits or HttpLimits()

    def method(self, name: str) -> Callable[[Handler], Handler]:
        """Decorator: add `fn` to the method table as `name`."""

        def register(fn: Handler) -> Handler:
            self.methods[name] = fn
            return fn

        return register

    # --- the dialect: what differs between the servers --------------------------------

    @abstractmethod
    def check(self, request: dict[str, Any]) -> Reply | None:
        """An error reply for a request object this dialect refuses, else None."""

    @abstractmethod
    def reply(self, request: dict[str, Any], result: Any) -> Reply: ...

    @abstractmethod
    def error(self, request: Any, exc: MethodError) -> Reply:
        """The error reply to `request` (which may be anything, e.g. None or not an
        object, when there is no request id to answer)."""

    @abstractmethod
    def refused(self, exc: RequestRejected) -> web.Response:
        """The reply to a request refused as a whole (too large, not JSON, bad batch)."""

    def params(self, request: dict[str, Any]) -> Any:
        return request.get("params", [])

    def not_found(self, name: str) -> MethodError:
        return MethodError(METHOD_NOT_FOUND, f"Method not found: {name:.100}")

    def bad_params(self, name: str, exc: TypeError) -> MethodError:
        return MethodError(INVALID_PARAMS, f"Invalid params: {exc}")

    def internal(self, exc: Exception) -> MethodError:
        return MethodError(INTERNAL_ERROR, "Internal error")

    def not_an_object(self) -> Reply:
        return self.error(None, MethodError(INVALID_REQUEST, "Invalid Request: not an object"))

    def skipped(self, request: Any) -> dict[str, Any] | None:
        """The reply to a batch item not run because the reply is already full."""
        if not isinstance(request, dict):
            return self.not_an_object()[0]
        if "id" not in request:
            return None
        limit = self.limits.max_reply_bytes
        return self.error(
            request, MethodError(INVALID_REQUEST, f"batch reply over {limit} bytes: not run")
        )[0]

    def authorized(self, request: web.Request) -> bool:
        return True

    async def call(self, fn: Handler, args: list[Any], kwargs: dict[str, Any]) -> Any:
        result = fn(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    # --- written once ------------------------------------------------------------------

    async def handle_http(self, request: web.Request) -> web.StreamResponse:
        if not self.authorized(request):
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="jsonrpc"'})
        try:
            body = await read_body(request, self.limits)
        except RequestRejected as exc:
            return self.refused(exc)
        except BodyTimeout:
            return web.Response(status=408)  # never sent: the connection is closed
        try:
            reply, status = await self.handle(body)
        except RequestRejected as exc:
            return self.refused(exc)
        if reply is None:
            return web.Response(status=204)
        return await send_json(request, json.dumps(reply), self.limits, status)

    async def handle(self, body: bytes) -> tuple[Any | None, int]:
        """The reply to a request body (None: nothing to send) and its HTTP status;
        RequestRejected when the body is refused as a whole."""
        request = decode(body, self.limits)
        if not isinstance(request, list):
            return await self.one(request)
        used = 0

        async def item(req: Any) -> dict[str, Any] | None:
            nonlocal used
            if used > self.limits.max_reply_bytes:
                return self.skipped(req)
            reply = (await self.one(req))[0]
            if reply is not None:
                used += len(json.dumps(reply))
            return reply

        answers = await asyncio.gather(*(item(r) for r in request))
        replies = [a for a in answers if a is not None]
        return (replies or None), 200

    async def one(self, request: Any) -> Reply:
        if not isinstance(request, dict):
            return self.not_an_object()
        refused = self.check(request)
        if refused is not None:
            return refused
        name = request["method"]
        try:
            fn = self.methods.get(name)
            if fn is None:
                raise self.not_found(name)
            params = self.params(request)
            if not isinstance(params, (list, dict)):
                raise MethodError(INVALID_PARAMS, "params must be an array or an object")
            args, kwargs = (params, {}) if isinstance(params, list) else ([], params)
            try:
                inspect.signature(fn).bind(*args, **kwargs)
            except TypeError as exc:
                # Wrong number or names of parameters; a TypeError inside a handler is a bug.
                raise self.bad_params(name, exc) from None
            result = await self.call(fn, args, kwargs)
        except MethodError as exc:
            return self.error(request, exc)
        except Exception as exc:  # a bug in a handler must not kill the server
            log.exception("RPC %.100s failed", name)
            return self.error(request, self.internal(exc))
        return self.reply(request, result)


__all__ = [
    "BODY_TIMEOUT",
    "HEADER_TIMEOUT",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_REPLY_BYTES",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "REPLY_TIMEOUT",
    "BodyTimeout",
    "Handler",
    "HttpLimits",
    "JsonRpcServer",
    "MethodError",
    "Reply",
    "RequestRejected",
    "application",
    "decode",
    "read_body",
    "runner",
    "send_json",
]
