"""Claim 1: large MI is not predictive of downstream accuracy.

fig1ab  invertible RealNVP encoders (true MI fixed) trained with I_NCE / I_NWJ:
        the estimates and the probe accuracy still rise.
fig1c   an adversarially trained invertible encoder: maximal MI, poor accuracy.
fig2    an MLP with skip connections: I_EST and accuracy rise while the
        encoder's Jacobian grows ill-conditioned.
"""

import os

from infomax_tf import adversarial
from infomax_tf import config as config_lib
from infomax_tf import train
from pipelines import common
from pipelines import components

CLAIM = "1"
PAPER_KERNEL_SD = 1e-4  # Starts the flows and the skip MLP near the identity.


def fig1ab_config(settings: config_lib.Settings, bound: str):
  return train.TrainConfig(
      encoder=train.EncoderConfig(
          "realnvp", num_couplings=settings.fig1ab_couplings,
          hidden_sizes=tuple(settings.fig1ab_hidden),
          kernel_init_sd=PAPER_KERNEL_SD),
      critic="bilinear", bound=bound, steps=settings.fig1ab_steps,
      n_evals=settings.fig1ab_evals, batch_size=settings.batch_size,
      learning_rate=settings.fig1ab_learning_rate,
      eval_batch_size=settings.eval_batch_size,
      jit_compile=settings.jit_compile)


def fig2_config(settings: config_lib.Settings, bound: str):
  return train.TrainConfig(
      encoder=train.EncoderConfig(
          "mlp_skip", num_layers=settings.fig2_layers,
          kernel_init_sd=PAPER_KERNEL_SD),
      critic="bilinear", bound=bound, steps=settings.fig2_steps,
      n_evals=settings.fig2_evals, batch_size=settings.batch_size,
      learning_rate=settings.fig2_learning_rate,
      eval_batch_size=settings.eval_batch_size,
      noise_sd=settings.fig2_noise_sd, jacobian=True,
      jacobian_batch=settings.fig2_jacobian_batch,
      jit_compile=settings.jit_compile)


def fig1c_config(settings: config_lib.Settings):
  return adversarial.AdversarialConfig(
      encoder=train.EncoderConfig(
          "realnvp_affine", num_couplings=settings.fig1c_couplings,
          hidden_sizes=tuple(settings.fig1c_hidden),
          kernel_init_sd=PAPER_KERNEL_SD),
      warmup_steps=settings.fig1c_warmup_steps,
      iterations=settings.fig1c_iterations,
      eval_every=settings.fig1c_eval_every,
      encoder_learning_rate=settings.fig1c_encoder_learning_rate,
      batch_size=settings.batch_size, eval_batch_size=settings.eval_batch_size,
      jit_compile=settings.jit_compile)


def _fig1c_stage(settings: config_lib.Settings) -> components.Stage:
  adversarial_config = fig1c_config(settings)
  seeds = settings.seed_list()
  run_dirs = [common.run_dir("fig1c", "adversarial", s) for s in seeds]
  checkpoint_dirs = [os.path.join("fig1c", "adversarial", f"checkpoints_{s}")
                     for s in seeds]

  def run(context, params):
    views = common.load_views(context, params["data"])
    records = adversarial.run_adversarial(
        adversarial_config, views, seeds,
        [context.path(d) for d in run_dirs],
        [context.path(d) for d in checkpoint_dirs], tags=params["tags"])
    return {"records": {str(s): r for s, r in zip(seeds, records)}}

  params = {"adversarial": adversarial_config.to_dict(), "seeds": seeds,
            "data": common._data_params(settings),  # pylint: disable=protected-access
            "tags": {"experiment": "fig1c", "profile": settings.profile},
            "parallel": True}
  return components.Stage("fig1c/adversarial", run, params,
                          inputs=(common.DATA_STAGE,),
                          outputs=tuple(run_dirs) + tuple(checkpoint_dirs))


def build(settings: config_lib.Settings) -> components.Pipeline:
  stages = [common.data_stage(settings), common.baseline_stage(settings)]
  training = []
  for experiment, make in (("fig1ab", fig1ab_config), ("fig2", fig2_config)):
    for bound in settings.bounds:
      tags = {"experiment": experiment, "profile": settings.profile}
      new = common.train_stages(settings, experiment, bound,
                                make(settings, bound), tags)
      stages += new
      training += [s.name for s in new if "/train/" in s.name]
  fig1c = _fig1c_stage(settings)
  stages.append(fig1c)

  def gather(context):
    results = [common.experiment_results(context, experiment,
                                         settings.bounds, settings)
               for experiment in ("fig1ab", "fig2")]
    fig1c_records = context.results[fig1c.name]["records"]
    results.append({
        "id": "fig1c", "baseline": common.baseline_accuracy(context),
        "scalars": {}, "true_mi": None,
        "runs": {"adversarial": [fig1c_records[str(s)]
                                 for s in settings.seed_list()]}})
    return results

  stages.append(common.report_stage(
      CLAIM, settings,
      (common.DATA_STAGE, common.BASELINE_STAGE, fig1c.name) + tuple(training),
      gather))
  return components.Pipeline(f"claim{CLAIM}", tuple(stages))
