"""Review: guessing passwords at the standalone login is bounded per name, whatever the server's threads.

Found by review: the one-second pause after a refused login held one of waitress's eight
threads, so eight guesses ran at once, every second. Now a name has five refused logins a
minute from one address; the rest are answered 429 at once, without asking RabbitMQ.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .webapp import Client


def test_sixteen_wrong_passwords_at_once_reach_the_password_check_five_times_only(web_app):
    app = web_app()
    with ThreadPoolExecutor(16) as pool:
        answers = sorted(pool.map(lambda n: Client(app).login(password=f"guess-{n}")[0], range(16)))
    assert answers == [403] * 5 + [429] * 11


def test_a_throttled_name_is_refused_even_with_the_right_password_until_the_minute_has_passed(web_app):
    app = web_app()
    for n in range(5):
        assert Client(app).login(password=f"guess-{n}")[0] == 403
    status, _, page = Client(app).login()
    assert status == 429 and "too many refused logins" in page


def test_another_name_is_not_throttled_by_guesses_at_root(web_app):
    app = web_app()
    for n in range(5):
        Client(app).login(password=f"guess-{n}")
    assert Client(app).login(name="alice")[0] == 302
