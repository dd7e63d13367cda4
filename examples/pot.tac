"""
Run the pot server from a .tac file, as another application would embed it:

    twistd -n -y examples/pot.tac

Environment: HTCPCP_ENDPOINT (default tcp:5030:interface=127.0.0.1) and
HTCPCP_DATA_DIR (default .htcpcp).
"""

import os

from twisted.application.service import Application

from htcpcp import default_config, makePotService

application = Application("htcpcp pot")
pots = makePotService(
    default_config(),
    endpoints=[os.environ.get("HTCPCP_ENDPOINT", "tcp:5030:interface=127.0.0.1")],
    dataDir=os.environ.get("HTCPCP_DATA_DIR", ".htcpcp"),
)
pots.setServiceParent(application)
