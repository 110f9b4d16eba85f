"""Poll with a deadline: the one wait loop of tests, test helpers and benchmarks (never a bare
sleep standing in for synchronisation)."""
import socket
import time

import requests

# what a poll over HTTP counts as "not yet": no answer, or an answer without the field looked at
HTTP_ERRORS = (requests.RequestException, KeyError, ValueError)


def wait_until(predicate, timeout, what="condition", interval=0.2, errors=(), detail=None,
               process=None):
    """Call ``predicate()`` every ``interval`` s until it returns a truthy value, and return that.

    An exception of a type in ``errors`` counts as "not yet" (it is shown as the last value).
    ``process`` (a Popen) that has exited fails at once with RuntimeError; the deadline fails with
    TimeoutError. Both messages name ``what`` and end with ``detail()`` (e.g. a log's tail).
    """
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("%s: the process exited (%s)\n%s" % (what, process.returncode,
                                                                   detail() if detail else ""))
        try:
            last = predicate()
        except errors as e:
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    raise TimeoutError("%s not reached in %ss (last: %r)\n%s" % (what, timeout, last,
                                                                 detail() if detail else ""))


def listening(port, timeout=0.2):
    """True when something accepts a TCP connection on the loopback ``port`` (a predicate)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout).close()
        return True
    except OSError:
        return False
