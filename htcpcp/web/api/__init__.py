# -*- test-case-name: tests.test_web_routes -*-
"""
The JSON API, which mirrors the pages: the documents it answers with (the
live event stream sends them too).
"""
