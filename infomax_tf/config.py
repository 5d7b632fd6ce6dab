"""Typed configuration: what a run needs, independent of how it was asked for.

`main.py` turns absl flags into these dataclasses; library code takes them as
arguments and never reads flags.
"""

import dataclasses
from typing import Optional

PROFILES = ("smoke", "quick", "paper")
CLAIMS = ("1", "2", "3", "4", "all")

# The paper's pixel baseline: the probe on the noisy top half.
BASELINE_NOISE_SD = 0.05


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Which images, split into which views."""
  dataset: str = "mnist"
  view: str = "top_bottom"
  data_dir: Optional[str] = None  # A folder of IDX files; overrides tfds.


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """One invocation of the command line."""
  data: DataConfig
  workdir: str = "./runs"
  profile: str = "quick"
  seeds: int = 3
  claim: Optional[str] = None
  baseline: bool = False
