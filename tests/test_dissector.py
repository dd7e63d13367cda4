"""Tests of the Wireshark dissector ``dissector/htcpcp.lua``, run through tshark.

Each test feeds a capture to ``tshark -X lua_script:dissector/htcpcp.lua`` and asserts on
exact field values and frame numbers.  The captures are

* a synthetic one written by :mod:`tests.pcapfile`, with segment boundaries exactly where the
  tests want them (split requests, pipelining, chunked and length-less bodies, other ports);
* the committed ``sample_capture/*.pcapng``, recorded from this project's server by
  ``scripts/record_captures.py``;
* the lab's original captures, when they are present next to the repository (never committed;
  ``HTCPCP_LAB_CAPTURES`` names another directory).

tshark exits 0 even when a Lua script fails to load or throws, so every run is guarded: the
display filter or field list names ``htcpcp.*`` fields (tshark exits non-zero if the dissector
did not register them), no stderr line may mention Lua, and no frame may carry
``_ws.lua.error``.  Without tshark the tests skip loudly, unless ``HTCPCP_REQUIRE_TOOLS=1``
(as in CI), where they fail.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.pcapfile import Capture

REPO = Path(__file__).resolve().parent.parent
DISSECTOR = REPO / "dissector" / "htcpcp.lua"
SAMPLES = REPO / "sample_capture"
LAB = Path(os.environ.get("HTCPCP_LAB_CAPTURES", REPO.parent / "shared" / "captures" / "lab"))
TSHARK = shutil.which("tshark")
REQUIRE_TOOLS = os.environ.get("HTCPCP_REQUIRE_TOOLS") == "1"

# The sample captures scripts/record_captures.py writes.
SAMPLE_NAMES = {
    "brew_milk_when",
    "refusals_418_406",
    "tea_300_alternates",
    "pipelined",
    "split_and_chunked",
    "tls",
    "tls_with_keys",
    "web",
}

FIELDS = (
    "frame.number",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.segment.count",
    "tcp.checksum.status",
    "htcpcp.request",
    "htcpcp.response",
    "htcpcp.request.method",
    "htcpcp.request.uri",
    "htcpcp.request.uri.scheme",
    "htcpcp.request.uri.host",
    "htcpcp.request.uri.pot",
    "htcpcp.request.uri.variety",
    "htcpcp.request.uri.addition",
    "htcpcp.request.version",
    "htcpcp.response.version",
    "htcpcp.response.code",
    "htcpcp.response.phrase",
    "htcpcp.accept_additions.addition",
    "htcpcp.accept_additions.q",
    "htcpcp.content_type",
    "htcpcp.content_length",
    "htcpcp.safe",
    "htcpcp.use_pot",
    "htcpcp.alternates.uri",
    "htcpcp.retry_after",
    "htcpcp.body",
    "htcpcp.command",
    "htcpcp.chunk_size",
    "htcpcp.request_number",
    "htcpcp.prev_request_in",
    "htcpcp.next_request_in",
    "htcpcp.request_in",
    "htcpcp.response_in",
    "htcpcp.time",
    "htcpcp.continuation_of",
    "htcpcp.body_in",
    "htcpcp.data",
    "_ws.expert.message",
    "_ws.lua.error",
    "tls.app_data",
    "tls.record.content_type",
)

Row = dict[str, list[str]]


class DissectorFailed(AssertionError):
    """tshark ran, but the dissector did not load or raised a Lua error."""


def require_tshark() -> str:
    if TSHARK is None:
        message = "tshark is not installed: the Wireshark dissector tests cannot run"
        if REQUIRE_TOOLS:
            raise AssertionError(f"{message} (HTCPCP_REQUIRE_TOOLS=1)")
        raise SkipTest(f"*** SKIPPED: {message} (Debian: apt-get install tshark) ***")
    return TSHARK


@functools.cache
def config_dir() -> str:
    """An empty Wireshark configuration directory, so personal preferences cannot interfere."""
    path = tempfile.mkdtemp(prefix="htcpcp-wireshark-config-")
    atexit.register(shutil.rmtree, path, True)
    return path


def run_tshark(
    capture: Path,
    display_filter: str = "htcpcp",
    options: Sequence[str] = (),
    two_pass: bool = True,
    script: Path = DISSECTOR,
) -> dict[int, Row]:
    """Dissect ``capture``; return the frames matching ``display_filter``, by frame number."""
    command = [require_tshark(), "-n"]
    if two_pass:
        command.append("-2")
    command += ["-X", f"lua_script:{script}", *options, "-r", str(capture)]
    command += ["-Y", f"({display_filter}) or _ws.lua.error", "-T", "json"]
    for field in FIELDS:
        command += ["-e", field]
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": config_dir()}
    result = subprocess.run(
        command, capture_output=True, encoding="utf-8", errors="replace", env=env, timeout=60
    )
    lua_lines = [line for line in result.stderr.splitlines() if "Lua" in line]
    if result.returncode != 0 or lua_lines:
        raise DissectorFailed(
            f"tshark exited {result.returncode} on {capture.name}; is {script} loadable?\n"
            + result.stderr
        )
    rows = {}
    for packet in json.loads(result.stdout or "[]"):
        layers = packet["_source"]["layers"]
        if "_ws.lua.error" in layers:
            errors = [m for m in layers.get("_ws.expert.message", []) if "Lua Error" in m]
            raise DissectorFailed(f"Lua error in {capture.name}: {errors}")
        rows[int(layers["frame.number"][0])] = layers
    return rows


def values(row: Row, field: str) -> list[str]:
    return row.get(field, [])


def ints(row: Row, field: str) -> list[int]:
    return [int(value) for value in values(row, field)]


def messages(rows: dict[int, Row], kind: str) -> list[tuple[int, int]]:
    """(frame, index within frame) of every request or response ("request"/"response")."""
    return [
        (frame, index)
        for frame, row in rows.items()
        for index, _ in enumerate(values(row, f"htcpcp.{kind}"))
    ]


# --- the synthetic capture --------------------------------------------------------------------

CRLF = b"\r\n"


def http_message(
    start: str, headers: Sequence[str] = (), body: bytes = b"", eol: bytes = CRLF
) -> bytes:
    lines = [start, *headers]
    return eol.join(line.encode() for line in lines) + eol + eol + body


def response(code: str, headers: Sequence[str] = (), body: bytes = b"") -> bytes:
    return http_message(f"HTCPCP/1.1 {code}", [*headers, f"Content-Length: {len(body)}"], body)


def build_synthetic(directory: Path) -> tuple[Path, dict[str, int]]:
    """Write the synthetic capture; return it and the frame numbers the tests refer to."""
    cap = Capture()
    f: dict[str, int] = {}
    coffee = "Content-Type: message/coffeepot"

    # 1. A plain BREW with Accept-Additions and a Content-Length body; 250 ms to the response.
    c = cap.connect(40001, 5030)
    f["brew"] = c.client(
        http_message(
            "BREW coffee://ducky/pot-0?Vanilla HTCPCP/1.1",
            [coffee, "Accept-Additions: Cream;q=0.5, Whisky", "Content-Length: 5"],
            b"start",
        )
    )
    cap.wait(0.25)
    f["brew_ok"] = c.server(
        response("200 OK", ["Content-Type: application/json", "Safe: no"], b'{"state": "brewing"}')
    )
    c.close()

    # 2. A request split over five segments (mid-method, mid-URI, mid-header, mid-CRLF) and
    #    a 418 whose body comes in a second segment.
    c = cap.connect(40002, 5030)
    split = http_message(
        "BREW coffee://ducky/pot-1 HTCPCP/1.1", [coffee, "Content-Length: 4"], b"stop"
    )
    cuts = [0, 2, 16, 52, len(split) - 5, len(split)]
    pieces = [c.client(split[a:b]) for a, b in itertools.pairwise(cuts)]
    f["split_first"], f["split"] = pieces[0], pieces[-1]
    teapot = response("418 I'm a teapot", ["Content-Type: text/plain"], b"short and stout")
    cap.wait(0.1)
    c.server(teapot[:-15])
    f["teapot"] = c.server(teapot[-15:])
    c.close()

    # 3. Three pipelined requests in one segment; the HEAD response announces a length but has
    #    no body; the second response ends in the segment where the third begins.
    c = cap.connect(40003, 5030)
    f["pipelined"] = c.client(
        http_message("GET coffee://ducky/pot-0 HTCPCP/1.1")
        + http_message("HEAD coffee://ducky/pot-0 HTCPCP/1.1")
        + http_message("WHEN coffee://ducky/pot-0 HTCPCP/1.1", ["Content-Length: 0"])
    )
    head = http_message("HTCPCP/1.1 200 OK", ["Content-Length: 20"])
    first_two = response("200 OK", [], b"{}") + head
    when = response("200 OK", ["Safe: no"], b"when")
    f["pipelined_ok1"] = c.server(first_two[:-6])
    f["pipelined_ok3"] = c.server(first_two[-6:] + when)
    c.close()

    # 4. Chunked bodies in both directions, split between chunks and inside a chunk's data;
    #    the response has a trailer.
    c = cap.connect(40004, 5030)
    chunked_head = http_message(
        "BREW coffee://ducky/pot-0 HTCPCP/1.1", [coffee, "Transfer-Encoding: chunked"]
    )
    c.client(chunked_head + b"3;sugar=1\r\nsta\r\n")
    f["chunked"] = c.client(b"2\r\nrt\r\n0\r\n\r\n")
    c.server(http_message("HTCPCP/1.1 200 OK", ["Transfer-Encoding: chunked"]) + b"7\r\nbre")
    f["chunked_ok"] = c.server(b"wing\r\n0\r\nRetry-After: 30\r\n\r\n")
    c.close()

    # 5. A Content-Length body in a later segment, followed there by a pipelined request.
    c = cap.connect(40005, 5030)
    c.client(http_message("BREW coffee://ducky/pot-0 HTCPCP/1.1", [coffee, "Content-Length: 5"]))
    f["later_body"] = c.client(b"start" + http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))
    f["later_body_ok"] = c.server(response("200 OK") + response("200 OK", [], b"{}"))
    c.close()

    # 6. The lab's client: no Content-Length, the body in the same segment; the lab's server
    #    answers without a length and closes.
    c = cap.connect(40006, 5030)
    lab = "BREW coffee://ducky HTTP/1.1"
    lab_type = "Content-Type: application/coffee-pot-command"
    lab_additions = "Accept-Additions: whole-milk; oat milk"
    f["lab_same"] = c.client(http_message(lab, [lab_type, "Use-Pot: tea", lab_additions], b"start"))
    f["lab_same_418"] = c.server(b"HTCPCP/1.1 418 I'm a Teapot\r\n\r\n")
    c.close(first="s")
    f["lab_same_fin"] = len(cap.packets) - 3

    # 7. No Content-Length, the body alone in a later segment.
    c = cap.connect(40007, 5030)
    f["lab_later"] = c.client(http_message(lab, [lab_type, "Use-Pot: ducky"]))
    f["lab_later_body"] = c.client(b"stop")
    f["lab_later_ok"] = c.server(b"HTCPCP/1.1 200 OK\r\nContent-Type: message/coffeepot\r\n\r\n{}")
    c.close(first="s")

    # 8. Another port (found by the heuristic), bare LF line ends, POST, a 406 with its list.
    c = cap.connect(40008, 8082)
    f["post"] = c.client(
        http_message(
            "POST coffee://ducky HTTP/1.1", [lab_type, "Accept-Additions: tea"], b"start", b"\n"
        )
    )
    f["post_406"] = c.server(b"HTCPCP/1.1 406 Not Acceptable\n\ncream, whole-milk, oat milk")
    c.close(first="s")

    # 9. RFC 7168 tea on another port: 300 with Alternates; a percent-encoded coffee scheme.
    c = cap.connect(40009, 8083)
    f["tea"] = c.client(
        http_message(
            "BREW tea://ducky/pot-1 HTCPCP-TEA/1.0",
            ["Content-Type: message/teapot", "Connection: keep-alive", "Content-Length: 5"],
            b"start",
        )
    )
    f["tea_300"] = c.server(
        response(
            "300 Multiple Options",
            [
                'Alternates: {"/pot-1/darjeeling" {type message/teapot}}, '
                '{"/pot-1/earl-grey" {type message/teapot}}'
            ],
        )
    )
    f["kafe"] = c.client(
        http_message("GET %E5%92%96%E5%95%A1://ducky/pot-1/earl-grey HTCPCP-TEA/1.0")
    )
    f["kafe_404"] = c.server(response("404 Not Found"))
    c.close()

    # 10. Plain HTTP on another port stays HTTP.
    c = cap.connect(40010, 8081)
    f["http"] = c.client(http_message("GET /index.html HTTP/1.1", ["Host: example"]))
    c.server(http_message("HTTP/1.1 200 OK", ["Content-Length: 2"], b"hi"))
    c.close()

    # 11. Garbage, then a malformed header and an invalid Content-Length.
    c = cap.connect(40011, 5030)
    f["garbage"] = c.client(b"\x00\x01 hello there\r\n")
    f["bad_header"] = c.client(
        http_message(
            "GET coffee://ducky/pot-0 HTCPCP/1.1", ["this is not a header", "Content-Length: x1"]
        )
    )
    f["bad_header_ok"] = c.server(response("200 OK"))
    c.close()

    return cap.write(directory / "synthetic.pcap"), f


MANGLE_PIECES = (
    b"BREW coffee://ducky/pot-0?Cream HTCPCP/1.1\r\nAccept-Additions: Cream;q=0.5, Whisky; oat"
    b" milk\r\nContent-Type: message/coffeepot\r\nContent-Length: 5\r\n\r\nstart",
    b"HTCPCP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nA: b\r\n\r\n",
    b"HTCPCP/1.1 418 I'm a teapot\n\n",
    b"GET %E5%92%96%E5%95%A1://ducky:5030/pot-1/x?a&b HTCPCP-TEA/1.0\r\n X\r\nf: a\r\n  b\r\n\r\n",
    b"HEAD / HTTP/1.1\r\n\r\n",
    b"start",
    b"STOP",
    b"\r\n",
    b'HTCPCP/1.1 300 M\r\nAlternates: {"/a" {type x}}, {"\r\nContent-Length: 99999999999\r\n\r\n',
    b"WHEN * HTCPCP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n",
)


def build_mangled(directory: Path, seed: int = 2324) -> Path:
    """Random concatenations of odd messages, randomly corrupted and cut into segments."""
    rng = random.Random(seed)
    cap = Capture()
    for n in range(120):
        c = cap.connect(41000 + n, 5030)
        for send in (c.client, c.server):
            stream = bytearray(b"".join(rng.choices(MANGLE_PIECES, k=rng.randint(1, 4))))
            for _ in range(rng.randint(0, 4)):
                stream[rng.randrange(len(stream))] = rng.randrange(256)
            while stream:
                cut = rng.randint(1, 40)
                send(bytes(stream[:cut]))
                del stream[:cut]
        c.close(rng.choice("cs"))
    return cap.write(directory / "mangled.pcap")


@functools.cache
def synthetic() -> tuple[Path, dict[str, int]]:
    directory = tempfile.mkdtemp(prefix="htcpcp-dissector-")
    atexit.register(shutil.rmtree, directory, True)
    return build_synthetic(Path(directory))


@functools.cache
def dissect_synthetic(
    display_filter: str = "htcpcp", options: tuple[str, ...] = (), two_pass: bool = True
) -> dict[int, Row]:
    return run_tshark(synthetic()[0], display_filter, options, two_pass)


class SyntheticCaptureTests(SynchronousTestCase):
    """The dissector on a capture whose segment boundaries the test chose."""

    def setUp(self) -> None:
        require_tshark()
        self.frames = synthetic()[1]
        self.rows = dissect_synthetic()

    def row(self, name: str) -> Row:
        frame = self.frames[name]
        self.assertIn(frame, self.rows, f"frame {frame} ({name}) shows no HTCPCP")
        return self.rows[frame]

    def test_request_fields(self) -> None:
        """Method, URI parts, version, additions, headers, body and command of a BREW."""
        row = self.row("brew")
        self.assertEqual(values(row, "htcpcp.request.method"), ["BREW"])
        self.assertEqual(values(row, "htcpcp.request.uri"), ["coffee://ducky/pot-0?Vanilla"])
        self.assertEqual(values(row, "htcpcp.request.uri.scheme"), ["coffee"])
        self.assertEqual(values(row, "htcpcp.request.uri.host"), ["ducky"])
        self.assertEqual(values(row, "htcpcp.request.uri.pot"), ["pot-0"])
        self.assertEqual(values(row, "htcpcp.request.uri.addition"), ["Vanilla"])
        self.assertEqual(values(row, "htcpcp.request.version"), ["HTCPCP/1.1"])
        self.assertEqual(values(row, "htcpcp.accept_additions.addition"), ["Cream", "Whisky"])
        self.assertEqual(values(row, "htcpcp.accept_additions.q"), ["0.5"])
        self.assertEqual(values(row, "htcpcp.content_type"), ["message/coffeepot"])
        self.assertEqual(ints(row, "htcpcp.content_length"), [5])
        self.assertEqual(values(row, "htcpcp.body"), ["start"])
        self.assertEqual(values(row, "htcpcp.command"), ["start"])
        self.assertEqual(ints(row, "htcpcp.response_in"), [self.frames["brew_ok"]])

    def test_response_fields_and_time(self) -> None:
        """Status code, phrase, Safe, the link to the request and the response time."""
        row = self.row("brew_ok")
        self.assertEqual(values(row, "htcpcp.response.version"), ["HTCPCP/1.1"])
        self.assertEqual(ints(row, "htcpcp.response.code"), [200])
        self.assertEqual(values(row, "htcpcp.response.phrase"), ["OK"])
        self.assertEqual(values(row, "htcpcp.safe"), ["no"])
        self.assertEqual(ints(row, "htcpcp.request_in"), [self.frames["brew"]])
        # The writer's clock: 250 ms wait plus two 1 ms packet steps.
        self.assertEqual(values(row, "htcpcp.time"), ["0.252000000"])

    def test_request_split_over_five_segments(self) -> None:
        """Only the last of five segments shows the request, whole."""
        row = self.row("split")
        self.assertEqual(ints(row, "tcp.segment.count"), [5])
        self.assertEqual(values(row, "htcpcp.request.method"), ["BREW"])
        self.assertEqual(values(row, "htcpcp.request.uri"), ["coffee://ducky/pot-1"])
        self.assertEqual(values(row, "htcpcp.content_type"), ["message/coffeepot"])
        self.assertEqual(values(row, "htcpcp.command"), ["stop"])
        for frame in range(self.frames["split_first"], self.frames["split"]):
            self.assertNotIn(frame, self.rows)
        teapot = self.row("teapot")
        self.assertEqual(ints(teapot, "htcpcp.response.code"), [418])
        self.assertEqual(values(teapot, "htcpcp.body"), ["short and stout"])
        self.assertEqual(ints(teapot, "htcpcp.request_in"), [self.frames["split"]])

    def test_three_pipelined_requests_in_one_segment(self) -> None:
        """Three messages in one frame, each linked to its own response in order."""
        row = self.row("pipelined")
        self.assertEqual(values(row, "htcpcp.request.method"), ["GET", "HEAD", "WHEN"])
        ok1, ok3 = self.frames["pipelined_ok1"], self.frames["pipelined_ok3"]
        self.assertEqual(ints(row, "htcpcp.response_in"), [ok1, ok3, ok3])
        self.assertEqual(ints(self.rows[ok1], "htcpcp.response.code"), [200])
        # The HEAD response's Content-Length: 20 announces a body that is not sent.
        third = self.rows[ok3]
        self.assertEqual(ints(third, "htcpcp.response.code"), [200, 200])
        self.assertEqual(ints(third, "htcpcp.content_length"), [20, 4])
        self.assertEqual(values(third, "htcpcp.body"), ["when"])
        self.assertEqual(ints(third, "htcpcp.request_in"), [self.frames["pipelined"]] * 2)

    def test_chunked_bodies(self) -> None:
        """Chunk sizes and the de-chunked body, in a request split mid-chunks and a response."""
        row = self.row("chunked")
        self.assertEqual(ints(row, "htcpcp.chunk_size"), [3, 2, 0])
        self.assertEqual(values(row, "htcpcp.body"), ["start"])
        self.assertEqual(values(row, "htcpcp.command"), ["start"])
        reply = self.row("chunked_ok")
        self.assertEqual(ints(reply, "htcpcp.chunk_size"), [7, 0])
        self.assertEqual(values(reply, "htcpcp.body"), ["brewing"])
        self.assertEqual(values(reply, "htcpcp.retry_after"), ["30"])  # a trailer
        self.assertEqual(ints(reply, "htcpcp.request_in"), [self.frames["chunked"]])

    def test_content_length_body_in_a_later_segment(self) -> None:
        row = self.row("later_body")
        self.assertEqual(ints(row, "tcp.segment.count"), [2])
        self.assertEqual(values(row, "htcpcp.request.method"), ["BREW", "GET"])
        self.assertEqual(values(row, "htcpcp.body"), ["start"])
        self.assertEqual(ints(row, "htcpcp.response_in"), [self.frames["later_body_ok"]] * 2)

    def test_body_without_length_in_the_same_segment(self) -> None:
        row = self.row("lab_same")
        self.assertEqual(values(row, "htcpcp.request.version"), ["HTTP/1.1"])
        self.assertEqual(values(row, "htcpcp.use_pot"), ["tea"])
        # The lab separates additions with ";" (not parameters: no "=").
        self.assertEqual(
            values(row, "htcpcp.accept_additions.addition"), ["whole-milk", "oat milk"]
        )
        self.assertEqual(values(row, "htcpcp.command"), ["start"])
        self.assertIn(
            "Body without Content-Length or chunked encoding", values(row, "_ws.expert.message")
        )
        reply = self.row("lab_same_418")
        self.assertEqual(ints(reply, "htcpcp.response.code"), [418])
        self.assertEqual(ints(reply, "htcpcp.request_in"), [self.frames["lab_same"]])

    def test_body_without_length_in_a_later_segment(self) -> None:
        """The lone "stop" is a continuation linked both ways to its request."""
        request, body = self.row("lab_later"), self.row("lab_later_body")
        self.assertEqual(values(request, "htcpcp.request.method"), ["BREW"])
        self.assertEqual(ints(request, "htcpcp.body_in"), [self.frames["lab_later_body"]])
        self.assertEqual(ints(body, "htcpcp.continuation_of"), [self.frames["lab_later"]])
        self.assertEqual(values(body, "htcpcp.command"), ["stop"])
        reply = self.row("lab_later_ok")
        self.assertEqual(values(reply, "htcpcp.body"), ["{}"])
        self.assertEqual(ints(reply, "htcpcp.request_in"), [self.frames["lab_later"]])

    def test_heuristic_finds_other_ports_and_leaves_http_alone(self) -> None:
        post = self.row("post")
        self.assertEqual(ints(post, "tcp.dstport"), [8082])
        self.assertEqual(values(post, "htcpcp.request.method"), ["POST"])
        self.assertEqual(values(post, "htcpcp.accept_additions.addition"), ["tea"])
        tea = self.row("tea")
        self.assertEqual(ints(tea, "tcp.dstport"), [8083])
        self.assertNotIn(self.frames["http"], self.rows)

    def test_tea_and_encoded_schemes(self) -> None:
        tea = self.row("tea")
        self.assertEqual(values(tea, "htcpcp.request.uri.scheme"), ["tea"])
        self.assertEqual(values(tea, "htcpcp.request.version"), ["HTCPCP-TEA/1.0"])
        reply = self.row("tea_300")
        self.assertEqual(ints(reply, "htcpcp.response.code"), [300])
        self.assertEqual(
            values(reply, "htcpcp.alternates.uri"), ["/pot-1/darjeeling", "/pot-1/earl-grey"]
        )
        kafe = self.row("kafe")
        self.assertEqual(values(kafe, "htcpcp.request.uri.scheme"), ["%E5%92%96%E5%95%A1"])
        self.assertEqual(values(kafe, "htcpcp.request.uri.pot"), ["pot-1"])
        self.assertEqual(values(kafe, "htcpcp.request.uri.variety"), ["earl-grey"])
        self.assertEqual(ints(self.row("kafe_404"), "htcpcp.request_in"), [self.frames["kafe"]])

    def test_expert_info(self) -> None:
        """418 and 406 notes, POST deprecated, bare LF, bad data and malformed headers."""
        names = ("teapot", "post", "post_406", "garbage", "bad_header", "brew", "brew_ok")
        expert = {name: values(self.row(name), "_ws.expert.message") for name in names}
        self.assertIn("418 I'm a teapot: coffee was asked of a teapot", expert["teapot"])
        self.assertIn(
            "406 Not Acceptable: the pot cannot supply a requested addition; "
            "available: cream, whole-milk, oat milk",
            expert["post_406"],
        )
        self.assertIn(
            "POST is deprecated for brewing (RFC 2324 section 2.1.1); use BREW", expert["post"]
        )
        self.assertIn("Line ends with a bare LF, not CRLF", expert["post"])
        self.assertIn(
            "Data does not start with an HTCPCP request or status line", expert["garbage"]
        )
        self.assertIn("Malformed header line", expert["bad_header"])
        self.assertIn("Invalid Content-Length", expert["bad_header"])
        self.assertEqual(expert["brew"], [])
        self.assertEqual(expert["brew_ok"], [])

    def test_every_response_is_linked_with_a_time(self) -> None:
        responses = messages(self.rows, "response")
        self.assertEqual(len(responses), 14)
        for frame, index in responses:
            row = self.rows[frame]
            self.assertEqual(
                len(values(row, "htcpcp.request_in")), len(values(row, "htcpcp.response"))
            )
            self.assertGreater(float(values(row, "htcpcp.time")[index]), 0, f"frame {frame}")

    def test_checksums_of_the_writer(self) -> None:
        """The pcap writer's IP/TCP checksums are right, and its output is deterministic."""
        rows = dissect_synthetic("htcpcp", ("-o", "tcp.check_checksum:TRUE"))
        self.assertEqual(
            {s for row in rows.values() for s in values(row, "tcp.checksum.status")}, {"1"}
        )
        path, _ = synthetic()
        directory = Path(self.mktemp())
        directory.mkdir(parents=True)
        again, _ = build_synthetic(directory)
        self.assertEqual(again.read_bytes(), path.read_bytes())


