"""Import TensorFlow quietly, once, only in the commands that need it.

`import tensorflow` costs seconds, and TensorFlow's C++ runtime prints start-up noise (oneDNN,
CUDA probes) that hides what the user asked for. Nothing else in bigmodel imports TensorFlow at
module level from the CLI path. Native libraries that write to file descriptor 2 themselves
(libjpeg's "Corrupt JPEG data: ...") are caught with `native_stderr` where bigmodel calls them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings

_verbose = False  # --verbose of the running command: native messages then reach the terminal


def import_tensorflow(verbose: bool = False):
    global _verbose
    _verbose = verbose
    if not verbose:
        # Must be set before the first import: the C++ logger reads it once.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        warnings.filterwarnings("ignore", module=r"(keras|tensorflow|tensorflow_datasets)\b")
    if "tensorflow" in sys.modules or verbose:
        import tensorflow as tf
    else:
        # TensorFlow 2.21 logs from C++ before absl's logger is initialized ("oneDNN custom
        # operations are on", CUDA probes), and no environment variable silences that. Python
        # exceptions raised by the import still reach the user: they propagate after the block.
        with native_stderr(show=False):
            import tensorflow as tf

    if not verbose:
        tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
    return tf


class Captured:
    """What native code wrote to file descriptor 2 inside a `native_stderr` block."""

    text = ""

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.splitlines() if line.strip()]


@contextlib.contextmanager
def native_stderr(show: bool | None = None):
    """Catch what is written to file descriptor 2 (C and C++ code included) into `Captured`.

    The text is shown afterwards when `show` is true (default: the command's --verbose), so a
    caller can read it (to name the file it came from) and the user still sees it on request.
    Python's own writes to sys.stderr inside the block are caught the same way.
    """
    captured = Captured()
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:  # no name on disk: nothing left behind
            os.dup2(sink.fileno(), 2)
            try:
                yield captured
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                sink.seek(0)
                captured.text = sink.read().decode("utf-8", "replace")
    finally:
        os.close(saved)
    if captured.text and (_verbose if show is None else show):
        sys.stderr.write(captured.text)
        sys.stderr.flush()
