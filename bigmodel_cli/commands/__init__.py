"""The commands of `bigmodel`, one module per group, registered on import in the order the
help lists them. A new command is a new module here and one line below.

Each module imports TensorFlow and the library inside its commands, never at the top, so that
`bigmodel --help` and config checks answer at once.
"""

from . import run, generate, explain, export, serve, report, runs, sweep, configs, data  # noqa: F401, I001 - registration order is the help's order
