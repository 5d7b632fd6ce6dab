"""Typed configuration: what a run needs, independent of how it was asked for.

`main.py` turns absl flags into these dataclasses; library code and pipelines
take them as arguments and never read flags. The defaults are the paper's
protocol (`--profile=paper`); the quick and smoke profiles override them in
their flagfiles (`flags/<profile>/profile.flags`).
"""

import dataclasses
from typing import Optional

PROFILES = ("smoke", "quick", "paper")
CLAIMS = ("1", "2", "3", "4", "all")
RUNNERS = ("local", "beam")
PRECISIONS = ("float32", "mixed_bfloat16")

# The paper's pixel baseline: the probe on the noisy top half.
BASELINE_NOISE_SD = 0.05


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Which images, split into which views."""
  dataset: str = "mnist"
  view: str = "top_bottom"
  data_dir: Optional[str] = None  # A folder of IDX files; overrides tfds.


@dataclasses.dataclass(frozen=True)
class Settings:
  """Everything the claims' pipelines need. Defaults: the paper's protocol."""
  data: DataConfig = DataConfig()
  workdir: str = "./runs"
  profile: str = "paper"
  seeds: int = 20
  force: bool = False
  runner: str = "local"
  beam_options: str = ""
  beam_stage_attempts: int = 3
  # Shared training settings.
  batch_size: int = 128
  eval_batch_size: int = 512
  bounds: tuple[str, ...] = ("nce", "nwj")
  seeds_per_program: int = 0  # 0: all seeds of a configuration in one program.
  jit_compile: bool = True
  precision: str = "float32"  # Or mixed_bfloat16 (fig3, fig4ab).
  export: bool = True
  # fig1ab: invertible RealNVP encoders, bilinear critic.
  fig1ab_steps: int = 21000
  fig1ab_evals: int = 21
  fig1ab_couplings: int = 30
  fig1ab_hidden: tuple[int, ...] = (512, 512)
  fig1ab_learning_rate: float = 1e-4
  # fig1c: the adversarial stage on an affine RealNVP.
  fig1c_warmup_steps: int = 1000
  fig1c_iterations: int = 4000
  fig1c_eval_every: int = 400
  fig1c_couplings: int = 30
  fig1c_hidden: tuple[int, ...] = (512, 512)
  fig1c_encoder_learning_rate: float = 1e-5
  # fig2: MLP with skip connections, noisy views, Jacobian conditioning.
  fig2_steps: int = 21000
  fig2_evals: int = 21
  fig2_layers: int = 5
  fig2_noise_sd: float = 0.05
  fig2_jacobian_batch: int = 128
  fig2_learning_rate: float = 1e-4
  # fig3: critics of growing capacity.
  fig3_steps: int = 21000
  fig3_evals: int = 21
  fig3_critics: tuple[str, ...] = ("bilinear", "separable", "concat")
  fig3_learning_rate: float = 1e-4
  # fig4ab: ConvNet vs MLP at a target MI.
  fig4ab_steps: int = 21000
  fig4ab_evals: int = 21
  fig4ab_targets: tuple[float, ...] = (2.0, 4.0)
  fig4ab_learning_rate: float = 1e-4
  # kpair: I_NCE with an inner-product critic vs the K-pair and triplet losses.
  kpair_steps: int = 21000
  kpair_evals: int = 21
  kpair_triplet_margin: float = 1.0
  kpair_learning_rate: float = 1e-4
  # fig4c: non-iid negatives on a 2-D Gaussian.
  fig4c_steps: int = 20000
  fig4c_record_every: int = 100
  fig4c_learning_rate: float = 1e-4

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, values: dict) -> "Settings":
    """Inverse of `to_dict` (JSON turns tuples into lists)."""
    values = dict(values)
    values["data"] = DataConfig(**values["data"])
    for field in dataclasses.fields(cls):
      if isinstance(field.default, tuple) and field.name in values:
        values[field.name] = tuple(values[field.name])
    return cls(**values)

  def seed_list(self) -> list[int]:
    return list(range(self.seeds))

  def seed_groups(self) -> list[list[int]]:
    """Seeds trained together in one compiled program."""
    size = self.seeds_per_program or self.seeds
    seeds = self.seed_list()
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """One invocation of the command line."""
  settings: Settings
  claim: Optional[str] = None
  baseline: bool = False
