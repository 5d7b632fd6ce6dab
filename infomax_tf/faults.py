"""Fault injection for reliability tests; inert unless its variables are set.

  INFOMAX_FAIL_ONCE="<run name substring>@<step>"
  INFOMAX_FAIL_MARKER=<path of a file that records that the fault fired>

make the first run whose name contains the substring raise `InjectedFault`
right after its checkpoint at that step — once across all processes (the
marker file says it already happened), as a crashed worker would. The rerun or
retry must then resume from that checkpoint.

  INFOMAX_KILL_AT=<point>   (with INFOMAX_FAIL_MARKER)

makes the process SIGKILL itself the first time it reaches `point` — for
moments too brief for a test to hit from outside (an export being staged).
"""

import os
import signal

import tensorflow as tf

FAIL_ONCE_ENV = "INFOMAX_FAIL_ONCE"
MARKER_ENV = "INFOMAX_FAIL_MARKER"
KILL_AT_ENV = "INFOMAX_KILL_AT"


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
  if _fire_once(marker, f"{run_name}@{step}"):
    raise InjectedFault(f"injected failure in {run_name} at step {step}")


def _fire_once(marker: str, what: str) -> bool:
  """Records `what` in the marker; False if a fault already fired."""
  if tf.io.gfile.exists(marker):
    return False
  with tf.io.gfile.GFile(marker, "w") as f:
    f.write(what + "\n")
  return True


def maybe_kill(point: str) -> None:
  marker = os.environ.get(MARKER_ENV)
  if (marker and os.environ.get(KILL_AT_ENV) == point and
      _fire_once(marker, point)):
    os.kill(os.getpid(), signal.SIGKILL)
