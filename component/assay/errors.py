"""assay's exceptions: one tree, and the exit codes of the CLI and the container come from it.

    AssayError                      anything assay refuses, with a message for a person
    ├── ConfigError      exit 2     a config, a parameter or a command line that cannot be used
    │   ├── ConfigTypeError         ... because a value has the wrong type (also a TypeError)
    │   └── InputNotFound           ... because a path given as input does not exist
    │                                   (also a FileNotFoundError)
    ├── DataError        exit 3     example data that cannot be read or used
    ├── ModelError       exit 3     a model that cannot be found, loaded or called
    │   └── BaselineError exit 3    the baseline model, when it fails (see baseline_failure)
    ├── StorageError     exit 6     a location that cannot be read or written (not the data's fault)
    ├── MetadataError    exit 5     ML Metadata that cannot be reached, read or written
    └── RunnerError      exit 7     the pass could not finish: a worker died, the runner failed

Exit code 4 is NOT_BLESSED with `--fail-on-not-blessed`, and 0 is done. Anything else that
escapes is a bug in assay: the CLI prints a short message, writes the traceback to a crash
report file it names, and exits with EXIT_BUG (70).

ConfigError and DataError are also ValueErrors, so code written against earlier versions that
caught ValueError keeps working; assay itself never chooses an exit code by catching ValueError
or TypeError.

    >>> from assay.errors import ConfigError, exit_code
    >>> exit_code(ConfigError("unknown key 'mtric' in thresholds[0]; did you mean 'metric'?"))
    2
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_NOT_BLESSED = 4
EXIT_METADATA = 5
EXIT_STORAGE = 6
EXIT_RUNNER = 7
EXIT_BUG = 70  # sysexits' EX_SOFTWARE: an internal error (a bug), traceback in a crash file


class AssayError(Exception):
    """Something assay refuses; the message names what was wrong, where, and what was expected."""

    exit_code = EXIT_DATA


class ConfigError(AssayError, ValueError):
    """A config, parameter or command line that cannot be used; names the key, rule and value."""

    exit_code = EXIT_USAGE


class ConfigTypeError(ConfigError, TypeError):
    """A config value of the wrong type: `'lower' must be a number (got '0.7', a str)`."""


class InputNotFound(ConfigError, FileNotFoundError):
    """A path given as input (examples, config, model, results) that does not exist."""


class DataError(AssayError, ValueError):
    """Example data that cannot be read or used; names the file, record or row, and column."""

    exit_code = EXIT_DATA


class ModelError(AssayError, ValueError):
    """A model that cannot be found, loaded or called; names the model, its path and the cause."""

    exit_code = EXIT_DATA


class BaselineError(ModelError):
    """The baseline model failed; `baseline_failure` decides whether that fails the evaluation."""


class StorageError(AssayError, OSError):
    """A location that cannot be read or written: names the path and the operating system's
    reason. Nothing is published when it happens."""

    exit_code = EXIT_STORAGE


class MetadataError(AssayError):
    """ML Metadata that cannot be reached, read or written; names the store and the problem."""

    exit_code = EXIT_METADATA


class RunnerError(AssayError):
    """The pass could not finish (a worker process died, the Beam runner failed); nothing was
    published, and the message says what to try."""

    exit_code = EXIT_RUNNER


def exit_code(error: BaseException) -> int:
    """The documented exit code for an exception; EXIT_BUG for one outside the tree."""
    return getattr(error, "exit_code", EXIT_BUG) if isinstance(error, AssayError) else EXIT_BUG


__all__ = ["AssayError", "BaselineError", "ConfigError", "ConfigTypeError", "InputNotFound", "DataError", "MetadataError",
           "ModelError", "RunnerError", "StorageError", "exit_code", "EXIT_OK", "EXIT_USAGE", "EXIT_DATA",
           "EXIT_NOT_BLESSED", "EXIT_METADATA", "EXIT_STORAGE", "EXIT_RUNNER", "EXIT_BUG"]
