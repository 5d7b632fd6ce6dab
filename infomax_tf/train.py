"""The InfoMax training engine.

Two encoders g1, g2 map the two views to codes; a critic scores every pair of
a batch; a bound turns the K×K scores into an MI estimate I_EST. The objective
is −I_EST, or the paper's target loss L_t = |I_EST − t| (Sec. 3.3).

Several seeds of one configuration train together: one compiled step updates
every seed's models on that seed's own batch, so S seeds cost one program call
per step instead of S. A seed's numbers do not depend on which other seeds
share its program (to float tolerance; tested).

Evaluations happen at step 0 and `n_evals` more times. Each records, per seed:
the objective and I_EST on a fixed slice of the training set, test I_EST
averaged over the test set in batches, the linear-probe accuracy of g1's codes,
and, when asked, Jacobian log-condition percentiles of g1 and the inverse error
of invertible encoders. A checkpoint follows every evaluation; rerunning the
same call resumes from it, and gives the same final metrics as an
uninterrupted run.
"""

import concurrent.futures
import contextlib
import dataclasses
import math
import os
import sys
import time
from typing import Any, Optional, Sequence

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from infomax_tf import config as config_lib
from infomax_tf import critics as critics_lib
from infomax_tf import data as data_lib
from infomax_tf import diagnostics
from infomax_tf import encoders as encoders_lib
from infomax_tf import errors
from infomax_tf import estimators
from infomax_tf import faults
from infomax_tf import metric_learning
from infomax_tf import probe
from infomax_tf import tracking

LOSSES = ("bound", "kpair", "triplet")
PRECISIONS = config_lib.PRECISIONS

