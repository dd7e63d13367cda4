# -*- test-case-name: tests.test_web_routes -*-
"""
The state-changing forms: their fields and how they are validated, the
CSRF check every form passes, and what each submission led to, kept so
that every form is answered with a redirect and a repeated submission with
the first one's answer.
"""
