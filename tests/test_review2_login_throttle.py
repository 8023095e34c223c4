"""Review: the login's throttle forgets what is older than its window, whatever names are tried.

Found by review: the throttle kept every (name, address) it had refused, each name as it was
typed (up to Django's 2.5 MB of form), and dropped one only when that same pair came again or
logged in. Guesses at ever new names, which anyone who can reach the login page may send, grew
the web process's memory for as long as it ran. Now a pair older than the window is dropped at
the next attempt, and a pair is kept as a digest, not as the text sent.
"""

from __future__ import annotations

import time
import tracemalloc

from consumer.admin.web.login import Throttle


def test_refused_logins_of_a_thousand_names_are_forgotten_once_their_window_has_passed():
    throttle = Throttle(attempts=5, window=0.2)
    for n in range(1000):
        throttle.attempt(f"guess-{n}", "192.0.2.7")
    time.sleep(0.3)
    throttle.attempt("root", "192.0.2.8")
    assert len(throttle) == 1


def test_a_megabyte_name_is_kept_in_a_few_bytes():
    throttle = Throttle()
    tracemalloc.start()
    try:
        throttle.attempt("x" * 1_000_000, "192.0.2.7")
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 10_000


def test_a_name_still_in_its_window_keeps_its_count():
    throttle = Throttle(attempts=2, window=60)
    throttle.attempt("root", "192.0.2.7")
    throttle.attempt("root", "192.0.2.7")
    for n in range(100):
        throttle.attempt(f"guess-{n}", "192.0.2.7")
    assert throttle.attempt("root", "192.0.2.7") is None
