"""A one-line progress bar for sweeps, redrawn in place with a carriage return.

Our own rather than tqdm's so that it behaves the same everywhere and is testable: the sweep
passes any stream, and `stream_for()` picks stderr only when it is a terminal (a log file or a
CI job should not collect hundreds of redraws).
"""
import sys
import time


def stream_for(progress):
    """progress=True: stderr if it is a terminal; False/None: off; a file object: always there."""
    if progress is True:
        return sys.stderr if sys.stderr is not None and sys.stderr.isatty() else None
    if not progress:
        return None
    if hasattr(progress, "write"):
        return progress
    raise TypeError("vmxsim.sweep: progress must be True, False or a stream, got %r"
                    % (progress,))


def _clock(seconds):
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return "%d:%02d:%02d" % (h, m, s) if h else "%d:%02d" % (m, s)


class Progress:
    """Counts finished points; draws `label [####------] 3/8 (1 not passed) 0:04, ~0:06 left`."""

    WIDTH = 24

    def __init__(self, total, stream, label="vmxsim.sweep"):
        self.total, self.stream, self.label = total, stream, label
        self.done = self.not_passed = 0
        self.start = time.monotonic()
        self._draw()

    def advance(self, passed):
        self.done += 1
        self.not_passed += 0 if passed else 1
        self._draw()

    def close(self):
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self):
        if self.stream is None:
            return
        elapsed = time.monotonic() - self.start
        filled = self.WIDTH * self.done // max(self.total, 1)
        line = "%s [%s%s] %d/%d" % (self.label, "#" * filled, "-" * (self.WIDTH - filled),
                                     self.done, self.total)
        if self.not_passed:
            line += " (%d not passed)" % self.not_passed
        line += " %s" % _clock(elapsed)
        if 0 < self.done < self.total:
            line += ", ~%s left" % _clock(elapsed / self.done * (self.total - self.done))
        self.stream.write("\r" + line)
        self.stream.flush()
