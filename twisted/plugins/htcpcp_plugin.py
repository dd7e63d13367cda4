# -*- test-case-name: tests.test_twistd -*-
"""twistd plugin: ``twistd -n htcpcp --pot tcp:5030 --web ssl:5031``."""

from twisted.application.service import ServiceMaker

htcpcp = ServiceMaker(
    "HTCPCP coffee pot",
    "htcpcp.tap",
    "HTCPCP (RFC 2324 / RFC 7168) pot server and web front end",
    "htcpcp",
)
