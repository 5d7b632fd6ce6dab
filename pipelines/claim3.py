"""Claim 3: the encoder architecture matters more than the estimator.

fig4ab  a ConvNet and an MLP [300, 300, 100] trained to the same MI estimate
        (the target loss |I_EST − t|, t ∈ {2, 4}) with I_NCE and I_NWJ: at
        matched I_EST the ConvNet's representation is clearly better.
"""

from infomax_tf import config as config_lib
from infomax_tf import report
from infomax_tf import train
from pipelines import common
from pipelines import components

CLAIM = "3"
ENCODERS = {
    "mlp": train.EncoderConfig("mlp", layer_sizes=(300, 300, 100)),
    "convnet": train.EncoderConfig("convnet"),
}


# Measured with `python -m infomax_tf.bench` on 2 CPU cores: XLA slows the
# ConvNet step (38 ms vs 27 ms per seed-step) and speeds up the MLP's.
JIT_HELPS = {"mlp": True, "convnet": False}


def fig4ab_config(settings: config_lib.Settings, encoder: str, bound: str,
                  target: float):
  return train.TrainConfig(
      encoder=ENCODERS[encoder], critic="bilinear", bound=bound, target=target,
      steps=settings.fig4ab_steps, n_evals=settings.fig4ab_evals,
      batch_size=settings.batch_size,
      learning_rate=settings.fig4ab_learning_rate,
      eval_batch_size=settings.eval_batch_size,
      precision=settings.precision,
      jit_compile=settings.jit_compile and JIT_HELPS[encoder])


def build(settings: config_lib.Settings) -> components.Pipeline:
  return common.training_claim(CLAIM, settings, "fig4ab", {
      report.fig4ab_config(encoder, bound, target):
          fig4ab_config(settings, encoder, bound, target)
      for target in settings.fig4ab_targets for bound in settings.bounds
      for encoder in ENCODERS})
