"""Beam pipeline arguments that ask for nothing but Beam's DirectRunner on this machine.

    direct_runner_only(["--direct_running_mode=multi_processing", "--direct_num_workers=0"])
    # True: the local engine runs it, on every core
    direct_workers(["--direct_num_workers=2"])     # 2
    direct_runner_only(["--runner=DataflowRunner"])    # False: Beam runs it

A TFX pipeline hands its `beam_pipeline_args` to every Beam-powered component, and most local
pipelines (TFX's own examples included) give the DirectRunner's two options there. The
DirectRunner runs the pass on this machine's processes, which the local engine does too, without
starting Beam's runner and its worker processes (each importing TensorFlow and loading the
model again): so `assay.api.choose_engine` picks the local engine for them when the data are
local, with the worker count of --direct_num_workers (0: every core, as Beam reads it). The
staging options TFX adds for remote workers (--extra_package, --labels, ...) do not count. Any
other argument (another runner, --temp_location, a file system's options, ...) keeps Beam.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

_RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")
_DIRECT_NAMES = ("direct", "directrunner")
_DIRECT = {"runner", "direct_running_mode", "direct_num_workers"}
# What TFX's BaseBeamExecutor adds to every component's arguments (its own sdist for remote
# workers, unless one of the others is given; telemetry labels): staging for remote workers,
# which the DirectRunner does not do.
_STAGING = {"labels", "extra_package", "extra_packages", "setup_file", "requirements_file",
            "sdk_container_image", "worker_harness_container_image"}


def _parsed(args: Sequence[str]) -> Optional[Dict[str, str]]:
    """{option: value} of `--option=value` and `--option value` arguments; None when an
    argument is not of either form."""
    out: Dict[str, str] = {}
    items = [str(a) for a in args]
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--"):
            return None
        name, eq, value = item[2:].partition("=")
        if not eq:
            if i + 1 >= len(items) or items[i + 1].startswith("--"):
                return None
            value, i = items[i + 1], i + 1
        out[name] = value
        i += 1
    return out


def _direct_options(args: Sequence[str]) -> Optional[Dict[str, str]]:
    options = _parsed(args)
    if options is None or set(options) - _DIRECT - _STAGING:
        return None
    if options.get("runner", "direct").lower() not in _DIRECT_NAMES:
        return None
    if options.get("direct_running_mode", "in_memory") not in _RUNNING_MODES:
        return None
    workers = options.get("direct_num_workers", "0")
    if not workers.isdigit():
        return None
    return options


def direct_runner_only(args: Optional[Sequence[str]]) -> bool:
    """True when `args` (Beam pipeline arguments) name only the DirectRunner and its options
    --direct_running_mode and --direct_num_workers (valid values), besides staging options
    for remote workers, or nothing at all."""
    return not args or _direct_options(args) is not None


def direct_workers(args: Optional[Sequence[str]]) -> Optional[int]:
    """The worker count --direct_num_workers asks for; None for every core (0, or not given)."""
    options = _direct_options(args) if args else None
    workers = int(options.get("direct_num_workers", "0")) if options else 0
    return workers or None
