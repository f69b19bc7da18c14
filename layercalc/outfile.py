"""Writing an output file (``--save``, and every future ``-o FILE``) safely.

:func:`write_atomic` follows symbolic links, refuses anything that is not a regular
file (a directory, ``/dev/null``, a named pipe, a socket), writes a temporary file
beside the real target and renames it over the target only once it is complete and
synced, keeps an existing file's mode and owner (a new file gets the umask's mode), and
removes the temporary file on every failure, on Ctrl-C, and on every signal whose
default action would end the process (SIGTERM, SIGHUP, SIGQUIT, SIGALRM, ...).
Every refusal or failure is an :class:`OutputError` carrying a reason and a hint, for
the command to turn into a diagnostic.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import threading

TEMP_PREFIX = ".layercalc-"
# Every catchable signal whose default action ends the process (SIGINT is Python's
# KeyboardInterrupt, already cleaned up by the ``except BaseException`` of write_atomic).
CLEANUP_SIGNALS = tuple(
    getattr(signal, n)
    for n in (
        "SIGTERM",
        "SIGHUP",
        "SIGQUIT",
        "SIGALRM",
        "SIGUSR1",
        "SIGUSR2",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
    )
    if hasattr(signal, n)
)

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


class OutputError(Exception):
    """An output file that could not be written: ``reason`` says why (no file name),
    ``hint`` what to do. Nothing was written and no temporary file is left."""

    def __init__(self, path: str, reason: str, hint: str):
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path
        self.reason = reason
        self.hint = hint


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _os_error(path: str, exc: OSError, directory: str) -> OutputError:
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return OutputError(
            path,
            "no space left on the device (nothing was written)",
            "free some space, or write to another file system",
        )
    if code in (errno.EACCES, errno.EPERM):
        return OutputError(
            path,
            f"permission denied in the directory '{directory}'",
            "choose a directory you can write to",
        )
    if code == errno.EROFS:
        return OutputError(
            path, "the file system is read-only", "choose a path on a writable file system"
        )
    if code == errno.ENOENT:
        return OutputError(
            path,
            f"the directory '{directory}' does not exist",
            "create the directory first, or choose another path",
        )
    if code == errno.ENOTDIR:
        return OutputError(
            path,
            f"'{directory}' is not a directory",
            "create the directory first, or choose another path",
        )
    if code == errno.ELOOP:
        return OutputError(
            path,
            "the path has a loop of symbolic links",
            "point the path, or its symbolic link, at a regular file",
        )
    return OutputError(path, exc.strerror or str(exc), "check the path, or choose another one")


def _shown_directory(shown: str, directory: str) -> str:
    """The directory as the user wrote it, unless symbolic links lead elsewhere."""
    given = os.path.dirname(shown) or os.curdir
    return given if os.path.realpath(given) == directory else directory


def _names_a_directory(path: str) -> bool:
    """Whether the kernel reads ``path`` as a directory: a trailing '/', or a last
    component '.' or '..'."""
    return path.endswith(os.sep) or os.path.basename(path) in (os.curdir, os.pardir)


def _check_directories(shown: str, parent: str) -> None:
    """Refuse ``parent`` as the kernel would: each component of it as written (so
    'missing/..' and 'file/..' fail, as open() fails on them) must be a directory."""
    root, rest = (os.sep, parent.lstrip(os.sep)) if parent.startswith(os.sep) else ("", parent)
    prefix = root
    for part in [p for p in rest.split(os.sep) if p]:
        prefix = os.path.join(prefix, part) if prefix else part
        try:
            st = os.stat(prefix)
        except FileNotFoundError:
            raise OutputError(
                shown,
                f"the directory '{prefix}' does not exist",
                "create the directory first, or choose another path",
            ) from None
        except OSError as exc:
            raise _os_error(shown, exc, prefix) from None
        if not stat.S_ISDIR(st.st_mode):
            raise OutputError(
                shown,
                f"'{prefix}' is not a directory",
                "check the path: each part before the file name must be a "
                "directory (open() fails on 'file/..' and 'missing/..')",
            )


def _resolve(shown: str) -> str:
    """The absolute path that open(shown, O_CREAT) would write, refused as the kernel
    would refuse it: a name that can only be a directory ('f/', 'f/.'), a directory
    part that does not resolve (each component must exist as a directory, '..'
    included), a symbolic link loop. Symbolic links are followed one hop at a time,
    each hop checked the same way; os.path.realpath only ever sees directories that
    exist, so it agrees with the kernel."""
    path = shown
    for _ in range(40):  # the kernel's limit on symbolic links in one lookup
        if _names_a_directory(path):
            if os.path.isdir(path):
                return os.path.realpath(path)  # refused below as "a directory"
            base = path
            while base and _names_a_directory(base):
                base = base.rstrip(os.sep) if base.endswith(os.sep) else os.path.dirname(base)
            ending = path[len(base) :]
            via = "" if path == shown else f" (a symbolic link leads to '{path}')"
            what = "is not a directory" if os.path.lexists(base) else "does not exist"
            raise OutputError(
                shown,
                f"the name ends with '{ending}', so it can only name a directory, and "
                f"'{base}' {what}{via}",
                "give a file name without a trailing '/' or '/.'",
            )
        parent = os.path.dirname(path) or os.curdir
        _check_directories(shown, parent)
        full = os.path.join(os.path.realpath(parent), os.path.basename(path))
        if not os.path.islink(full):
            return full
        try:
            path = os.path.join(os.path.dirname(full), os.readlink(full))
        except OSError as exc:
            raise _os_error(shown, exc, os.path.dirname(full)) from None
    raise OutputError(
        shown,
        "the path has a loop of symbolic links",
        "point the path, or its symbolic link, at a regular file",
    )


def refuse_input(output, st, source: str, verb: str, example: str, what: str = "spec") -> None:
    """Refuse an output that is the file being read (``source``, the same file by device
    and inode whatever the path; ``st`` is check_target's stat of the output): a command
    never modifies its input. ``-`` (standard input) is never a file to compare."""
    if st is None or source == "-":
        return
    try:
        same = os.path.samestat(st, os.stat(source))
    except (OSError, ValueError):
        return
    if same:
        raise OutputError(
            os.fspath(output),
            f"it is the {what} '{source}', which is being {verb}",
            f"give -o a new file name, e.g. {example}; the {what} is never overwritten",
        )


def check_target(path) -> tuple[str, os.stat_result | None]:
    """Where ``path`` really leads (symbolic links followed) and its stat (None for a file
    to create), or :class:`OutputError` when it cannot be a regular file we may write.
    Cheap: a command calls it before long work, and :func:`write_atomic` again."""
    shown = os.fspath(path)
    if not shown:
        raise OutputError(shown, "the file name is empty", "give a file name")
    real = _resolve(shown)
    directory = _shown_directory(shown, os.path.dirname(real))
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _os_error(shown, exc, directory) from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            via = "" if real == os.path.abspath(shown) else f" (it leads to '{real}')"
            raise OutputError(
                shown,
                f"it is {_kind(st.st_mode)}, not a regular file{via}",
                "give the name of a new or existing regular file; "
                "nothing is written into devices, pipes or directories",
            )
        if not os.access(real, os.W_OK):
            mode = stat.S_IMODE(st.st_mode)
            raise OutputError(
                shown,
                f"the file is read-only (mode {mode:04o})",
                "make it writable (chmod u+w), or choose another name",
            )
        return real, st
    if not os.path.isdir(os.path.dirname(real)):
        reason = (
            f"the directory '{directory}' does not exist"
            if not os.path.lexists(directory)
            else f"'{directory}' is not a directory"
        )
        raise OutputError(shown, reason, "create the directory first, or choose another path")
    return real, None


def _remove(tmp: str | None) -> None:
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _create_temp(directory: str, suffix: str) -> tuple[int, str]:
    """A new file beside the target, created with mode 0666 so that the kernel applies
    the umask (and any default ACL) exactly as it would to the target itself."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f"{TEMP_PREFIX}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)


