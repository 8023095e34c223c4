"""A parking lot as the replay tool works it: read whole, then replay or purge a choice.

``omero-mail failed|invalid`` and the web app's parking pages both go through an
:class:`Attendant`, so what they read, whom they act as and how they replay or purge is
one piece of code, never two:

- the broker login is ``omero.mail.broker.url`` of the process, as for every command (an
  admin gives ``failed`` the delivery stage's login and ``invalid`` the replay role's,
  README "Security"), and whether publishers are checked comes from the same properties;
- :meth:`Attendant.entries` gives back everything it read before it returns, so a lot is
  never held between a read and an act (a command's prompt, a web page's confirmation);
- :meth:`Attendant.replay` and :meth:`Attendant.purge` take only the chosen messages, at
  that moment, and say how many had left the lot meanwhile (replayed or purged by someone
  else), which nothing is then done to.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Protocol, Sequence

from events.broker import Parked, QueueBrowser

from . import parking
from ..access.trust import Trust


class Bar(Protocol):
    """What acting reports its progress to (``progress.Progress`` on a terminal)."""

    def advance(self, count: int = 1) -> None: ...


class _Quiet:
    def advance(self, count: int = 1) -> None:
        pass


def quietly(total: int) -> ContextManager[Bar]:
    return contextlib.nullcontext(_Quiet())


@dataclass(frozen=True)
class Done:
    """What an act did: ``done`` messages, and ``gone`` chosen ones that had left the lot meanwhile."""

    done: int
    gone: int


@dataclass(frozen=True)
class Attendant:
    lot: parking.Lot
    url: str = field(repr=False)
    trust: Trust

    @classmethod
    def of(cls, props, lot: str, url_key: str = "") -> "Attendant":
        """The attendant of lot ``failed`` or ``invalid``, with the process's broker login, or with the
        login of property ``url_key`` where it is set (the web app's, one per lot)."""
        url = (props[url_key].strip() if url_key else "") or props["omero.mail.broker.url"]
        return cls(parking.FAILED if lot == "failed" else parking.INVALID, url, Trust.from_properties(props))

    def entries(self) -> list[parking.Entry]:
        """An entry per parked message, all given back before this returns."""
        with QueueBrowser(self.url, self.lot.queue) as browser:
            return [parking.entry(p, self.trust) for p in browser.messages()]

    def choose(self, entries: Sequence[parking.Entry], ids: Sequence[str] = (),
               chosen: parking.Filter | None = None, **options) -> parking.Choice:
        """:func:`parking.choose` for this lot, with the publishers checked as the properties say."""
        return parking.choose(self.lot, entries, ids, chosen, checked=self.trust.checked, **options)

    def replay(self, choice: parking.Choice, progress: Callable[[int], ContextManager[Bar]] = quietly) -> Done:
        """Put the chosen messages back where they came from (``choice`` made with ``replaying=True``)."""
        return self._act(choice, progress, lambda browser, held, advance: parking.replay(browser, choice, held,
                                                                                          advance))

    def purge(self, choice: parking.Choice, progress: Callable[[int], ContextManager[Bar]] = quietly) -> Done:
        """Delete the chosen messages for good."""
        return self._act(choice, progress, parking.purge)

    def _act(self, choice: parking.Choice, progress: Callable[[int], ContextManager[Bar]],
             work: Callable[[QueueBrowser, Sequence[Parked], Callable[[], None]], int]) -> Done:
        with QueueBrowser(self.url, self.lot.queue) as browser:
            held = browser.take(choice.keys)
            with progress(len(held)) as bar:
                done = work(browser, held, bar.advance)
        return Done(done, len(choice.acted) - len(held))
