"""
C{htcpcp check}: a conformance and grading tool for any HTCPCP server, in the
spirit of h2spec.

Numbered cases in four profiles (C{lab}, C{rfc2324}, C{rfc7168}, C{http}),
each citing the RFC section or lab task it checks, run one connection at a
time against a server given by URL; MUST rules fail, SHOULD rules warn.
Reports: one line per case, the exact bytes of each failure, JUnit XML and
JSON.  See C{docs/check.md}.
"""

from htcpcp.check.command import add_check_command, run_check
from htcpcp.check.runner import PROFILES, run_cases, select_cases

__all__ = ["PROFILES", "add_check_command", "run_cases", "run_check", "select_cases"]