class RobustnessTests(SynchronousTestCase):
    """Broken and truncated input never makes the dissector raise a Lua error."""

    def setUp(self) -> None:
        require_tshark()
        self.directory = Path(self.mktemp())
        self.directory.mkdir(parents=True)

    def test_mangled_traffic(self) -> None:
        capture = build_mangled(self.directory)
        for options in ((), ("-o", "htcpcp.until_fin:TRUE")):
            rows = run_tshark(capture, "htcpcp", options)  # raises on any Lua error
            self.assertGreater(len(messages(rows, "request")), 100)
            self.assertGreater(len(messages(rows, "response")), 100)

    def test_truncated_frames(self) -> None:
        """Frames cut to 60 bytes (snap length) cannot be reassembled; they say so."""
        short = self.directory / "short.pcap"
        capture, frames = synthetic()
        subprocess.run(["editcap", "-s", "60", str(capture), str(short)], check=True)
        rows = run_tshark(short)
        incomplete = "Incomplete message (capture ended, frame truncated or reassembly disabled)"
        self.assertEqual(values(rows[frames["brew"]], "_ws.expert.message"), [incomplete])
        reply = rows[frames["brew_ok"]]
        self.assertEqual(ints(reply, "htcpcp.response.code"), [200])
        self.assertIn(incomplete, values(reply, "_ws.expert.message"))


