"""Forked processes: when assay may fork, and one call run in a forked child meanwhile.

The local engine forks its worker processes, and publishing an evaluation writes TFMA's files
in a forked child while the driver writes the rest, where forking is safe: on Linux (macOS's
system libraries are not safe to use in a forked child; Windows has no fork), in a process
with one thread, and with no library loaded that runs threads of its own, which a forked
child would lack (TensorFlow, gRPC, which comes with Beam and TFX, PyTorch, JAX).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Callable

THREADED_LIBRARIES = ("tensorflow", "grpc", "torch", "jax")


def fork_is_safe(threads: bool = True) -> bool:
    """Whether this process may fork (see the module docstring); `threads=False`: whatever
    threads of its own it runs now (a pool about to fork checks before it starts them)."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and not any(m in sys.modules for m in THREADED_LIBRARIES)
            and (not threads or threading.active_count() == 1))


class ForkedCall:
    """`fn()` run in a forked child process while this one goes on; `join` waits for it.

    The child reports nothing but its exit status: a caller whose child failed runs `fn` again
    itself, where an error is raised as itself, with its traceback.
    """

    def __init__(self, fn: Callable[[], object]):
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            code = 1
            try:
                fn()
                code = 0
            finally:
                os._exit(code)  # no atexit handlers, no buffers of the parent flushed

    def join(self) -> bool:
        """Waits for the child; whether `fn` returned. Interrupted (Ctrl-C), it stops the child
        first, so that nothing writes on once the caller has cleaned up."""
        try:
            _, status = os.waitpid(self.pid, 0)
        except BaseException:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            raise
        return os.waitstatus_to_exitcode(status) == 0


__all__ = ["THREADED_LIBRARIES", "ForkedCall", "fork_is_safe"]
