"""infomax_tf: a TensorFlow/Keras reimplementation of Tschannen et al. (ICLR 2020),
"On Mutual Information Maximization for Representation Learning".

One concept per module: data (sources, views, tf.data), estimators (MI bounds),
critics, encoders, metric_learning, train, adversarial, probe, diagnostics, export,
report. `main.py` is the command line; `pipelines/` declares each claim's stages.
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probes, CPU feature notes) drowns the
# few lines a run prints; users can still raise it by setting the variable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
