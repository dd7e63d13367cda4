"""
Coverage-guided fuzz target for the sans-IO parsers (atheris / libFuzzer).

    python fuzz/fuzz_parser.py -max_total_time=60 fuzz/corpus

Each input is split into segments at offsets taken from its first byte; the
request parser must raise nothing but ProtocolError and must give the same
events as for the unsplit input.  The response parser must raise nothing but
ProtocolError either.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["htcpcp.message"]):
    from htcpcp.message import PEER_CLOSED, ProtocolError, ResponseParser
    from tests.helpers import parse_pieces


def _responses(data: bytes) -> None:
    parser = ResponseParser()
    parser.receive_data(data)
    parser.receive_data(b"")
    try:
        for _ in range(len(data) + 1):
            if parser.next_event() is PEER_CLOSED:
                return
    except ProtocolError:
        return


def test_one_input(data: bytes) -> None:
    if not data:
        return
    step = data[0] % 17 + 1
    body = data[1:]
    pieces = [body[i : i + step] for i in range(0, len(body), step)]
    whole = parse_pieces([body] if body else [])
    split = parse_pieces(pieces)
    if whole != split:
        raise AssertionError(f"segmentation changed the result: {whole!r} != {split!r}")
    _responses(body)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