class FilterTests(SynchronousTestCase):
    """The display filters the issue names select exactly the right frames."""

    def setUp(self) -> None:
        require_tshark()
        self.frames = synthetic()[1]

    def selected(self, display_filter: str) -> list[int]:
        return sorted(dissect_synthetic(display_filter))

    def test_method_brew(self) -> None:
        f = self.frames
        expected = [
            f[n] for n in ("brew", "split", "chunked", "later_body", "lab_same", "lab_later", "tea")
        ]
        self.assertEqual(self.selected('htcpcp.request.method == "BREW"'), sorted(expected))

    def test_code_418(self) -> None:
        f = self.frames
        self.assertEqual(
            self.selected("htcpcp.response.code == 418"), [f["teapot"], f["lab_same_418"]]
        )

    def test_addition_cream(self) -> None:
        self.assertEqual(
            self.selected('htcpcp.accept_additions.addition == "Cream"'), [self.frames["brew"]]
        )

    def test_time_positive(self) -> None:
        f = self.frames
        responses = (
            "brew_ok",
            "teapot",
            "pipelined_ok1",
            "pipelined_ok3",
            "chunked_ok",
            "later_body_ok",
            "lab_same_418",
            "lab_later_ok",
            "post_406",
            "tea_300",
            "kafe_404",
            "bad_header_ok",
        )
        self.assertEqual(self.selected("htcpcp.time > 0"), sorted(f[n] for n in responses))


