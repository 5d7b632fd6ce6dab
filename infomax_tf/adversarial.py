"""The adversarial stage of the paper's Fig. 1c.

An invertible encoder g1 (so I(x; g1(x)) is maximal throughout) is trained to
make its code useless to a linear classifier:

  1. warm-up: a linear classifier (10 logits) on g1's code is trained with the
     true labels (Adam, lr 1e-3) while g1 stays fixed;
  2. each iteration: `classifier_steps` classifier steps with the true labels
     (lr 1e-3), then one encoder step that minimises the cross-entropy between
     the classifier's prediction and the uniform label distribution (lr 1e-5).

Every `eval_every` iterations the linear probe (`probe.py`) measures how much
label information a *fresh* linear classifier can still read from g1's code,
and the inverse error checks that g1 stayed invertible.
"""

import dataclasses
import time
from typing import Any, Optional, Sequence

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from infomax_tf import data as data_lib
from infomax_tf import diagnostics
from infomax_tf import errors
from infomax_tf import probe
from infomax_tf import tracking
from infomax_tf import train

NUM_CLASSES = 10


@dataclasses.dataclass(frozen=True)
class AdversarialConfig:
  """The paper's fig1c settings by default (4,000 iterations after warm-up)."""
  encoder: train.EncoderConfig = train.EncoderConfig("realnvp_affine")
  warmup_steps: int = 1000
  iterations: int = 4000
  classifier_steps: int = 10
  classifier_learning_rate: float = 1e-3
  encoder_learning_rate: float = 1e-5
  eval_every: int = 400
  batch_size: int = 128
  eval_batch_size: int = 512
  jit_compile: bool = True

  def validate(self, n_train: int) -> None:
    if self.iterations < 1 or self.warmup_steps < 0:
      raise errors.ConfigError(
          f"iterations must be >= 1 and warm-up >= 0; got {self.iterations}, "
          f"{self.warmup_steps}")
    if not 1 <= self.eval_every <= self.iterations:
      raise errors.ConfigError(f"eval_every must be in [1, iterations="
                               f"{self.iterations}]; got {self.eval_every}")
    if self.classifier_steps < 1:
      raise errors.ConfigError("classifier_steps must be >= 1")
    if not 2 <= self.batch_size <= n_train:
      raise errors.ConfigError(f"batch size must be in [2, {n_train}]; got "
                               f"{self.batch_size}")

  def eval_iterations(self) -> list[int]:
    points = list(range(0, self.iterations + 1, self.eval_every))
    if points[-1] != self.iterations:
      points.append(self.iterations)
    return points

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


def uniform_cross_entropy(logits: tf.Tensor) -> tf.Tensor:
  """Cross-entropy between softmax(logits) and the uniform distribution."""
  return -tf.reduce_mean(tf.nn.log_softmax(logits))


def _classifier_batches(x: np.ndarray, y: np.ndarray, batch_size: int,
                        seed: int, start_batch: int, per_element: int):
  """Elements of `per_element` consecutive training batches, stacked."""
  x, y = tf.constant(x, tf.float32), tf.constant(y, tf.int64)
  indices = data_lib.batch_indices(len(x), batch_size, seed,
                                   start_step=start_batch)
  return (indices.batch(per_element, drop_remainder=True)
          .map(lambda idx: (tf.gather(x, idx), tf.gather(y, idx)))
          .prefetch(tf.data.AUTOTUNE))


