# -*- test-case-name: tests.test_web_routes -*-
"""
The HTML pages: the frame every page shares, the pots' pages, the reports
(history, inspector, diagnostics) with their charts and space-time diagram,
and the cache that flattens a page once per state.
"""
