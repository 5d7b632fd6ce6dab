"""Fault injection for reliability tests; inert unless its variables are set.

  INFOMAX_FAIL_ONCE="<run name substring>@<step>"
  INFOMAX_FAIL_MARKER=<path of a file that records that the fault fired>

make the first run whose name contains the substring raise `InjectedFault`
right after its checkpoint at that step — once across all processes (the
marker file says it already happened), as a crashed worker would. The rerun or
retry must then resume from that checkpoint.
"""

import os

import tensorflow as tf

FAIL_ONCE_ENV = "INFOMAX_FAIL_ONCE"
MARKER_ENV = "INFOMAX_FAIL_MARKER"


class InjectedFault(RuntimeError):
  """The failure a test asked for."""


def maybe_fail(run_name: str, step: int) -> None:
  spec = os.environ.get(FAIL_ONCE_ENV)
  marker = os.environ.get(MARKER_ENV)
  if not spec or not marker:
    return
  target, _, at_step = spec.rpartition("@")
  if target not in run_name or int(at_step) != step:
    return
  if tf.io.gfile.exists(marker):
    return  # Already failed once.
  with tf.io.gfile.GFile(marker, "w") as f:
    f.write(f"{run_name}@{step}\n")
  raise InjectedFault(f"injected failure in {run_name} at step {step}")