def _keep_mode(fd: int, st: os.stat_result) -> None:
    """Give the new file the replaced file's owner (when allowed) and mode."""
    if hasattr(os, "fchown"):
        for uid in (st.st_uid, -1):
            try:
                os.fchown(fd, uid, st.st_gid)
                break
            except OSError:
                continue
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(st.st_mode))


@contextlib.contextmanager
def _signals_held():
    """Hold CLEANUP_SIGNALS back for a few statements (they arrive right after), so
    that creating, or renaming, a temporary file and recording it happen together."""
    if not CLEANUP_SIGNALS or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, CLEANUP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _SignalCleanup:
    """For the duration of a write: each of CLEANUP_SIGNALS still at its default action
    (which would end the process and leave the temporary file behind) removes the
    temporary file, then exits with status 128 + the signal number. Ignored signals stay
    ignored, and a program's own handlers stay in place (an exception they raise reaches
    write_atomic's cleanup); the default actions come back afterwards. Only the main
    thread may set handlers."""

    def __init__(self):
        self.tmp = None
        self.previous = {}

    def _handler(self, signum, frame):
        tmp, self.tmp = self.tmp, None
        _remove(tmp)
        raise SystemExit(128 + signum)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in CLEANUP_SIGNALS:
                try:
                    if signal.getsignal(sig) is not signal.SIG_DFL:
                        continue
                    self.previous[sig] = signal.signal(sig, self._handler)
                except (OSError, ValueError):  # not catchable on this platform
                    continue
        return self

    def __exit__(self, *exc):
        for sig, old in self.previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        return False


def write_atomic(path, write, suffix: str = "") -> str:
    """Write a file with ``write(binary_file)``, all or nothing; returns the path really
    written (symbolic links followed). A target that exists must be a regular file (after
    following links): it is replaced by a rename, keeping its mode and, where allowed,
    its owner; hard links to it keep the old content. Raises :class:`OutputError` for a
    refused target or any OSError while writing, syncing or renaming; any other exception
    of ``write`` propagates. The temporary file never outlives the call."""
    shown = os.fspath(path)
    real, st = check_target(shown)
    directory = os.path.dirname(real)
    with _SignalCleanup() as guard:
        tmp = None
        try:
            with _signals_held():
                fd, tmp = _create_temp(directory, suffix)
                guard.tmp = tmp
            with os.fdopen(fd, "wb") as fh:
                if st is not None:
                    _keep_mode(fh.fileno(), st)
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            with _signals_held():
                os.replace(tmp, real)
                guard.tmp = tmp = None
        except OSError as exc:
            _remove(tmp)
            guard.tmp = None
            raise _os_error(shown, exc, _shown_directory(shown, directory)) from None
        except BaseException:
            _remove(tmp)
            guard.tmp = None
            raise
    _sync_directory(directory)
    return real


def _sync_directory(directory: str) -> None:
    """Make the rename durable where the platform allows (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