class PreferenceTests(SynchronousTestCase):
    """Port preference, heuristic switch, reassembly and until-FIN preferences, one pass."""

    def setUp(self) -> None:
        require_tshark()
        self.frames = synthetic()[1]

    def test_port_preference_without_heuristic(self) -> None:
        rows = dissect_synthetic(
            "htcpcp", ("-o", "htcpcp.tcp_ports:5030,8082", "--disable-heuristic", "htcpcp_tcp")
        )
        self.assertIn(self.frames["post"], rows)
        self.assertIn(self.frames["brew"], rows)
        self.assertNotIn(self.frames["tea"], rows)  # port 8083: heuristic only

    def test_heuristic_off_default_port_only(self) -> None:
        rows = dissect_synthetic("htcpcp", ("--disable-heuristic", "htcpcp_tcp"))
        self.assertIn(self.frames["brew"], rows)
        self.assertNotIn(self.frames["post"], rows)

    def test_until_fin(self) -> None:
        """A length-less response is shown at the connection's close."""
        rows = dissect_synthetic("htcpcp.response", ("-o", "htcpcp.until_fin:TRUE"))
        self.assertNotIn(self.frames["lab_same_418"], rows)
        fin = rows[self.frames["lab_same_fin"]]
        self.assertEqual(ints(fin, "htcpcp.response.code"), [418])
        self.assertEqual(ints(fin, "htcpcp.request_in"), [self.frames["lab_same"]])

    def test_without_reassembly(self) -> None:
        """No reassembly: pieces are shown as they are, without Lua errors."""
        rows = dissect_synthetic("htcpcp", ("-o", "htcpcp.desegment:FALSE"))
        self.assertIn(self.frames["split_first"], rows)
        self.assertNotIn("htcpcp.request.method", rows[self.frames["split"]])
        self.assertEqual(values(rows[self.frames["brew"]], "htcpcp.command"), ["start"])

    def test_single_pass_links_responses(self) -> None:
        """Plain tshark (one pass) still shows request_in and the time on responses."""
        rows = dissect_synthetic("htcpcp.response.code == 418", two_pass=False)
        self.assertEqual(sorted(rows), [self.frames["teapot"], self.frames["lab_same_418"]])
        self.assertEqual(
            ints(rows[self.frames["teapot"]], "htcpcp.request_in"), [self.frames["split"]]
        )