class _Stage:
  """Models, optimisers and compiled steps of one seed."""

  def __init__(self, config: AdversarialConfig, views: data_lib.Views,
               seed: int):
    dim = views.view_dim
    self.encoder = config.encoder.build(dim, views.view_shape,
                                        seed=1000 * seed + 1)
    if not hasattr(self.encoder, "inverse"):
      raise errors.ConfigError(
          f"the adversarial stage needs an invertible encoder; "
          f"{config.encoder.name} is not")
    self.classifier = keras.layers.Dense(
        NUM_CLASSES, kernel_initializer=keras.initializers.GlorotUniform(
            seed=1000 * seed + 4))
    self.classifier(self.encoder(tf.zeros([2, dim])))
    self.classifier_optimizer = keras.optimizers.Adam(
        config.classifier_learning_rate)
    self.classifier_optimizer.build(self.classifier.trainable_variables)
    self.encoder_optimizer = keras.optimizers.Adam(config.encoder_learning_rate)
    self.encoder_optimizer.build(self.encoder.trainable_variables)
    self.iteration = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.steps_per_iteration = config.classifier_steps + 1

    def classifier_steps(xs, ys):
      # The code does not depend on the classifier: encode all batches at once.
      codes = tf.stop_gradient(self.encoder(tf.reshape(xs, [-1, dim])))
      codes = tf.reshape(codes, tf.concat([tf.shape(xs)[:2], [-1]], 0))
      loss = tf.constant(0.0)
      for i in range(codes.shape[0]):  # Few steps: unrolled.
        with tf.GradientTape() as tape:
          logits = self.classifier(codes[i])
          loss = tf.reduce_mean(
              tf.nn.sparse_softmax_cross_entropy_with_logits(ys[i], logits))
        grads = tape.gradient(loss, self.classifier.trainable_variables)
        self.classifier_optimizer.apply_gradients(
            zip(grads, self.classifier.trainable_variables))
      return loss

    def encoder_step(x):
      with tf.GradientTape() as tape:
        loss = uniform_cross_entropy(self.classifier(self.encoder(x)))
      grads = tape.gradient(loss, self.encoder.trainable_variables)
      self.encoder_optimizer.apply_gradients(
          zip(grads, self.encoder.trainable_variables))
      return loss

    def iteration(xs, ys):
      classifier_loss = classifier_steps(xs[:-1], ys[:-1])
      encoder_loss = encoder_step(xs[-1])
      self.iteration.assign_add(1)
      return tf.stack([classifier_loss, encoder_loss])

    jit = config.jit_compile
    self.warmup = tf.function(classifier_steps, jit_compile=jit)
    self.step = tf.function(iteration, jit_compile=jit)
    spec = tf.TensorSpec([None, dim], tf.float32)
    self.encode = tf.function(lambda x: self.encoder(x), input_signature=[spec],
                              jit_compile=jit)

  def trackables(self) -> tf.train.Checkpoint:
    return tf.train.Checkpoint(
        encoder=self.encoder, classifier=self.classifier,
        classifier_optimizer=self.classifier_optimizer,
        encoder_optimizer=self.encoder_optimizer)

  def codes(self, x: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate([self.encode(x[i:i + batch]).numpy()
                           for i in range(0, len(x), batch)])


def run_adversarial(config: AdversarialConfig, views: data_lib.Views,
                    seeds: Sequence[int], run_dirs: Sequence[str],
                    checkpoint_dirs: Sequence[str],
                    tags: Optional[dict[str, Any]] = None,
                    name: str = "fig1c") -> list[list[dict[str, Any]]]:
  """Runs the adversarial stage for each seed (resuming where it stopped).

  Returns:
    Per seed, the evaluation records {"step" (iteration), "accuracy",
    "inverse_error", "classifier_loss", "encoder_loss", ...}.
  """
  config.validate(views.n_train)
  data_lib.check_finite(views)
  tf.config.experimental.enable_op_determinism()
  results = []
  for seed, run_dir, checkpoint_dir in zip(seeds, run_dirs, checkpoint_dirs):
    recorder = tracking.RunRecorder(run_dir)
    if recorder.is_complete():
      results.append(tracking.read_records(run_dir))
      continue
    results.append(_run_one(config, views, seed, recorder, checkpoint_dir,
                            tags or {}, name))
  return results


def _run_one(config, views, seed, recorder, checkpoint_dir, tags, name):
  stage = _Stage(config, views, seed)
  checkpoint = tracking.GroupCheckpoint(
      checkpoint_dir, {"stage": stage.trackables()}, stage.iteration)
  # A checkpoint exists only after warm-up (iteration 0 is saved then).
  resumed_step = checkpoint.restore_latest()
  resumed = resumed_step is not None
  start = resumed_step or 0
  recorder.start(dict(config.to_dict(), seed=seed, **tags), resumed_step)
  if not resumed:
    recorder.hparams({"encoder": config.encoder.name, "stage": "adversarial",
                      "seed": seed, **tags})

  # One stream of training batches: warm-up first, then the iterations.
  per_iteration = stage.steps_per_iteration
  x1_train, y_train = views.x1_train, views.y_train
  if not resumed:
    tick = time.perf_counter()
    chunk = config.classifier_steps
    warmup = iter(_classifier_batches(x1_train, y_train, config.batch_size,
                                      seed, 0, per_element=chunk))
    for done in range(0, config.warmup_steps, chunk):
      xs, ys = next(warmup)
      n = min(chunk, config.warmup_steps - done)
      stage.warmup(xs[:n], ys[:n])
    logging.info("%s seed %d: classifier warm-up took %.1f s", name, seed,
                 time.perf_counter() - tick)
  batches = iter(_classifier_batches(
      x1_train, y_train, config.batch_size, seed,
      start_batch=config.warmup_steps + start * per_iteration,
      per_element=per_iteration))

  it = start
  # The restored iteration's evaluation is already recorded.
  for eval_it in [i for i in config.eval_iterations()
                  if i > start or not resumed]:
    tick = time.perf_counter()
    losses = [stage.step(*next(batches)).numpy() for _ in range(eval_it - it)]
    train_seconds = time.perf_counter() - tick
    it = eval_it
    if losses and not np.all(np.isfinite(losses)):
      raise errors.TrainingError(
          f"{name} seed {seed}: non-finite loss before iteration {it}; the "
          "last good checkpoint is kept")
    tick = time.perf_counter()
    train_codes = stage.codes(views.x1_train, config.eval_batch_size)
    test_codes = stage.codes(views.x1_test, config.eval_batch_size)
    record = {
        "step": it,
        "accuracy": probe.linear_probe_accuracy(
            train_codes, views.y_train, test_codes, views.y_test),
        "inverse_error": diagnostics.invertibility_error(
            stage.encoder, views.x1_test[:config.eval_batch_size]),
        "classifier_loss": float(np.mean([l[0] for l in losses]))
                           if losses else None,
        "encoder_loss": float(np.mean([l[1] for l in losses]))
                        if losses else None,
        "train_seconds": train_seconds,
        "eval_seconds": time.perf_counter() - tick,
    }
    recorder.scalars(it, {"probe/accuracy": record["accuracy"],
                          "diagnostics/inverse_error": record["inverse_error"],
                          "adversarial/classifier_loss":
                              record["classifier_loss"],
                          "adversarial/encoder_loss": record["encoder_loss"]})
    recorder.histogram(it, "codes/test_z1", test_codes)
    recorder.add_record(record)
    recorder.flush()
    checkpoint.save()
    logging.info("%s seed %d iteration %d: accuracy %.4f, inverse error %.1e",
                 name, seed, it, record["accuracy"], record["inverse_error"])
  recorder.finish()
  return list(recorder.records)
