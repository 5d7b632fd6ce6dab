"""Claim 4: I_NCE with a separable critic is a metric-learning loss.

kpair  With f(x, y) = g1(x)·g2(y), I_NCE = log K − L_K-pair-mc exactly (Sohn's
       multi-class K-pair loss): checked on trained encoders' test codes;
       training with −I_NCE and with the K-pair loss from one seed gives the
       same encoder; a triplet-loss encoder also beats the pixel baseline.
fig4c  Non-iid negatives on a 2-D Gaussian: the estimates exceed the true MI.
"""

import math
import os

import numpy as np
import tensorflow as tf

from infomax_tf import config as config_lib
from infomax_tf import estimators
from infomax_tf import gaussian
from infomax_tf import metric_learning
from infomax_tf import report
from infomax_tf import train
from pipelines import common
from pipelines import components

CLAIM = "4"
LOSSES = ("nce", "kpair", "triplet")


def kpair_config(settings: config_lib.Settings, loss: str):
  return train.TrainConfig(
      encoder=train.EncoderConfig("mlp", layer_sizes=(300, 300, 100)),
      critic="inner", bound="nce", loss="bound" if loss == "nce" else loss,
      triplet_margin=settings.kpair_triplet_margin, steps=settings.kpair_steps,
      n_evals=settings.kpair_evals, batch_size=settings.batch_size,
      learning_rate=settings.kpair_learning_rate,
      eval_batch_size=settings.eval_batch_size,
      # Always float32, whatever --precision: the experiment compares two
      # losses to 1e-3, and bfloat16 rounding alone tells them apart by more.
      precision="float32",
      jit_compile=settings.jit_compile)


def identity_gap(g1, g2, x1: np.ndarray, x2: np.ndarray,
                 batch_size: int) -> float:
  """max over test batches of |I_NCE(z1 z2ᵀ) − (log K − L_K-pair(z1, z2))|."""
  gaps = []
  for i in range(0, len(x1) - batch_size + 1, batch_size):
    # In float32 whatever the encoders' compute precision, as in training.
    z1 = tf.cast(g1(tf.constant(x1[i:i + batch_size])), tf.float32)
    z2 = tf.cast(g2(tf.constant(x2[i:i + batch_size])), tf.float32)
    nce = estimators.infonce_lower_bound(tf.matmul(z1, z2, transpose_b=True))
    kpair = metric_learning.k_pair_mc_loss(z1, z2)
    gaps.append(abs(float(nce) - (math.log(batch_size) - float(kpair))))
  return max(gaps)


def _identity_stage(settings: config_lib.Settings) -> components.Stage:
  seeds = settings.seed_list()
  inputs = tuple(common.train_stage_name("kpair", loss, group)
                 for loss in ("nce", "kpair")
                 for group in settings.seed_groups())

  def run(context, params):
    views = common.load_views(context, params["data"])
    gaps = {str(s): 0.0 for s in seeds}
    for loss in ("nce", "kpair"):
      for group in settings.seed_groups():
        trainees = train.restore_trainees(
            kpair_config(settings, loss), views, group,
            context.path(common.group_dir("kpair", loss, group)))
        for trainee in trainees:
          gap = identity_gap(trainee.g1, trainee.g2, views.x1_test,
                             views.x2_test, settings.batch_size)
          gaps[str(trainee.seed)] = max(gaps[str(trainee.seed)], gap)
    return {"identity_gap": gaps}

  return components.Stage(
      "kpair/identity", run,
      {"seeds": seeds, "data": common._data_params(settings)},  # pylint: disable=protected-access
      inputs=inputs)


def _fig4c_stage(settings: config_lib.Settings) -> components.Stage:
  seeds = settings.seed_list()
  configs = [gaussian.GaussianConfig(
      sampling=sampling, bound=bound, steps=settings.fig4c_steps,
      record_every=settings.fig4c_record_every,
      batch_size=settings.batch_size,
      learning_rate=settings.fig4c_learning_rate,
      jit_compile=settings.jit_compile)
             for sampling in ("noniid", "iid") for bound in settings.bounds]
  names = [report.fig4c_config(c.sampling, c.bound) for c in configs]
  run_dirs = [[common.run_dir("fig4c", name, s) for s in seeds]
              for name in names]

  def run(context, params):
    records = gaussian.run_gaussian(
        configs, seeds, [[context.path(d) for d in row] for row in run_dirs],
        context.path("fig4c", "checkpoints"), tags=params["tags"])
    return {"true_mi": gaussian.true_mi(),
            "runs": {name: rows for name, rows in zip(names, records)}}

  params = {"configs": [c.__dict__ for c in configs], "seeds": seeds,
            "tags": {"experiment": "fig4c", "profile": settings.profile},
            "parallel": True}
  return components.Stage(
      "fig4c/train", run, params,
      outputs=tuple(d for row in run_dirs for d in row) +
      (os.path.join("fig4c", "checkpoints"),))


def build(settings: config_lib.Settings) -> components.Pipeline:
  stages = [common.data_stage(settings), common.baseline_stage(settings)]
  for loss in LOSSES:
    stages += common.train_stages(
        settings, "kpair", loss, kpair_config(settings, loss),
        {"experiment": "kpair", "profile": settings.profile})
  identity = _identity_stage(settings)
  fig4c = _fig4c_stage(settings)
  stages += [identity, fig4c]

  def gather(context):
    kpair = common.experiment_results(context, "kpair", LOSSES, settings)
    final = lambda loss: [seed_records[-1]["accuracy"]
                          for seed_records in kpair["runs"][loss]]
    gaps = context.results[identity.name]["identity_gap"]
    kpair["scalars"] = {
        "identity_gap": [gaps[str(s)] for s in settings.seed_list()],
        "accuracy_nce": final("nce"), "accuracy_kpair": final("kpair"),
        "accuracy_triplet": final("triplet")}
    fig4c_result = context.results[fig4c.name]
    noniid = {"id": "fig4c", "baseline": None, "scalars": {},
              "true_mi": fig4c_result["true_mi"], "runs": fig4c_result["runs"]}
    return [kpair, noniid]

  training = [s.name for s in stages if "/train/" in s.name]
  stages.append(common.report_stage(
      CLAIM, settings,
      (common.DATA_STAGE, common.BASELINE_STAGE, identity.name) +
      tuple(training), gather))
  return components.Pipeline(f"claim{CLAIM}", tuple(stages))