# --- committed sample captures -----------------------------------------------------------------


@functools.cache
def dissect_sample(name: str) -> dict[int, Row]:
    return run_tshark(SAMPLES / f"{name}.pcapng", "htcpcp or tls")


def in_order(rows: dict[int, Row], field: str) -> list[str]:
    return [value for frame in sorted(rows) for value in values(rows[frame], field)]


class SampleCaptureTests(SynchronousTestCase):
    """The captures recorded from this project's server by scripts/record_captures.py."""

    def setUp(self) -> None:
        require_tshark()

    def assertLinked(self, name: str) -> dict[int, Row]:
        """Every response links to its request with a time; every request to its response."""
        rows = dissect_sample(name)
        requests, responses = messages(rows, "request"), messages(rows, "response")
        self.assertTrue(requests and len(requests) == len(responses), name)
        for frame, index in responses:
            row = rows[frame]
            self.assertEqual(
                len(values(row, "htcpcp.request_in")), len(values(row, "htcpcp.response"))
            )
            self.assertGreater(float(values(row, "htcpcp.time")[index]), 0, f"{name} {frame}")
        for frame, _ in requests:
            row = rows[frame]
            self.assertEqual(
                len(values(row, "htcpcp.response_in")), len(values(row, "htcpcp.request")), frame
            )
        for frame, row in rows.items():
            for message in values(row, "_ws.expert.message"):
                self.assertNotIn("Data does not start", message, f"{name} frame {frame}")
                self.assertNotIn("Malformed", message, f"{name} frame {frame}")
                self.assertNotIn("without a matching request", message, f"{name} frame {frame}")
        return rows

    def test_the_sample_set(self) -> None:
        names = {path.stem for path in SAMPLES.glob("*.pcapng")}
        self.assertEqual(SAMPLE_NAMES - names, set(), "run scripts/record_captures.py")
        self.assertEqual(names - SAMPLE_NAMES, set())

    def test_brew_milk_when(self) -> None:
        rows = self.assertLinked("brew_milk_when")
        self.assertEqual(
            in_order(rows, "htcpcp.request.method"), ["BREW", "GET", "GET", "WHEN", "PROPFIND"]
        )
        self.assertEqual(in_order(rows, "htcpcp.accept_additions.addition"), ["Cream", "Whisky"])
        self.assertEqual(in_order(rows, "htcpcp.response.code"), ["200"] * 5)
        self.assertEqual(in_order(rows, "htcpcp.command"), ["start"])
        self.assertEqual(in_order(rows, "htcpcp.safe"), ["no", "yes", "yes", "no", "yes"])

    def test_refusals_418_406(self) -> None:
        rows = self.assertLinked("refusals_418_406")
        self.assertEqual(
            in_order(rows, "htcpcp.response.code"), ["418", "406", "406", "200", "418"]
        )
        experts = in_order(rows, "_ws.expert.message")
        self.assertIn("418 I'm a teapot: coffee was asked of a teapot", experts)
        self.assertTrue(
            any(m.startswith("406 Not Acceptable") and "available: Cream" in m for m in experts)
        )
        head = [row for row in rows.values() if values(row, "htcpcp.request.method") == ["HEAD"]]
        reply = rows[ints(head[1], "htcpcp.response_in")[0]]
        self.assertEqual(ints(reply, "htcpcp.response.code"), [200])
        self.assertGreater(ints(reply, "htcpcp.content_length")[0], 0)
        self.assertEqual(values(reply, "htcpcp.body"), [])  # a length, but no body
        self.assertEqual(in_order(rows, "htcpcp.use_pot"), ["tea"])

    def test_tea_300_alternates(self) -> None:
        rows = self.assertLinked("tea_300_alternates")
        self.assertEqual(in_order(rows, "htcpcp.response.code"), ["300", "200", "200", "200"])
        self.assertIn("/pot-1/darjeeling", in_order(rows, "htcpcp.alternates.uri"))
        self.assertEqual(in_order(rows, "htcpcp.request.uri.variety"), ["darjeeling"] * 3)
        self.assertEqual(set(in_order(rows, "htcpcp.request.version")), {"HTCPCP-TEA/1.0"})

    def test_pipelined(self) -> None:
        rows = self.assertLinked("pipelined")
        (frame,) = [f for f, row in rows.items() if values(row, "htcpcp.request.method")]
        row = rows[frame]
        self.assertEqual(values(row, "htcpcp.request.method"), ["GET", "PROPFIND", "GET"])
        self.assertEqual(
            values(row, "htcpcp.request.uri.scheme"), ["coffee", "%E5%92%96%E5%95%A1", "koffie"]
        )
        self.assertEqual(in_order(rows, "htcpcp.response.code"), ["200"] * 3)

    def test_split_and_chunked(self) -> None:
        rows = self.assertLinked("split_and_chunked")
        brews = [row for row in rows.values() if values(row, "htcpcp.request.method") == ["BREW"]]
        self.assertEqual([ints(r, "tcp.segment.count") for r in brews], [[5], [2], [2], []])
        self.assertEqual(
            [values(r, "htcpcp.command") for r in brews], [["start"], ["stop"], ["start"], []]
        )
        self.assertEqual(ints(brews[2], "htcpcp.chunk_size"), [3, 2, 0])
        (body,) = [row for row in rows.values() if values(row, "htcpcp.continuation_of")]
        self.assertEqual(values(body, "htcpcp.command"), ["stop"])
        self.assertEqual(ints(brews[3], "htcpcp.body_in"), ints(body, "frame.number"))

    def test_tls_is_opaque(self) -> None:
        rows = dissect_sample("tls")
        self.assertEqual(messages(rows, "request") + messages(rows, "response"), [])
        self.assertGreaterEqual(len(in_order(rows, "tls.app_data")), 4)

    def test_tls_on_an_htcpcp_port(self) -> None:
        """An ssl: endpoint on a port in the preference is handed to the TLS dissector."""
        server_port = ints(dissect_sample("tls")[min(dissect_sample("tls"))], "tcp.dstport")[0]
        capture = SAMPLES / "tls.pcapng"
        rows = run_tshark(capture, "htcpcp or tls", ("-o", f"htcpcp.tcp_ports:{server_port}"))
        self.assertEqual(messages(rows, "request") + messages(rows, "response"), [])
        self.assertEqual(in_order(rows, "_ws.expert.message"), [])
        self.assertGreaterEqual(len(in_order(rows, "tls.app_data")), 4)

    def test_tls_with_embedded_keys(self) -> None:
        """Decrypted by the secrets in the file; HTCPCP is found inside by the heuristic."""
        rows = self.assertLinked("tls_with_keys")
        self.assertEqual(in_order(rows, "htcpcp.request.method"), ["BREW", "GET"])
        self.assertEqual(in_order(rows, "htcpcp.response.code"), ["200", "200"])
        for frame, _ in messages(rows, "request"):
            self.assertTrue(values(rows[frame], "tls.app_data"), frame)

    def test_web_front_end(self) -> None:
        """The home page makes the web front end ask the pot server about its pots."""
        rows = self.assertLinked("web")
        methods = set(in_order(rows, "htcpcp.request.method"))
        self.assertTrue({"GET", "PROPFIND"} <= methods, methods)


