"""The file a web process keeps the ``web.error`` events in that it could not publish.

The events carry tracebacks and request details, so the file is the web user's alone. It is
made 0600 (whatever the umask) in a directory the web user owns: ``OMERO_MAIL_SPOOL``'s, or
by default ``omero-mail-web-<uid>/`` in the temporary directory, made 0700. Neither the
file nor the default directory is followed through a symbolic link, and one that another
user made first (in a shared ``/tmp``, to read what is written, or to have the web process
write into a file of theirs) is refused: the event is then logged as lost, with the reason.
``omero-mail publish-spool FILE`` publishes a spool file's events later.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile

FILE_NAME = "web-errors.jsonl"
_FILE_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class SpoolError(OSError):
    """The spool file may not be written; ``str()`` says why, in one line."""


def default_path() -> str:
    return os.path.join(tempfile.gettempdir(), f"omero-mail-web-{os.geteuid()}", FILE_NAME)


def append(path: str, line: bytes) -> None:
    """Append one line to the spool file at ``path``; SpoolError when it is not the web user's to write."""
    directory, name = os.path.split(os.path.abspath(path))
    own_directory = path == default_path()
    if own_directory:
        _make_private_directory(directory)
    directory_fd = _open_directory(directory, follow=not own_directory)
    try:
        try:
            fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=directory_fd)
        except OSError as exc:
            raise SpoolError(f"cannot open {path}: {_why(exc)}") from None
        try:
            _check_file(fd, path)
            _write_all(fd, line)
        finally:
            os.close(fd)
    finally:
        os.close(directory_fd)


def _make_private_directory(directory: str) -> None:
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SpoolError(f"cannot make {directory}: {exc.strerror}") from None


def _open_directory(directory: str, follow: bool) -> int:
    try:
        fd = os.open(directory, _DIRECTORY_FLAGS | (0 if follow else os.O_NOFOLLOW))
    except OSError as exc:
        why = "it is a symbolic link" if os.path.islink(directory) else _why(exc)
        raise SpoolError(f"cannot open the spool directory {directory}: {why}") from None
    info = os.fstat(fd)
    if info.st_uid != os.geteuid():
        os.close(fd)
        raise SpoolError(f"the spool directory {directory} belongs to uid {info.st_uid}, not to this web "
                         f"process's user (uid {os.geteuid()})")
    if not follow and info.st_mode & 0o077:
        os.fchmod(fd, 0o700)
    return fd


def _check_file(fd: int, path: str) -> None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise SpoolError(f"{path} is not a regular file")
    if info.st_uid != os.geteuid():
        raise SpoolError(f"{path} belongs to uid {info.st_uid}, not to this web process's user "
                         f"(uid {os.geteuid()})")
    if info.st_mode & 0o077:
        # The web user's own file, left readable by others (made by an older version): made private.
        os.fchmod(fd, 0o600)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _why(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link"
    return exc.strerror or str(exc)
