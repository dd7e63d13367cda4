"""The client's response parser with a large body: ``python benchmarks/parser_bench.py``.

Part of the htcpcp benchmark harness (``run.py`` runs it pinned to the servers' core). It feeds
``htcpcp.message.ResponseParser`` one answer with a 1 MiB body, once as one segment and once in
1 KiB segments (asking for the next event after each, as the client does), and times each in CPU
time (``time.process_time``: time spent waiting for the core does not count). Every round times
both ``REPEATS`` times and keeps each one's median; it prints one JSON line with every round's
times and their ratio (segmented / one segment).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from htcpcp.message import NEED_DATA, Response, ResponseParser

BODY_BYTES = 1024 * 1024
SEGMENT_BYTES = 1024
REPEATS = 9
ANSWER = b"HTCPCP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (
    BODY_BYTES,
    b"x" * BODY_BYTES,
)


def parse(segment: int) -> float:
    """Seconds to parse ``ANSWER`` fed in pieces of ``segment`` bytes; checks the body."""
    parser = ResponseParser()
    began = time.process_time()
    event: object = NEED_DATA
    for offset in range(0, len(ANSWER), segment):
        parser.receive_data(ANSWER[offset : offset + segment])
        event = parser.next_event()
    elapsed = time.process_time() - began
    if not isinstance(event, Response) or len(event.body) != BODY_BYTES:
        raise SystemExit(f"parser_bench.py: the parser gave {event!r}")
    return elapsed


def main() -> None:
    """Time the rounds and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    rounds = []
    for round_no in range(args.rounds):
        whole = statistics.median(parse(len(ANSWER)) for _ in range(REPEATS))
        pieces = statistics.median(parse(SEGMENT_BYTES) for _ in range(REPEATS))
        rounds.append(
            {
                "round": round_no,
                "one_segment_s": whole,
                "segmented_s": pieces,
                "ratio": pieces / whole,
            }
        )
    print(json.dumps({"body_bytes": BODY_BYTES, "segment_bytes": SEGMENT_BYTES, "rounds": rounds}))


if __name__ == "__main__":
    main()