# Training-set slice (in evaluation batches) on which train I_EST is measured
# at every evaluation: enough to see overfitting, cheap enough to stay a small
# fraction of a run (the probe already encodes the whole training set).
MAX_TRAIN_EVAL_BATCHES = 2


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  """An encoder of `encoders.build_encoder`; None fields keep its defaults."""
  name: str = "mlp"
  layer_sizes: Optional[tuple[int, ...]] = None  # mlp, mlp_skip
  num_layers: Optional[int] = None  # mlp_skip: layers as wide as the view
  kernel_init_sd: Optional[float] = None
  num_couplings: Optional[int] = None  # realnvp*
  hidden_sizes: Optional[tuple[int, ...]] = None  # realnvp*
  output_dim: Optional[int] = None  # convnet

  def build(self, input_dim: int, view_shape, seed: int) -> keras.Model:
    kwargs = {k: v for k, v in dataclasses.asdict(self).items()
              if k not in ("name", "num_layers") and v is not None}
    if self.num_layers is not None:
      kwargs["layer_sizes"] = (input_dim,) * self.num_layers
    for key in ("layer_sizes", "hidden_sizes"):
      if key in kwargs:
        kwargs[key] = list(kwargs[key])
    if self.name == "convnet":
      kwargs["image_shape"] = tuple(view_shape)
    try:
      return encoders_lib.build_encoder(self.name, input_dim, seed=seed,
                                        **kwargs)
    except ValueError as e:
      raise errors.ConfigError(f"encoder {self.name}: {e}") from None


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """One InfoMax configuration (the seed is not part of it)."""
  encoder: EncoderConfig = EncoderConfig()
  critic: str = "bilinear"
  critic_hidden_units: Optional[tuple[int, ...]] = None
  bound: str = "nce"
  target: Optional[float] = None  # Train with |I_EST - target| instead.
  # "bound": minimise -I_EST (or L_t); "kpair" / "triplet": minimise that
  # metric-learning loss of the codes instead (claim 4). I_EST is still
  # computed from the critic's scores, for monitoring and evaluation.
  loss: str = "bound"
  triplet_margin: float = 1.0
  steps: int = 1000
  n_evals: int = 10
  batch_size: int = 128
  learning_rate: float = 1e-4
  eval_batch_size: int = 512
  noise_sd: float = 0.0  # Fresh noise per training step; fixed for evaluation.
  jacobian: bool = False
  jacobian_batch: int = 128  # Training examples whose Jacobians are measured.
  probe: bool = True
  jit_compile: bool = True
  # "mixed_bfloat16": bf16 compute, float32 weights and bounds (Keras dtype
  # policy), for encoders and critics without Jacobians or inverses.
  precision: str = "float32"

  def validate(self, n_train: int, n_test: int) -> None:
    """Raises ConfigError for settings that cannot run or cannot be met."""
    if self.steps < 1:
      raise errors.ConfigError(f"steps must be >= 1; got {self.steps}")
    if not 1 <= self.n_evals <= self.steps:
      raise errors.ConfigError(
          f"n_evals must be in [1, steps={self.steps}]; got {self.n_evals}")
    if self.batch_size < 2:
      raise errors.ConfigError(
          f"batch size must be >= 2 (a bound needs negatives); got "
          f"{self.batch_size}")
    if self.batch_size > n_train:
      raise errors.ConfigError(f"batch size {self.batch_size} exceeds the "
                               f"{n_train} training examples")
    if not 2 <= self.eval_batch_size <= n_test:
      raise errors.ConfigError(
          f"evaluation batch size must be in [2, {n_test}] (the test set); "
          f"got {self.eval_batch_size}")
    if self.learning_rate <= 0:
      raise errors.ConfigError(
          f"learning rate must be > 0; got {self.learning_rate}")
    if self.noise_sd < 0:
      raise errors.ConfigError(f"noise sd must be >= 0; got {self.noise_sd}")
    try:
      bound = estimators.canonical_name(self.bound)
      critics_lib.get_critic(self.critic)
    except ValueError as e:
      raise errors.ConfigError(str(e)) from None
    if self.loss not in LOSSES:
      raise errors.ConfigError(
          f"unknown loss {self.loss!r}; known: {', '.join(LOSSES)}")
    if self.loss != "bound" and self.target is not None:
      raise errors.ConfigError("a target t applies to the bound loss only")
    if self.precision not in PRECISIONS:
      raise errors.ConfigError(f"unknown precision {self.precision!r}; known: "
                               f"{', '.join(PRECISIONS)}")
    if self.precision != "float32" and (
        self.jacobian or self.encoder.name.startswith("realnvp")):
      raise errors.ConfigError(
          "mixed precision is for encoders without Jacobian diagnostics or "
          "inverses; it would blur exactly what those measure")
    if self.target is not None and bound == "nce":
      ceiling = math.log(self.batch_size)
      if self.target >= ceiling:
        raise errors.ConfigError(
            f"target t={self.target} cannot be reached: I_NCE <= log K = "
            f"{ceiling:.3f} at batch size {self.batch_size}")

  def eval_steps(self) -> list[int]:
    """Step 0, then `n_evals` evenly spaced steps ending at `steps`."""
    return sorted({round(i * self.steps / self.n_evals)
                   for i in range(self.n_evals + 1)})

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


@contextlib.contextmanager
def _dtype_policy(name: str):
  """Layers built inside use this Keras dtype policy."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(name)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


class Trainee:
  """One seed's models and optimiser."""

  def __init__(self, config: TrainConfig, views: data_lib.Views, seed: int):
    self.seed = seed
    dim = views.view_dim
    with _dtype_policy(config.precision):
      # Distinct, seed-derived initialisations for the three networks.
      self.g1 = config.encoder.build(dim, views.view_shape,
                                     seed=1000 * seed + 1)
      self.g2 = config.encoder.build(views.x2_train.shape[1], views.view_shape,
                                     seed=1000 * seed + 2)
      critic_kwargs = {}
      if config.critic_hidden_units is not None:
        critic_kwargs["hidden_units"] = tuple(config.critic_hidden_units)
      self.critic = critics_lib.get_critic(
          config.critic, seed=1000 * seed + 3, **critic_kwargs)
    probe_x = tf.zeros([2, dim])
    self.critic(self.g1(probe_x), self.g2(tf.zeros([2, views.x2_train.shape[1]])))
    self.variables = (self.g1.trainable_variables +
                      self.g2.trainable_variables +
                      self.critic.trainable_variables)
    self.optimizer = keras.optimizers.Adam(config.learning_rate)
    self.optimizer.build(self.variables)
    self.invertible = encoders_lib.is_invertible(self.g1)

  def trackables(self) -> tf.train.Checkpoint:
    return tf.train.Checkpoint(g1=self.g1, g2=self.g2, critic=self.critic,
                               optimizer=self.optimizer)


