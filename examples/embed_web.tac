"""
Another application's web site, with the HTCPCP front end mounted under /coffee/:

    twistd -n -y examples/embed_web.tac        # then open http://localhost:8080/coffee/

The host site is an ordinary twisted.web resource tree with a Site of its
own; the front end is one child of it.  Every link, form, asset and event
stream of the front end is relative, so it works under any prefix (and
behind a proxy that strips one).  The front end reaches the pots through the
HTCPCP client, here at a pot server started separately
(twistd -n htcpcp --pot tcp:5030).

Environment: HTCPCP_POT_AT (client endpoint of the pot server, default
tcp:127.0.0.1:5030) and HTCPCP_SITE (server endpoint of the host site,
default tcp:8080:interface=127.0.0.1).
"""

import os

from twisted.application import strports
from twisted.application.service import Application, Service
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import Data

from htcpcp.web import FrontEnd


class FrontEndCloser(Service):
    """Ends the front end's event streams and pot connections when the application stops."""

    def __init__(self, front):
        self.front = front

    def stopService(self):
        super().stopService()
        return self.front.close()


front = FrontEnd.connect(os.environ.get("HTCPCP_POT_AT", "tcp:127.0.0.1:5030"))

root = Resource()
root.putChild(
    b"",
    Data(
        b"<!DOCTYPE html><title>Intranet</title><h1>Our intranet</h1>"
        b'<p><a href="coffee/">The coffee pots</a></p>',
        "text/html; charset=utf-8",
    ),
)
root.putChild(b"coffee", front.resource())
site = Site(root)
site.displayTracebacks = False

application = Application("an intranet with coffee")
FrontEndCloser(front).setServiceParent(application)
strports.service(
    os.environ.get("HTCPCP_SITE", "tcp:8080:interface=127.0.0.1"), site
).setServiceParent(application)
