"""Artifact I/O through `tf.io.gfile`: atomic writes, JSON, writable workdirs.

Every artifact is written to a temporary sibling and renamed into place, so a
reader (or a rerun after SIGKILL) sees either the old file or the new one, never
half of one. `tf.io.gfile` lets the workdir live on any filesystem TensorFlow
supports (local, GCS, HDFS).
"""

import json
import os
import uuid

import tensorflow as tf

from infomax_tf import errors


def _temporary_sibling(path: str) -> str:
  head, tail = os.path.split(path)
  return os.path.join(head, f".{tail}.tmp-{uuid.uuid4().hex[:8]}")


def atomic_write(path: str, content) -> None:
  """Writes str or bytes to `path` via a temporary sibling and a rename;
  creates the parent directory if needed."""
  makedirs(os.path.dirname(path))
  tmp = _temporary_sibling(path)
  try:
    with tf.io.gfile.GFile(tmp, "wb" if isinstance(content, bytes) else "w") \
        as f:
      f.write(content)
    tf.io.gfile.rename(tmp, path, overwrite=True)
  finally:
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.remove(tmp)


def makedirs(path: str) -> None:
  if path:
    tf.io.gfile.makedirs(path)


def atomic_write_text(path: str, text: str) -> None:
  atomic_write(path, text)


def write_json(path: str, obj) -> None:
  """Atomically writes `obj` as indented, key-sorted, strict JSON (NaN is an
  error, not an unreadable token)."""
  atomic_write(path, json.dumps(obj, indent=2, sort_keys=True,
                                allow_nan=False) + "\n")


def read_json(path: str):
  with tf.io.gfile.GFile(path, "r") as f:
    return json.load(f)


def ensure_writable_dir(path: str) -> str:
  """Creates `path` if needed and checks that files can be written in it.

  Raises:
    WorkdirError: `path` is a file, or cannot be created or written.
  """
  if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
    raise errors.WorkdirError(f"workdir {path!r} exists and is not a directory")
  try:
    tf.io.gfile.makedirs(path)
    probe = _temporary_sibling(os.path.join(path, "write-check"))
    with tf.io.gfile.GFile(probe, "w") as f:
      f.write("")
    tf.io.gfile.remove(probe)
  except (tf.errors.OpError, OSError) as e:
    raise errors.WorkdirError(f"workdir {path!r} is not writable: {e}") from None
  return path
