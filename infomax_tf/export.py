"""Exports a trained encoder as a self-contained TensorFlow SavedModel.

Signatures:

* `serving_default`: x (float32 [None, input_dim]) -> {"z": codes}.
* `inverse` (invertible encoders only): z (float32 [None, input_dim]) ->
  {"x": views}.

Loading needs TensorFlow only (no infomax_tf, no tfp):

    model = tf.saved_model.load(path)
    z = model.signatures["serving_default"](x=x)["z"]

Writes are atomic in the sense that matters: the SavedModel is written to a
hidden temporary sibling and only then moved into place, so a half-written
export never replaces a good one. An existing export is moved aside to
`.<name>.previous` first, moved back if the new one cannot be moved in, and
restored by the next `export_encoder` call after a crash between the two
renames. All I/O goes through tf.io.gfile (local disk, GCS, HDFS). One writer
per target path at a time.
"""

import os
import uuid
from typing import Any, Optional

import tensorflow as tf

from infomax_tf import encoders as encoders_lib
from infomax_tf import faults

SERVING_SIGNATURE = "serving_default"
INVERSE_SIGNATURE = "inverse"


class _EncoderModule(tf.Module):
  """Holds the encoder (its variables) and the signature functions."""

  def __init__(self, encoder: Any, input_dim: int, invertible: bool):
    super().__init__(name="encoder_export")
    self.encoder = encoder
    self.forward = tf.function(
        lambda x: {"z": encoder(x)},
        input_signature=[tf.TensorSpec([None, input_dim], tf.float32, "x")])
    if invertible:
      self.inverse = tf.function(
          lambda z: {"x": encoder.inverse(z)},
          input_signature=[tf.TensorSpec([None, input_dim], tf.float32, "z")])


def _input_dim(encoder: Any, input_dim: Optional[int]) -> int:
  if input_dim is not None:
    return int(input_dim)
  if getattr(encoder, "input_dim", None) is None:
    raise ValueError("Cannot tell the encoder's input size: pass input_dim.")
  return int(encoder.input_dim)


def _aside_path(target: str) -> str:
  head, name = os.path.split(target)
  return os.path.join(head, f".{name}.previous")


def _recover(target: str) -> None:
  """Undoes a crash between the two renames: restores or drops the old copy."""
  aside = _aside_path(target)
  if not tf.io.gfile.exists(aside):
    return
  if tf.io.gfile.exists(target):
    tf.io.gfile.rmtree(aside)  # The new export made it in.
  else:
    tf.io.gfile.rename(aside, target)


def _move_into_place(staged: str, target: str) -> None:
  """Moves the complete export `staged` to `target`, replacing any export:
  the old one goes aside first and comes back if the move fails."""
  if not tf.io.gfile.exists(target):
    tf.io.gfile.rename(staged, target)
    return
  aside = _aside_path(target)
  tf.io.gfile.rename(target, aside)
  try:
    tf.io.gfile.rename(staged, target)
  except BaseException:
    tf.io.gfile.rename(aside, target)
    raise
  tf.io.gfile.rmtree(aside)


def export_encoder(encoder: Any,
                   export_dir: str,
                   input_dim: Optional[int] = None) -> str:
  """Saves `encoder` as a SavedModel at `export_dir`, atomically.

  Args:
    encoder: a Keras encoder (or any trackable callable); an invertible one
      (see `encoders.is_invertible`) also gets the `inverse` signature.
    export_dir: target directory; an existing export there is replaced only
      once the new one is completely written.
    input_dim: view size; defaults to `encoder.input_dim`.

  Returns:
    The absolute path of the export.

  Raises:
    ValueError: if the input size is unknown.
    Any error from tracing or saving; the target is then left untouched.
  """
  input_dim = _input_dim(encoder, input_dim)
  invertible = encoders_lib.is_invertible(encoder)
  target = str(export_dir)
  if "://" not in target:
    target = os.path.abspath(target)
  parent, name = os.path.split(target)
  tf.io.gfile.makedirs(parent)
  _recover(target)
  # Staging directories of exports killed midway (one writer per target).
  for stale in tf.io.gfile.glob(os.path.join(parent, f".{name}.tmp-*")):
    tf.io.gfile.rmtree(stale)

  module = _EncoderModule(encoder, input_dim, invertible)
  signatures = {SERVING_SIGNATURE: module.forward}
  if invertible:
    signatures[INVERSE_SIGNATURE] = module.inverse
  staged = os.path.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:8]}")
  try:
    tf.saved_model.save(module, staged, signatures=signatures)
    faults.maybe_kill("export")  # Reliability tests: killed while staged.
    _move_into_place(staged, target)
  finally:
    if tf.io.gfile.exists(staged):
      tf.io.gfile.rmtree(staged)
  return target
