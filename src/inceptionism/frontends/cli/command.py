"""The ``deepdream`` command: the parser's command run, its errors in one line, its exit code,
and SIGTERM handled as Ctrl-C is (cleanup runs, exit status 143).

User errors print one line on stderr and exit non-zero; outputs are written atomically, so a
failed or interrupted dream never leaves a partial file behind.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from inceptionism import options, runtime
from inceptionism.errors import DreamError, user_error
from inceptionism.frontends.cli.common import EXIT_ERROR, EXIT_INTERRUPTED, message
from inceptionism.frontends.cli.parser import build_parser, commands, help_context


class Terminated(BaseException):
    """SIGTERM, raised where the process is, so that cleanup runs as for Ctrl-C (a temporary
    file is removed, no partial output is left) and the exit status is 128 + 15."""


EXIT_TERMINATED = 128 + signal.SIGTERM
#: Seconds a terminated command has to clean up and exit; past them the process ends at once
#: (exit status 1), whatever it is waiting for: a hang in C code runs no Python at all.
TERMINATE_GRACE_S = 10.0
_watchdog_file: list = []  # the file faulthandler's timer writes to must stay open


def _raise_terminated(_signum: int, _frame: object) -> None:
    """The first SIGTERM cleans up and exits 143; a second one ends the process at once (the
    default action, which needs no Python), and so does the grace time running out."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not _watchdog_file:
        _watchdog_file.append(open(os.devnull, "w"))  # noqa: SIM115
    faulthandler.dump_traceback_later(TERMINATE_GRACE_S, exit=True, file=_watchdog_file[0])
    raise Terminated


@contextlib.contextmanager
def sigterm_as_exception() -> Iterator[None]:
    """While running a command, SIGTERM raises :class:`Terminated` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """``deepdream ARGV...`` (``sys.argv`` by default); returns the exit code."""
    with sigterm_as_exception():
        try:
            return _main(argv)
        except Terminated:
            print("deepdream: terminated", file=sys.stderr)
            if argv is None:  # the process's own command (not a caller's): it ends now
                _exit_now(EXIT_TERMINATED)
            faulthandler.cancel_dump_traceback_later()  # a caller's process lives on
            return EXIT_TERMINATED


def _exit_now(code: int) -> None:
    """Exit hooks, flushed output, then the end, without the interpreter's tear-down: after
    a video or zoom it freed the model's objects one by one for 2 s of a busy machine, and a
    SIGTERM must end a run in moments. Every output was cleaned up where it was written."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    shown = help_context(words) if {"-h", "--help"} & set(words) else (None, None)
    args = build_parser(preset=shown[0], model=shown[1]).parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)  # to tell flags from defaults
    try:
        runtime.replay_threads(None)  # --config-from sets it again for its dream
        if getattr(args, "threads", None) is not None:  # no recipe checks its range
            runtime.set_threads(options.check("threads", args.threads))
        return commands()[args.command](args)
    except KeyboardInterrupt:
        print("deepdream: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `deepdream layers | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except (DreamError, MemoryError, RuntimeError, OSError) as e:
        error = user_error(e)
        if error is None:
            raise
        print(f"deepdream: error: {message(error)}", file=sys.stderr)
    return EXIT_ERROR
