from __future__ import annotations

import pytest

from gateway.sse import SSEParser, encode, frame


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        ([b'data: {"a":1}\n\n'], [b'{"a":1}']),
        ([b'data: {"a"', b":1}\n", b"\ndata: [DONE]\n\n"], [b'{"a":1}', b"[DONE]"]),
        ([b"data: x\r\n\r\ndata: y\r", b"\n\r\n"], [b"x", b"y"]),
        ([b": keep-alive\n\nevent: ping\n\ndata:z\n\n"], [b"z"]),
        ([b"data: a\ndata: b\n\n"], [b"a\nb"]),
        ([b"data: incomplete"], []),
        ([b"data: 1\n\ndata: a\ndata: b\n\ndata: 2\n\n"], [b"1", b"a\nb", b"2"]),
        ([b"data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4"], [b"1", b"2", b"3"]),
        ([b"data: 1\n\ndata:2\n\n: ping\n\n\n\ndata: 3\n\n"], [b"1", b"2", b"3"]),
        ([b"data: 1\n\n\n", b"data: 2\n\n"], [b"1", b"2"]),
    ],
    ids=[
        "one",
        "split-across-reads",
        "crlf-split",
        "comments-and-events",
        "multiline",
        "partial",
        "mixed-in-one-read",
        "many-in-one-read",
        "odd-ones-among-many",
        "stray-line-break",
    ],
)
def test_parser_yields_complete_events(pieces: list[bytes], expected: list[bytes]) -> None:
    parser = SSEParser()
    out = [event for piece in pieces for event in parser.feed(piece)]
    assert out == expected


def test_encode_frames_one_event() -> None:
    assert encode({"a": None}) == b'data: {"a":null}\n\n'


def test_frame_frames_serialised_documents() -> None:
    assert frame([b'{"a":1}', b"[2]"]) == b'data: {"a":1}\n\ndata: [2]\n\n'
    assert frame([]) == b""
