"""Claim 2: higher-capacity critics can give worse representations.

fig3  MLP encoders [300, 300, 100] with bilinear, separable and concat ("MLP")
      critics, trained with I_NCE and I_NWJ: the simpler critics give better
      linear-probe accuracy, although the MLP critic reaches a higher I_NWJ.
"""

from infomax_tf import config as config_lib
from infomax_tf import report
from infomax_tf import train
from pipelines import common
from pipelines import components

CLAIM = "2"
ENCODER_LAYERS = (300, 300, 100)


def fig3_config(settings: config_lib.Settings, critic: str, bound: str):
  return train.TrainConfig(
      encoder=train.EncoderConfig("mlp", layer_sizes=ENCODER_LAYERS),
      critic=critic, bound=bound, steps=settings.fig3_steps,
      n_evals=settings.fig3_evals, batch_size=settings.batch_size,
      learning_rate=settings.learning_rate,
      eval_batch_size=settings.eval_batch_size,
      jit_compile=settings.jit_compile)


def build(settings: config_lib.Settings) -> components.Pipeline:
  stages = [common.data_stage(settings), common.baseline_stage(settings)]
  names = []
  for critic in settings.fig3_critics:
    for bound in settings.bounds:
      name = report.fig3_config(critic, bound)
      names.append(name)
      stages += common.train_stages(
          settings, "fig3", name, fig3_config(settings, critic, bound),
          {"experiment": "fig3", "profile": settings.profile})

  def gather(context):
    return [{"id": "fig3", "baseline": common.baseline_accuracy(context),
             "scalars": {}, "true_mi": None,
             "runs": common.records_by_config(context, "fig3", names,
                                              settings)}]

  training = [s.name for s in stages if "/train/" in s.name]
  stages.append(common.report_stage(
      CLAIM, settings,
      (common.DATA_STAGE, common.BASELINE_STAGE) + tuple(training), gather))
  return components.Pipeline(f"claim{CLAIM}", tuple(stages))
