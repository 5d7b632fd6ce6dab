"""Fig. 4c: MI estimates with non-iid negatives, on a 2-D Gaussian.

The paper's point: the bounds assume the K pairs of a batch are iid. When the
pairs of a batch share a latent, the "negatives" are no longer samples of the
product of marginals and the estimates exceed the true MI.

  iid:      (X, Y) ~ N(0, Σ),  Σ = [[2, 0.4], [0.4, 2]].
  non-iid:  one Z ~ N(0, [[1, -0.5], [-0.5, 1]]) per batch, then for each pair
            ε_i ~ N(0, [[1, 0.9], [0.9, 1]]) and (X_i, Y_i) = Z + ε_i.

Both have the marginal N(0, Σ), whose MI is −½ ln(1 − ρ²) with
ρ² = 0.4² / (2·2): about 0.0204 nats. A concat critic (5 hidden layers of 10
ReLU units) maximises I_NCE or I_NWJ on fresh batches; the estimate recorded
every `record_every` steps is the mean training-batch bound over those steps.
"""

import dataclasses
import math
import time
from typing import Any, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from infomax_tf import critics
from infomax_tf import errors
from infomax_tf import estimators
from infomax_tf import tracking

IID_COVARIANCE = np.array([[2.0, 0.4], [0.4, 2.0]], np.float32)
SHARED_COVARIANCE = np.array([[1.0, -0.5], [-0.5, 1.0]], np.float32)
PAIR_COVARIANCE = np.array([[1.0, 0.9], [0.9, 1.0]], np.float32)
SAMPLINGS = ("iid", "noniid")


def true_mi() -> float:
  """MI of the (shared) marginal N(0, Σ), in nats."""
  rho_squared = IID_COVARIANCE[0, 1] ** 2 / (IID_COVARIANCE[0, 0] *
                                             IID_COVARIANCE[1, 1])
  return float(-0.5 * math.log(1.0 - rho_squared))


def sample_batch(sampling: str, batch_size: int, seed) -> tf.Tensor:
  """A batch [K, 2] of (X, Y) pairs; stateless in `seed` (shape [2])."""
  normal = lambda shape, covariance, s: tf.matmul(
      tf.random.stateless_normal(shape, seed=s),
      tf.constant(np.linalg.cholesky(covariance).T))
  if sampling == "iid":
    return normal([batch_size, 2], IID_COVARIANCE, seed)
  if sampling == "noniid":
    shared = normal([1, 2], SHARED_COVARIANCE,
                    tf.random.experimental.stateless_fold_in(seed, 1))
    noise = normal([batch_size, 2], PAIR_COVARIANCE,
                   tf.random.experimental.stateless_fold_in(seed, 2))
    return shared + noise
  raise errors.ConfigError(
      f"unknown sampling {sampling!r}; known: {', '.join(SAMPLINGS)}")


@dataclasses.dataclass(frozen=True)
class GaussianConfig:
  """One fig4c configuration; the paper's settings by default."""
  sampling: str = "noniid"
  bound: str = "nce"
  steps: int = 20000
  record_every: int = 100
  batch_size: int = 128
  learning_rate: float = 1e-4
  critic_hidden_units: tuple[int, ...] = (10, 10, 10, 10, 10)
  checkpoint_every_records: int = 20
  jit_compile: bool = True

  def validate(self) -> None:
    if self.sampling not in SAMPLINGS:
      raise errors.ConfigError(f"unknown sampling {self.sampling!r}")
    if self.steps < 1 or not 1 <= self.record_every <= self.steps:
      raise errors.ConfigError(
          f"need steps >= 1 and record_every in [1, steps]; got {self.steps}, "
          f"{self.record_every}")
    if self.batch_size < 2:
      raise errors.ConfigError("batch size must be >= 2")
    try:
      estimators.canonical_name(self.bound)
    except ValueError as e:
      raise errors.ConfigError(str(e)) from None


