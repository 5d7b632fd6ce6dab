"""Process start-up for the command-line entry points.

TensorFlow's C++ runtime prints start-up chatter (oneDNN notes, CUDA probes on
machines without a GPU) before absl logging is initialised, so
TF_CPP_MIN_LOG_LEVEL cannot hide it and it buries the one line a user needs
when a flag is wrong. The entry points import TensorFlow here with stderr
pointed at /dev/null; a failing import still raises (after stderr is back).
Set INFOMAX_SHOW_TF_STARTUP=1 to see the chatter.
"""

import os
import sys

SHOW_ENV = "INFOMAX_SHOW_TF_STARTUP"


def import_tensorflow_quietly() -> None:
  if "tensorflow" in sys.modules or os.environ.get(SHOW_ENV):
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.list_physical_devices()  # Device probing prints here too.
  finally:
    os.dup2(saved, 2)
    os.close(devnull)
    os.close(saved)
