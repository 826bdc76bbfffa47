"""The ``deepdream`` command line: :func:`main` (the console script) and one module per
command (``dream``, ``listing``, ``studio``, ``atlas``, ``video``, ``zoom``; the Ray flags in
``ray_flags``), registered in :mod:`.parser`. Library code never imports this package: it
builds the library's values (``BatchRun``, ``RayOptions``, ``ClipRun``) from the command line;
the options' flags come from the options schema (``command_options.SCHEMA``)."""

from inceptionism.frontends.cli.command import (
    EXIT_TERMINATED,
    TERMINATE_GRACE_S,
    Terminated,
    main,
    sigterm_as_exception,
)
from inceptionism.frontends.cli.common import EXIT_ERROR, EXIT_USAGE, message, spell
from inceptionism.frontends.cli.dream import choose_output, recipe, run_inputs
from inceptionism.frontends.cli.parser import EXAMPLES, SAMPLE, build_parser

__all__ = [
    "EXAMPLES",
    "EXIT_ERROR",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "SAMPLE",
    "TERMINATE_GRACE_S",
    "Terminated",
    "build_parser",
    "choose_output",
    "main",
    "message",
    "recipe",
    "run_inputs",
    "sigterm_as_exception",
    "spell",
]
