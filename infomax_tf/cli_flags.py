"""Command-line flags and their translation into `config.RunConfig`.

Profiles are absl flagfiles under `flags/<profile>/`; `--profile=paper` is the
same as passing `--flagfile=flags/paper/profile.flags` first, so any flag given
explicitly on the command line overrides the profile.
"""

import os
from typing import Sequence

from absl import flags

from infomax_tf import config
from infomax_tf import data

FLAGS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "flags")

_CLAIM = flags.DEFINE_enum(
    "claim", None, config.CLAIMS,
    "Which claim of the paper to reproduce: 1 (large MI is not predictive of "
    "accuracy), 2 (critic capacity), 3 (encoder architecture), 4 (I_NCE as "
    "metric learning), or all.")
_BASELINE = flags.DEFINE_bool(
    "baseline", False,
    "Run only the pixel baseline: the linear probe on the noisy (sd 0.05) "
    "first view; writes <workdir>/baseline.json.")
_PROFILE = flags.DEFINE_enum(
    "profile", "quick", config.PROFILES,
    "Settings profile (flags/<profile>/profile.flags): smoke (seconds, for "
    "tests), quick (minutes on a laptop CPU, embedded MNIST-5k), paper (the "
    "paper's exact protocol). Explicit flags override the profile.")
_WORKDIR = flags.DEFINE_string(
    "workdir", "./runs", "Directory for every artifact (runs, TensorBoard "
    "events, exports, verdicts). Any filesystem tf.io.gfile supports.")
_SEEDS = flags.DEFINE_integer(
    "seeds", 3, "Number of seeds (0 .. seeds-1) per configuration.",
    lower_bound=1)
_DATASET = flags.DEFINE_enum(
    "dataset", "mnist", data.DATASETS,
    "Dataset: tfds mnist / fashion_mnist / cifar10, the embedded mnist5k, or "
    "idx (with --data_dir). MNIST falls back to mnist5k when offline.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "A folder of MNIST-format IDX files "
    "(train-images-idx3-ubyte, ... each optionally .gz); used instead of tfds.")
_VIEW = flags.DEFINE_enum(
    "view", "top_bottom", data.VIEWS,
    "How an image splits into the two views: the paper's top/bottom halves, "
    "or left/right halves.")


def with_profile_flagfile(argv: Sequence[str]) -> list[str]:
  """Puts the profile's flagfile before the user's flags, so theirs win."""
  profile = _PROFILE.default
  args = list(argv[1:])
  for i, arg in enumerate(args):
    if arg.startswith("--profile="):
      profile = arg.split("=", 1)[1]
    elif arg == "--profile" and i + 1 < len(args):
      profile = args[i + 1]
  if profile not in config.PROFILES:
    return list(argv)  # absl rejects the value with its usage message.
  flagfile = os.path.join(FLAGS_DIR, profile, "profile.flags")
  return [argv[0], f"--flagfile={flagfile}"] + args


def run_config() -> config.RunConfig:
  """The parsed flags as a typed config (call after absl has parsed argv)."""
  return config.RunConfig(
      data=config.DataConfig(dataset=_DATASET.value, view=_VIEW.value,
                             data_dir=_DATA_DIR.value),
      workdir=_WORKDIR.value,
      profile=_PROFILE.value,
      seeds=_SEEDS.value,
      claim=_CLAIM.value,
      baseline=_BASELINE.value)
