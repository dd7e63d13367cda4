# -*- test-case-name: tests.test_web_http -*-
"""
The front end's HTTP edge, which knows nothing of pots: the L{Site} and its
limits, the outermost resource with its security headers and mount point,
sessions and their CSRF tokens, static assets, and how an endpoint string
is named in public.
"""
