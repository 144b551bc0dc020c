"""The HTTP side of the project's two JSON-RPC servers (Layer-2 node, Bitcoin RPC): limits,
timeouts, body reading and request decoding, defined once so that both refuse the same
things the same way.

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
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bitcoinzk import safejson

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600

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


__all__ = [
    "BODY_TIMEOUT",
    "HEADER_TIMEOUT",
    "INVALID_REQUEST",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_REPLY_BYTES",
    "PARSE_ERROR",
    "REPLY_TIMEOUT",
    "BodyTimeout",
    "HttpLimits",
    "RequestRejected",
    "application",
    "decode",
    "read_body",
    "runner",
    "send_json",
]
