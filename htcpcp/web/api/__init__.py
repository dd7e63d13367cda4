# -*- test-case-name: tests.test_web_routes -*-
"""
The JSON API, which mirrors the pages: a Klein application of its own,
mounted at C{api/} by the site's, and the documents it answers with (the
live event stream sends them too).  Nothing here imports an HTML module.
"""