def run_gaussian(configs: Sequence[GaussianConfig], seeds: Sequence[int],
                 run_dirs: Sequence[Sequence[str]], checkpoint_dir: str,
                 tags: Optional[dict[str, Any]] = None
                 ) -> list[list[list[dict[str, Any]]]]:
  """Trains a critic per (config, seed), all in one compiled step.

  Args:
    configs: configurations sharing steps, record_every and batch size.
    seeds: seeds, each used for every configuration.
    run_dirs: run_dirs[c][s], the run directory of config c and seed s.
    checkpoint_dir: the shared checkpoint directory.
    tags: extra values for the runs' config.json.

  Returns:
    records[c][s]: the list of {"step", "estimate"} records.
  """
  for config in configs:
    config.validate()
  first = configs[0]
  shared = {(c.steps, c.record_every, c.batch_size) for c in configs}
  if len(shared) != 1:
    raise errors.ConfigError("fig4c configurations trained together must share "
                             "steps, record_every and batch size")
  recorders = [[tracking.RunRecorder(d) for d in dirs] for dirs in run_dirs]
  if all(r.is_complete() for row in recorders for r in row):
    return [[tracking.read_records(r.run_dir) for r in row]
            for row in recorders]
  tf.config.experimental.enable_op_determinism()

  members = []  # (config index, seed index, critic, optimizer)
  for c, config in enumerate(configs):
    for s, seed in enumerate(seeds):
      critic = critics.ConcatCritic(hidden_units=config.critic_hidden_units,
                                    seed=10_000 * seed + c)
      critic(tf.zeros([2, 1]), tf.zeros([2, 1]))
      optimizer = keras.optimizers.Adam(config.learning_rate)
      optimizer.build(critic.trainable_variables)
      members.append((c, s, critic, optimizer))
  step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
  checkpoint = tracking.GroupCheckpoint(
      checkpoint_dir,
      {f"member_{i}": tf.train.Checkpoint(critic=m[2], optimizer=m[3])
       for i, m in enumerate(members)}, step_var)
  resumed_step = checkpoint.restore_latest()
  for c, config in enumerate(configs):
    for s, seed in enumerate(seeds):
      recorders[c][s].start(dict(dataclasses.asdict(config), seed=seed,
                                 true_mi=true_mi(), **(tags or {})),
                            resumed_step)
  bounds = [estimators.get_estimator(configs[c].bound) for c, *_ in members]

  def train_window(start_step):
    """`record_every` steps for every member; returns mean estimates [M]."""
    totals = tf.zeros([len(members)])
    for k in tf.range(first.record_every, dtype=tf.int64):
      step = start_step + k
      estimates = []
      for i, (c, s, critic, optimizer) in enumerate(members):
        sampling = configs[c].sampling
        # The batch depends on (seed, sampling, step) only: NCE and NWJ
        # critics of a seed see the same data.
        stream = seeds[s] * len(SAMPLINGS) + SAMPLINGS.index(sampling)
        batch = sample_batch(sampling, first.batch_size,
                             tf.stack([tf.constant(stream, tf.int64), step]))
        with tf.GradientTape() as tape:
          estimate = bounds[i](critic(batch[:, :1], batch[:, 1:]))
          loss = -estimate
        grads = tape.gradient(loss, critic.trainable_variables)
        optimizer.apply_gradients(zip(grads, critic.trainable_variables))
        estimates.append(estimate)
      totals += tf.stack(estimates)
    return totals / first.record_every

  window = tf.function(train_window, jit_compile=first.jit_compile)
  step = resumed_step or 0
  since_checkpoint = 0
  while step < first.steps:
    tick = time.perf_counter()
    estimates = window(tf.constant(step, tf.int64)).numpy()
    step += first.record_every
    if not np.all(np.isfinite(estimates)):
      raise errors.TrainingError(f"fig4c: non-finite estimate by step {step}")
    seconds = time.perf_counter() - tick
    for i, (c, s, _, _) in enumerate(members):
      # The window's time, shared by every member (counted once in reports).
      recorders[c][s].add_record({"step": step, "estimate": estimates[i],
                                  "train_seconds": seconds})
      recorders[c][s].scalars(step, {"fig4c/estimate": estimates[i],
                                     "fig4c/true_mi": true_mi()})
    since_checkpoint += 1
    if since_checkpoint == first.checkpoint_every_records or \
        step >= first.steps:
      step_var.assign(step)
      checkpoint.save()
      since_checkpoint = 0
  for row in recorders:
    for recorder in row:
      recorder.finish({"true_mi": true_mi()})
  return [[list(r.records) for r in row] for row in recorders]
