"""What a run leaves behind, and how a rerun finds it.

A *run* is one configuration with one seed, in its own directory:

  config.json     the final config (plus seed), written at the start
  metrics.jsonl   one JSON record per evaluation, rewritten atomically each time
  result.json     written last: the run is complete and is not retrained
  events.*        TensorBoard scalars, histograms, images and HParams

Runs trained together (several seeds in one compiled program) share one
checkpoint directory beside them; see `GroupCheckpoint`.
"""

import json
import math
import os
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from infomax_tf import errors
from infomax_tf import fileio

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
RESULT_FILE = "result.json"


def _jsonable(value):
  if isinstance(value, (np.floating, np.integer)):
    value = value.item()
  if isinstance(value, float) and not math.isfinite(value):
    return None  # JSON has no NaN; a missing value reads as null.
  return value


class RunRecorder:
  """Config, evaluation records, completion marker and TensorBoard of a run."""

  def __init__(self, run_dir: str):
    self.run_dir = run_dir
    self.records: list[dict[str, Any]] = []
    self._writer = None

  # -- files ----------------------------------------------------------------

  def path(self, name: str) -> str:
    return os.path.join(self.run_dir, name)

  def is_complete(self) -> bool:
    return tf.io.gfile.exists(self.path(RESULT_FILE))

  def read_result(self) -> dict[str, Any]:
    return fileio.read_json(self.path(RESULT_FILE))

  def start(self, config: dict[str, Any],
            resumed_step: Optional[int]) -> None:
    """Creates the run directory and writes the config.

    Args:
      config: the run's configuration, as JSON.
      resumed_step: the step of the restored checkpoint, or None for a fresh
        start. A record is written before its checkpoint, so the records up to
        and including that step are kept; later ones are redone.
    """
    fileio.ensure_writable_dir(self.run_dir)
    fileio.write_json(self.path(CONFIG_FILE), config)
    self.records = ([] if resumed_step is None else
                    [r for r in read_records(self.run_dir)
                     if r["step"] <= resumed_step])

  def add_record(self, record: dict[str, Any]) -> None:
    self.records.append({k: _jsonable(v) for k, v in record.items()})
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in self.records)
    fileio.atomic_write_text(self.path(METRICS_FILE), text)

  def finish(self, extra: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    result = {"final": self.records[-1], "n_records": len(self.records)}
    result.update(extra or {})
    fileio.write_json(self.path(RESULT_FILE), result)
    self.close()
    return result

  # -- TensorBoard ----------------------------------------------------------

  @property
  def writer(self):
    if self._writer is None:
      self._writer = tf.summary.create_file_writer(self.run_dir)
    return self._writer

  def hparams(self, values: dict[str, Any]) -> None:
    with self.writer.as_default():
      hparams_api.hparams({k: v for k, v in values.items() if v is not None})

  def scalars(self, step: int, values: dict[str, Any]) -> None:
    with self.writer.as_default(step=step):
      for name, value in values.items():
        if value is not None and math.isfinite(value):
          tf.summary.scalar(name, value)

  def histogram(self, step: int, name: str, values) -> None:
    with self.writer.as_default(step=step):
      tf.summary.histogram(name, values)

  def images(self, step: int, name: str, images, max_outputs: int = 4) -> None:
    with self.writer.as_default(step=step):
      tf.summary.image(name, images, max_outputs=max_outputs)

  def flush(self) -> None:
    if self._writer is not None:
      self._writer.flush()

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()
      self._writer = None


def read_records(run_dir: str) -> list[dict[str, Any]]:
  """The evaluation records of a run (empty if it has none yet)."""
  path = os.path.join(run_dir, METRICS_FILE)
  if not tf.io.gfile.exists(path):
    return []
  with tf.io.gfile.GFile(path) as f:
    return [json.loads(line) for line in f if line.strip()]


class GroupCheckpoint:
  """One checkpoint for runs trained together, saved at every evaluation.

  Holds each run's trackables (encoders, critic, optimizer) and the shared
  step. Data position and noise are stateless functions of (seed, step), so
  the step is all the input-pipeline state there is.
  """

  def __init__(self, directory: str, trackables: dict[str, Any],
               step: tf.Variable, max_to_keep: int = 2):
    self.step = step
    self.checkpoint = tf.train.Checkpoint(step=step, **trackables)
    self.manager = tf.train.CheckpointManager(self.checkpoint, directory,
                                              max_to_keep=max_to_keep)

  def restore_latest(self) -> Optional[int]:
    """Restores the latest checkpoint; returns its step (None if none)."""
    latest = self.manager.latest_checkpoint
    if latest is None:
      return None
    try:
      self.checkpoint.restore(latest).assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
      raise errors.WorkdirError(
          f"checkpoint {latest} does not match this configuration ({e}); "
          "rerun with --force to start over") from None
    return int(self.step.numpy())

  def save(self) -> str:
    return self.manager.save(checkpoint_number=int(self.step.numpy()))


def groups_complete(run_dirs: Sequence[str]) -> bool:
  return all(RunRecorder(d).is_complete() for d in run_dirs)


def flatten_scalars(prefix: str, values: Iterable[tuple[str, Any]]):
  return {f"{prefix}/{k}": v for k, v in values}
