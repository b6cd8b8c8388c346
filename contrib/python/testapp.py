"""testapp - the WSGI application the gunicorn test and benchmark serve.

A constant small body, so that what is measured is the server and the
limiter.  The environment chooses the limiter:
  FG_TEST_SEGMENT  segment name; unset: no middleware (the benchmark's
                   baseline)
  FG_TEST_RULE     rule name (default "t"); the key is REMOTE_ADDR
"""
import os

BODY = b"hello from floodgate testapp\n"


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


application = hello
if os.environ.get("FG_TEST_SEGMENT"):
    from floodgate_wsgi import RateLimit

    application = RateLimit(hello, rule=os.environ.get("FG_TEST_RULE", "t"),
                            segment=os.environ["FG_TEST_SEGMENT"])