class LabCaptureTests(SynchronousTestCase):
    """The original lab system's captures decode, with 418 and 406 matched to requests."""

    def setUp(self) -> None:
        require_tshark()
        if not (LAB / "coffee_418_406.pcapng").exists():
            raise SkipTest(f"the lab's captures are not in {LAB} (they are never committed)")

    def test_lab_captures(self) -> None:
        for capture in sorted(LAB.glob("*.pcapng")):
            rows = run_tshark(capture)  # raises on any Lua error
            for frame, index in messages(rows, "response"):
                self.assertGreater(float(values(rows[frame], "htcpcp.time")[index]), 0)
        rows = run_tshark(LAB / "coffee_418_406.pcapng", "htcpcp.response.code in {418, 406}")
        self.assertEqual(in_order(rows, "htcpcp.response.code"), ["418", "406"])
        brews = run_tshark(LAB / "coffee_418_406.pcapng", 'htcpcp.request.method == "BREW"')
        self.assertEqual(
            [ints(row, "htcpcp.request_in") for row in rows.values()],
            [[frame] for frame in sorted(brews)],
        )


class HarnessTests(SynchronousTestCase):
    """run_tshark() fails loudly when the dissector does not load or throws."""

    def setUp(self) -> None:
        require_tshark()

    def test_missing_script(self) -> None:
        with self.assertRaises(DissectorFailed):
            run_tshark(synthetic()[0], script=Path(self.mktemp()) / "missing.lua")

    def test_lua_error_at_run_time(self) -> None:
        broken = Path(self.mktemp())
        broken.parent.mkdir(parents=True, exist_ok=True)
        text = DISSECTOR.read_text(encoding="utf-8")
        marker = "local function dissect_htcpcp(tvb, pinfo, root, conn, side)\n"
        self.assertIn(marker, text)
        broken.write_text(text.replace(marker, marker + '    error("injected")\n'), "utf-8")
        with self.assertRaises(DissectorFailed) as caught:
            run_tshark(synthetic()[0], script=broken)
        self.assertIn("injected", str(caught.exception))


class LuaVersionTests(SynchronousTestCase):
    """The script compiles with every Lua 5.2-5.4 compiler installed (tshark itself uses one)."""

    def test_syntax(self) -> None:
        compilers = [c for c in ("luac5.2", "luac5.3", "luac5.4") if shutil.which(c)]
        if not compilers:
            message = "no luac5.2/5.3/5.4 installed (Debian: apt-get install lua5.2 lua5.3 lua5.4)"
            if REQUIRE_TOOLS:
                raise AssertionError(f"{message} (HTCPCP_REQUIRE_TOOLS=1)")
            raise SkipTest(f"*** SKIPPED: {message} ***")
        for compiler in compilers:
            result = subprocess.run(
                [compiler, "-p", str(DISSECTOR)], capture_output=True, text=True, check=False
            )
            self.assertEqual(result.returncode, 0, f"{compiler}: {result.stderr}")
