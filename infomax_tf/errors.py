"""Errors the command line reports as one clear line (no traceback by default)."""


class InfomaxError(Exception):
  """Base class: an input or environment problem the user can fix."""


class DataError(InfomaxError, ValueError):
  """Missing, corrupt or unusable input data."""


class ConfigError(InfomaxError, ValueError):
  """A configuration that cannot be run (bad values, inconsistent settings)."""


class WorkdirError(InfomaxError, OSError):
  """The work directory cannot hold the run's artifacts."""


class TrainingError(InfomaxError, RuntimeError):
  """Training cannot go on (e.g. a non-finite loss)."""
