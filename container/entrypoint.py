#!/usr/bin/env python
"""The assay container's entrypoint.

    entrypoint.py kfp --executor-input '{{$}}'   # as a KFP v2 component (assay.kfp.executor)
    entrypoint.py evaluate --config ... --output ...   # the `assay` command line
    entrypoint.py report out/ ...                      # (any other assay subcommand)
    entrypoint.py python /opt/assay/container/entrypoint.py kfp ...   # a command: run as is

In the image it is /opt/assay/container/entrypoint.py and the ENTRYPOINT, so
`docker run IMAGE evaluate ...` is `assay evaluate ...`; the KFP component's command runs it with
`kfp` first. It needs the assay package and its dependencies, not the KFP SDK.

Arguments that start with a program on PATH (`python`, `sh`, `assay`, ...) are run as that
command, as official images' entrypoints do: `docker run IMAGE sh` opens a shell, and a runner
that passes a component's command as Docker's CMD (arguments to this ENTRYPOINT, as kfp.local's
DockerRunner does; Kubernetes replaces the ENTRYPOINT instead) runs the command it meant.
"""

import os
import shutil
import sys


def main(argv):
    # TensorFlow's C++ start-up notices are noise in a pipeline log; errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if argv and not argv[0].startswith("-") and argv[0] != "kfp" and shutil.which(argv[0]):
        os.execvp(argv[0], argv)
    if argv[:1] == ["kfp"]:
        from assay.kfp import executor

        return executor.main(argv[1:])
    from assay import cli

    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