def _group_checkpoint(trainees: Sequence[Trainee],
                      checkpoint_dir: str) -> tracking.GroupCheckpoint:
  step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  return tracking.GroupCheckpoint(
      checkpoint_dir, {f"seed_{t.seed}": t.trackables() for t in trainees},
      step)


def restore_trainees(config: TrainConfig, views: data_lib.Views,
                     seeds: Sequence[int],
                     checkpoint_dir: str) -> list[Trainee]:
  """The models of a group as of its latest checkpoint (e.g. to export)."""
  trainees = [Trainee(config, views, seed) for seed in seeds]
  if _group_checkpoint(trainees, checkpoint_dir).restore_latest() is None:
    raise errors.WorkdirError(f"no checkpoint in {checkpoint_dir}")
  return trainees


def objective(mi: tf.Tensor, target: Optional[float]) -> tf.Tensor:
  """The loss to minimise: −I_EST, or |I_EST − t| (the paper's L_t)."""
  return -mi if target is None else tf.abs(mi - target)


def training_loss(config: TrainConfig, bound, z1: tf.Tensor, z2: tf.Tensor,
                  scores: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """(loss, I_EST) of a batch under the configured objective."""
  # Bounds and losses in float32, whatever the compute precision.
  z1, z2, scores = (tf.cast(t, tf.float32) for t in (z1, z2, scores))
  mi = bound(scores)
  if config.loss == "kpair":
    return metric_learning.k_pair_mc_loss(z1, z2), mi
  if config.loss == "triplet":
    return metric_learning.triplet_loss(z1, z2, config.triplet_margin), mi
  return objective(mi, config.target), mi


def make_train_step(trainees: Sequence[Trainee], config: TrainConfig):
  """One compiled step for every seed: (batches per seed) -> [S, 2] of
  (loss, I_EST)."""
  bound = estimators.get_estimator(config.bound)

  def step(batches):
    results = []
    for trainee, (x1, x2) in zip(trainees, batches):
      with tf.GradientTape() as tape:
        z1 = trainee.g1(x1, training=True)
        z2 = trainee.g2(x2, training=True)
        loss, mi = training_loss(config, bound, z1, z2, trainee.critic(z1, z2))
      grads = tape.gradient(loss, trainee.variables)
      trainee.optimizer.apply_gradients(zip(grads, trainee.variables))
      results.append(tf.stack([loss, mi]))
    return tf.stack(results)

  return tf.function(step, jit_compile=config.jit_compile)


class _Evaluator:
  """Everything measured at an evaluation, for one seed."""

  def __init__(self, trainee: Trainee, config: TrainConfig,
               views: data_lib.Views):
    self.trainee = trainee
    self.config = config
    seed = trainee.seed
    # Fixed evaluation noise (fig2 evaluates on noisy views too).
    noisy = lambda x, i: data_lib.add_gaussian_noise(x, config.noise_sd,
                                                     [seed, 100 + i])
    self.x1_train, self.x2_train = noisy(views.x1_train, 0), noisy(
        views.x2_train, 1)
    self.x1_test, self.x2_test = noisy(views.x1_test, 2), noisy(views.x2_test, 3)
    self.y_train, self.y_test = views.y_train, views.y_test
    self.view, self.view_shape = views.view, views.view_shape
    k = config.eval_batch_size
    n_train_eval = min(len(self.x1_train) // k, MAX_TRAIN_EVAL_BATCHES) * k
    self.train_slice = n_train_eval  # May be 0 for tiny training sets.
    self.diag_batch = self.x1_train[:config.jacobian_batch]
    eval_bound = estimators.evaluation_estimator(config.bound)
    # Known view sizes: flows need a static last dimension.
    spec1 = tf.TensorSpec([None, self.x1_test.shape[1]], tf.float32)
    spec2 = tf.TensorSpec([None, self.x2_test.shape[1]], tf.float32)

    @tf.function(input_signature=[spec1, spec2],
                 jit_compile=config.jit_compile)
    def batch_bound(x1, x2):
      z1, z2 = trainee.g1(x1), trainee.g2(x2)
      return tf.stack(training_loss(config, eval_bound, z1, z2,
                                    trainee.critic(z1, z2)))

    @tf.function(input_signature=[spec1], jit_compile=config.jit_compile)
    def encode(x):
      return tf.cast(trainee.g1(x), tf.float32)

    self._batch_bound = batch_bound
    self._encode = encode
    self._singular_values = (
        diagnostics.make_singular_values_fn(trainee.g1)
        if config.jacobian else None)

  def view_pair_images(self, count: int = 4) -> np.ndarray:
    """A few test images reassembled from their two views, with a divider."""
    shape = (count,) + tuple(self.view_shape)
    first = self.x1_test[:count].reshape(shape)
    second = self.x2_test[:count].reshape(shape)
    axis = 1 if self.view == "top_bottom" else 2
    divider_shape = list(shape)
    divider_shape[axis] = 1
    divider = np.ones(divider_shape, np.float32)
    return np.clip(np.concatenate([first, divider, second], axis=axis), 0, 1)

  def _mean_bound(self, x1, x2) -> tuple[float, float]:
    k = self.config.eval_batch_size
    values = [self._batch_bound(x1[i:i + k], x2[i:i + k]).numpy()
              for i in range(0, len(x1) - k + 1, k)]
    loss, mi = np.mean(values, axis=0)
    return float(loss), float(mi)

  def codes(self, x) -> np.ndarray:
    k = self.config.eval_batch_size
    return np.concatenate([self._encode(x[i:i + k]).numpy()
                           for i in range(0, len(x), k)])

  def evaluate(self) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (record, extras): JSON scalars and arrays for TensorBoard."""
    record, extras = {}, {}
    test_loss, test_mi = self._mean_bound(self.x1_test, self.x2_test)
    record.update(test_loss=test_loss, test_mi=test_mi)
    if self.train_slice:
      n = self.train_slice
      train_loss, train_mi = self._mean_bound(self.x1_train[:n],
                                              self.x2_train[:n])
      record.update(train_loss=train_loss, train_mi=train_mi)
    test_codes = self.codes(self.x1_test)
    extras["test_codes"] = test_codes
    if self.config.probe:
      record["accuracy"] = probe.linear_probe_accuracy(
          self.codes(self.x1_train), self.y_train, test_codes, self.y_test)
    if self._singular_values is not None:
      stats = diagnostics.jacobian_stats(
          self.trainee.g1, self.diag_batch,
          singular_values_fn=self._singular_values)
      record.update({f"log_kappa_p{q:g}": v for q, v in
                     stats.log_condition_percentiles.items()})
      extras["singular_values"] = stats.singular_values
    if self.trainee.invertible:
      record["inverse_error"] = diagnostics.invertibility_error(
          self.trainee.g1, self.x1_test[:self.config.eval_batch_size])
    return record, extras


def _check_finite(step: int, values: np.ndarray, seeds: Sequence[int],
                  last_finite: dict[int, tuple[int, float, float]]) -> None:
  for (loss, mi), seed in zip(values, seeds):
    if not (math.isfinite(loss) and math.isfinite(mi)):
      last = last_finite.get(seed)
      previous = (f"last finite values: loss {last[1]:.5g}, I_EST {last[2]:.5g}"
                  f" at step {last[0]}" if last else "no finite step before")
      raise errors.TrainingError(
          f"non-finite loss at step {step} (seed {seed}): loss {loss}, I_EST "
          f"{mi}; {previous}. The last good checkpoint is kept.")
    last_finite[seed] = (step, float(loss), float(mi))


def _hparams(config: TrainConfig, seed: int,
             tags: dict[str, Any]) -> dict[str, Any]:
  values = {"encoder": config.encoder.name, "critic": config.critic,
            "bound": config.bound, "loss": config.loss,
            "target": -1.0 if config.target is None else config.target,
            "seed": seed, "steps": config.steps,
            "learning_rate": config.learning_rate,
            "noise_sd": config.noise_sd}
  values.update(tags)
  return values


class _Progress:
  """A Keras progress bar on a terminal; a log line per evaluation otherwise."""

  def __init__(self, total: int, start: int, name: str):
    self.name = name
    self.bar = None
    if sys.stdout.isatty():
      self.bar = keras.utils.Progbar(
          total, stateful_metrics=["loss", "I_EST", "steps/s"], unit_name="step")
      self.bar.update(start)

  def step(self, step: int, loss: float, mi: float, rate: float) -> None:
    if self.bar is not None:
      self.bar.update(step, [("loss", loss), ("I_EST", mi), ("steps/s", rate)])

  def evaluation(self, step: int, summary: str) -> None:
    if self.bar is None:
      logging.info("%s step %d: %s", self.name, step, summary)


def train_and_evaluate(config: TrainConfig, views: data_lib.Views,
                       seeds: Sequence[int], run_dirs: Sequence[str],
                       checkpoint_dir: str,
                       tags: Optional[dict[str, Any]] = None,
                       name: str = "run") -> list[list[dict[str, Any]]]:
  """Trains one configuration for several seeds together, with evaluations.

  Args:
    config: the configuration.
    views: the data (clean; `config.noise_sd` adds noise).
    seeds: one run per seed, all in one compiled step.
    run_dirs: each seed's run directory (config, metrics, TensorBoard).
    checkpoint_dir: the group's checkpoint directory.
    tags: extra HParams (e.g. experiment, profile) for TensorBoard.
    name: shown in progress output.

  Returns:
    Per seed, the list of evaluation records (read back if already complete).

  Raises:
    ConfigError: settings that cannot run.
    TrainingError: a non-finite loss (the last good checkpoint is kept).
  """
  if len(seeds) != len(run_dirs) or not seeds:
    raise errors.ConfigError("need one run directory per seed")
  recorders = [tracking.RunRecorder(d) for d in run_dirs]
  if all(r.is_complete() for r in recorders):
    return [tracking.read_records(d) for d in run_dirs]
  config.validate(views.n_train, views.n_test)
  data_lib.check_finite(views)
  # Same config and seed give identical numbers on the same machine.
  tf.config.experimental.enable_op_determinism()

  trainees = [Trainee(config, views, seed) for seed in seeds]
  checkpoint = _group_checkpoint(trainees, checkpoint_dir)
  step_var = checkpoint.step
  resumed_step = checkpoint.restore_latest()
  start = resumed_step or 0
  if resumed_step is not None:
    logging.info("%s: resuming after step %d", name, resumed_step)
  for recorder, seed in zip(recorders, seeds):
    recorder.start(dict(config.to_dict(), seed=seed, **(tags or {})),
                   resumed_step)
    if resumed_step is None:
      recorder.hparams(_hparams(config, seed, tags or {}))

  evaluators = [_Evaluator(t, config, views) for t in trainees]
  train_step = make_train_step(trainees, config)
  iterator = iter(tf.data.Dataset.zip(tuple(
      data_lib.make_train_dataset(views.x1_train, views.x2_train,
                                  config.batch_size, seed, start_step=start,
                                  noise_sd=config.noise_sd)
      for seed in seeds)))

  evaluation_pool = concurrent.futures.ThreadPoolExecutor(
      max_workers=min(len(seeds), os.cpu_count() or 1))
  progress = _Progress(config.steps, start, name)
  last_finite: dict[int, tuple[int, float, float]] = {}
  step, compile_seconds = start, None
  # The restored step's evaluation is already recorded.
  pending = [s for s in config.eval_steps()
             if s > start or resumed_step is None]
  for eval_step in pending:
    running, train_seconds = [], 0.0
    while step < eval_step:
      tick = time.perf_counter()
      values = train_step(next(iterator)).numpy()
      elapsed = time.perf_counter() - tick
      if compile_seconds is None:  # The first call traces and compiles.
        compile_seconds = elapsed
      else:
        train_seconds += elapsed
      step += 1
      _check_finite(step, values, seeds, last_finite)
      running.append(values)
      if step % _PROGRESS_EVERY == 0 or step == eval_step:
        progress.step(step, float(values[0, 0]), float(values[0, 1]),
                      len(running) / max(train_seconds, 1e-9))
    timed_steps = len(running) - (1 if step - len(running) == start else 0)
    rate = timed_steps / train_seconds if train_seconds else float("nan")
    step_var.assign(step)

    tick = time.perf_counter()
    new_records = []
    # Seeds evaluate in parallel: the probe (SAGA) is single-threaded, and
    # TensorFlow and scikit-learn both release the GIL.
    evaluations = list(evaluation_pool.map(lambda e: e.evaluate(), evaluators))
    for i, (evaluator, recorder) in enumerate(zip(evaluators, recorders)):
      record, extras = evaluations[i]
      running_mean = (np.mean([v[i] for v in running], axis=0) if running
                      else (float("nan"), float("nan")))
      record = dict(step=step, running_loss=float(running_mean[0]),
                    running_mi=float(running_mean[1]),
                    seed_steps_per_sec=rate * len(seeds), **record)
      _write_summaries(recorder, step, record, extras, evaluator)
      new_records.append(record)
    timing = {"train_seconds": train_seconds,
              "eval_seconds": time.perf_counter() - tick}
    if compile_seconds is not None and step - len(running) == start:
      timing["compile_seconds"] = compile_seconds
    for recorder, record in zip(recorders, new_records):
      recorder.add_record(dict(record, **timing))
      recorder.flush()
    checkpoint.save()
    progress.evaluation(step, _summary_line(new_records[0]))
    faults.maybe_fail(name, step)

  evaluation_pool.shutdown()
  for recorder in recorders:
    recorder.finish({"resumed_from_step": resumed_step})
  return [list(recorder.records) for recorder in recorders]


_PROGRESS_EVERY = 20


def _summary_line(record: dict[str, Any]) -> str:
  parts = [f"test I_EST {record['test_mi']:.3f}"]
  if record.get("accuracy") is not None:
    parts.append(f"accuracy {record['accuracy']:.4f}")
  if record.get("log_kappa_p50") is not None:
    parts.append(f"median log κ {record['log_kappa_p50']:.2f}")
  if record.get("inverse_error") is not None:
    parts.append(f"inverse error {record['inverse_error']:.1e}")
  return ", ".join(parts)


_SCALAR_NAMES = {
    "running_loss": "train/running_loss", "running_mi": "train/running_I_EST",
    "train_loss": "train/loss", "train_mi": "train/I_EST",
    "test_loss": "test/loss", "test_mi": "test/I_EST",
    "accuracy": "probe/accuracy", "inverse_error": "diagnostics/inverse_error",
    "seed_steps_per_sec": "perf/seed_steps_per_sec",
}


def _write_summaries(recorder: tracking.RunRecorder, step: int,
                     record: dict[str, Any], extras: dict[str, Any],
                     evaluator: _Evaluator) -> None:
  scalars = {tag: record[key] for key, tag in _SCALAR_NAMES.items()
             if key in record}
  scalars.update({f"diagnostics/{k}": v for k, v in record.items()
                  if k.startswith("log_kappa_")})
  recorder.scalars(step, scalars)
  recorder.histogram(step, "codes/test_z1", extras["test_codes"])
  if "singular_values" in extras:
    recorder.histogram(step, "diagnostics/jacobian_singular_values",
                       extras["singular_values"])
  if step == 0:
    recorder.images(step, "data/view_pairs", evaluator.view_pair_images())
