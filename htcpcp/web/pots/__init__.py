# -*- test-case-name: tests.test_web_live -*-
"""
What the front end knows of the pots, and no HTML: the one way to them
(the gateway), their picture as values (the model), the live status
streams, the inspector's recent exchanges, the lab's diagnostic requests,
and the words for states and errors that the pages and the JSON API share.
"""
