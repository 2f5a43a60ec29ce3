"""One exchange: the request as it goes out, and every shape of answer coming back, whole or
read by read, well-formed or not."""

from __future__ import annotations

import asyncio
import base64
import gzip

import orjson
import pytest
from aiohttp import web

from gateway.http_client import HttpClient
from gateway.http_connection import BadResponse, ClosedEarly
from tests.http_client.servers import (
    RawServer,
    SocketServer,
    StartUpstream,
    call,
    echo_app,
    posting,
)


async def test_a_request_arrives_as_sent_and_the_connection_is_kept(
    http: HttpClient, start_upstream: StartUpstream
) -> None:
    base = await start_upstream(echo_app())
    first = await http.send(
        "POST",
        f"{base}/v1/chat?api-version=2024-10-21",
        {"Authorization": "Bearer k"},
        b"hi",
        whole=True,
    )
    assert first.status == 200
    assert first.headers["content-type"] == "application/json; charset=utf-8"
    seen = orjson.loads(first.body)
    first.release()
    assert seen["path"] == "/v1/chat?api-version=2024-10-21"
    assert seen["body"] == "hi"
    assert seen["headers"]["Authorization"] == "Bearer k"
    assert seen["headers"]["Host"] == base.removeprefix("http://")
    assert seen["headers"]["Content-Length"] == "2"
    again = orjson.loads(await call(http, f"{base}/v1/chat"))
    assert again["peer"] == seen["peer"]  # the same connection, kept alive


async def test_a_path_is_escaped_once_and_user_info_becomes_basic_auth(
    http: HttpClient, start_upstream: StartUpstream
) -> None:
    base = await start_upstream(echo_app())
    url = base.replace("http://", "http://ollama:s%3Acret@") + "/model/a b:v1%3A0/invoke"
    seen = orjson.loads(await call(http, url))
    assert seen["path"] == "/model/a%20b:v1%3A0/invoke"
    expected = base64.b64encode(b"ollama:s:cret").decode()
    assert seen["headers"]["Authorization"] == f"Basic {expected}"


async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(
    http: HttpClient, start_upstream: StartUpstream
) -> None:
    requests: list[web.Request] = []

    async def record(request: web.Request) -> web.Response:
        requests.append(request)
        return web.Response()

    base = await start_upstream(posting(record))
    for value in ("a\r\nX-Injected: 1", "a\nb", "a\rb"):
        with pytest.raises(ValueError, match="line break"):
            await http.send("POST", f"{base}/", {"X-Custom": value}, b"", whole=True)
    await call(http, f"{base}/")
    assert len(requests) == 1


async def test_a_stream_is_handed_over_as_it_arrives(
    http: HttpClient, start_upstream: StartUpstream
) -> None:
    release = asyncio.Event()

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"data: one\n\n")
        await release.wait()
        await response.write(b"data: two\n\n")
        await response.write_eof()
        return response

    base = await start_upstream(posting(stream))
    response = await http.send("POST", f"{base}/", {}, b"", whole=False)
    assert await response.next_chunk() == b"data: one\n\n"  # before the server has finished
    release.set()
    assert await response.next_chunk() == b"data: two\n\n"
    assert await response.next_chunk() == b""
    response.release()
    assert await call(http, f"{base}/")  # the connection went back and serves again


async def test_a_stream_nobody_reads_stops_the_sender(
    http: HttpClient, socket_server: SocketServer
) -> None:
    total = 64 * 1024 * 1024
    sent = 0

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        block = b"x" * 65536
        while sent < total:
            writer.write(block)
            await writer.drain()  # waits while the client is not reading
            sent += len(block)
        writer.close()

    base = await socket_server(flood)
    response = await http.send("POST", f"{base}/", {}, b"", whole=False)
    await asyncio.sleep(0.3)
    assert sent < total / 4  # held back by the sockets' buffers, not taken into memory
    received = 0
    while chunk := await response.next_chunk():
        received += len(chunk)
    response.release()
    assert received == total


@pytest.mark.parametrize("coding", [web.ContentCoding.gzip, web.ContentCoding.deflate])
@pytest.mark.parametrize("whole", [True, False], ids=["whole", "stream"])
async def test_a_compressed_body_is_decoded(
    http: HttpClient, start_upstream: StartUpstream, coding: web.ContentCoding, whole: bool
) -> None:
    text = b"".join(b"data: %d\n\n" % i for i in range(5000))

    async def compressed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_compression(coding)  # as the client allows
        await response.prepare(request)
        for start in range(0, len(text), 4096):
            await response.write(text[start : start + 4096])
        await response.write_eof()
        return response

    base = await start_upstream(posting(compressed))
    response = await http.send("POST", f"{base}/", {}, b"", whole=whole)
    assert response.headers["Content-Encoding"] == coding.value
    if whole:
        got = response.body
    else:
        got = b""
        while chunk := await response.next_chunk():
            got += chunk
    response.release()
    assert got == text


async def test_compressed_bytes_that_decode_to_nothing_yet_do_not_end_a_stream(
    http: HttpClient, socket_server: SocketServer
) -> None:
    packed = gzip.compress(b"data: hello\n\n")

    async def slowly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for part in (packed[:4], packed[4:]):  # the first part is only the gzip header's start
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        writer.close()

    base = await socket_server(slowly)
    response = await http.send("POST", f"{base}/", {}, b"", whole=False)
    assert await response.next_chunk() == b"data: hello\n\n"
    assert await response.next_chunk() == b""
    response.release()


async def test_a_body_without_framing_runs_to_the_close(
    http: HttpClient, raw_server: RawServer
) -> None:
    base, _ = await raw_server(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
    assert await call(http, f"{base}/") == b"until the end"


async def test_an_interim_response_is_skipped(http: HttpClient, raw_server: RawServer) -> None:
    base, _ = await raw_server(
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    )
    response = await http.send("POST", f"{base}/", {}, b"", whole=True)
    assert (response.status, response.body, "link" in response.headers) == (201, b"ok", False)
    response.release()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"", ClosedEarly),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", BadResponse),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", BadResponse),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", BadResponse),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            BadResponse,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx", BadResponse),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", BadResponse),
    ],
    ids=["no-answer", "short-length", "short-chunked", "not-http", "upgrade", "brotli", "bad-gzip"],
)
async def test_a_broken_answer_is_an_error_of_its_kind(
    http: HttpClient, raw_server: RawServer, reply: bytes, error: type[Exception]
) -> None:
    base, _ = await raw_server(reply)
    for whole in (True, False):
        with pytest.raises(error):
            response = await http.send("POST", f"{base}/", {}, b"", whole=whole)
            try:
                while await response.next_chunk():
                    pass
            finally:
                response.release()
