"""How the commands report: library errors as argparse-style messages naming the flag (`fail`), and
progress bars over many inputs."""

import sys

from keras_gst.commands import error_line


def fail(command, error, flags):
    """Print `error` as `keras-gst COMMAND: error: argument FLAG: ...` (`keras_gst.commands.error_line`:
    the flag of `error.param` in `flags`, else the message alone) on stderr and return exit status 2."""
    print(error_line(f"keras-gst {command}", error, flags), file=sys.stderr)
    return 2


class Progress:
    """A tqdm bar on a terminal; elsewhere nothing until `close()`, which prints one summary line."""

    def __init__(self, total, unit, what):
        from tqdm.auto import tqdm

        self.tty = sys.stderr.isatty()
        self.done, self.total, self.unit, self.what = 0, total, unit, what
        self.bar = tqdm(total=total, unit=unit, desc=what, file=sys.stderr, leave=False, disable=not self.tty)

    def __call__(self, n=1):
        self.done += n
        self.bar.update(n)

    def close(self, failed=0):
        self.bar.close()
        if not self.tty and self.total and self.total > 1:
            extra = f", {failed} failed" if failed else ""
            print(f"{self.what}: {self.done} of {self.total} {self.unit}s{extra}", file=sys.stderr)
