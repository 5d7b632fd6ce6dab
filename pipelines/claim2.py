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
      learning_rate=settings.fig3_learning_rate,
      eval_batch_size=settings.eval_batch_size,
      precision=settings.precision,
      jit_compile=settings.jit_compile)


def build(settings: config_lib.Settings) -> components.Pipeline:
  return common.training_claim(CLAIM, settings, "fig3", {
      report.fig3_config(critic, bound): fig3_config(settings, critic, bound)
      for critic in settings.fig3_critics for bound in settings.bounds})
