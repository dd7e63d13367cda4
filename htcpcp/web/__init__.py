# -*- test-case-name: tests.test_web_routes -*-
"""
The HTCPCP web front end: a Klein application for people, over HTTPS.

It reaches the pots only through L{htcpcp.client.PotClient}, over a real
connection, and can be served alone (L{makeWebService}, C{twistd htcpcp
--web ssl:5031}) or mounted in another application's site
(L{FrontEnd.resource}).
"""

from htcpcp.web.frontend import FrontEnd
from htcpcp.web.web_service import WebService, makeWebService, pot_client_endpoint

__all__ = ["FrontEnd", "WebService", "makeWebService", "pot_client_endpoint"]
