r"""Command line: reproduce a claim of Tschannen et al. (ICLR 2020).

  python -m infomax_tf.main --claim=3              # quick profile, 3 seeds
  python -m infomax_tf.main --claim=all --profile=paper
  python -m infomax_tf.main --baseline             # pixel baseline only

Flags -> typed config -> the claim's pipeline. Errors the user can fix are
reported in one line (the traceback with --verbosity=1).
"""

import sys

from absl import app
from absl import flags
from absl import logging

from infomax_tf import cli_flags
from infomax_tf import errors


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  run_config = cli_flags.run_config()
  try:
    if run_config.baseline:
      from pipelines import baseline  # pylint: disable=g-import-not-at-top
      record = baseline.run(run_config.data, run_config.workdir)
      print(f"pixel baseline ({record['dataset']}, {record['view']} view 1, "
            f"noise sd {record['noise_sd']}): accuracy "
            f"{record['accuracy']:.4f} ({record['n_train']} train / "
            f"{record['n_test']} test)")
      return 0
    if run_config.claim is None:
      raise app.UsageError("pass --claim=1|2|3|4|all, or --baseline")
    raise errors.ConfigError(
        f"--claim={run_config.claim} is not implemented yet; only --baseline "
        "runs in this version")
  except errors.InfomaxError as e:
    if logging.get_verbosity() >= logging.DEBUG:
      raise
    print(f"infomax_tf: error: {e}", file=sys.stderr)
    return 1


def run():
  app.run(main, argv=cli_flags.with_profile_flagfile(sys.argv))


if __name__ == "__main__":
  run()
