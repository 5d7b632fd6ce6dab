r"""Command line: reproduce a claim of Tschannen et al. (ICLR 2020).

  python -m infomax_tf.main --claim=3              # quick profile, 3 seeds
  python -m infomax_tf.main --claim=all --profile=paper
  python -m infomax_tf.main --baseline             # pixel baseline only

Flags -> typed settings -> the claim's pipeline. Errors the user can fix are
reported in one line (the traceback with --verbosity=1).
"""

import logging as std_logging
import os
import sys

from absl import app
from absl import logging

from infomax_tf import errors
from infomax_tf import startup


def _print_verdict(verdict: dict, workdir: str) -> None:
  word = "supported" if verdict["supported"] else "NOT supported"
  print(f"claim {verdict['claim']}: {word} ({verdict['profile']} profile, "
        f"{verdict['dataset']}, {verdict['seeds']} seeds)")
  for experiment in verdict["experiments"]:
    failed = [c["name"] for c in experiment["checks"] if not c["passed"]]
    status = "ok" if experiment["supported"] else f"failed: {'; '.join(failed)}"
    print(f"  {experiment['id']}: {status}")
  print(f"  report: {os.path.join(workdir, 'claim' + verdict['claim'], 'report.md')}")


def _only_our_info_logs() -> None:
  """Keeps INFO lines from this project; TensorFlow's own INFO chatter
  (savers, SavedModel assets) stays hidden unless --verbosity is raised."""
  if logging.get_verbosity() > logging.INFO:
    return
  ours = (os.sep + "infomax_tf" + os.sep, os.sep + "pipelines" + os.sep)

  def keep(record):
    return (record.levelno > std_logging.INFO or
            any(part in record.pathname for part in ours))

  # On the handler: TensorFlow logs through absl's logger and its own.
  logging.get_absl_handler().addFilter(keep)
  std_logging.getLogger("tensorflow").setLevel(std_logging.WARNING)


def main(argv):
  from infomax_tf import cli_flags  # pylint: disable=g-import-not-at-top
  _only_our_info_logs()
  run_config = cli_flags.run_config()
  settings = run_config.settings
  try:
    if len(argv) > 1:
      raise errors.ConfigError(
          f"unexpected arguments: {' '.join(argv[1:])} (flags start with --)")
    # pylint: disable=g-import-not-at-top
    if run_config.baseline:
      from pipelines import baseline
      record = baseline.run(settings.data, settings.workdir)
      print(f"pixel baseline ({record['dataset']}, {record['view']} view 1, "
            f"noise sd {record['noise_sd']}): accuracy "
            f"{record['accuracy']:.4f} ({record['n_train']} train / "
            f"{record['n_test']} test)")
      return 0
    if run_config.claim is None:
      raise errors.ConfigError("pass --claim=1|2|3|4|all, or --baseline "
                               "(--helpshort lists the flags)")
    import pipelines
    for verdict in pipelines.run_claims(run_config.claim, settings):
      _print_verdict(verdict, settings.workdir)
    return 0
  except errors.InfomaxError as e:
    if logging.get_verbosity() >= logging.DEBUG:
      raise
    print(f"infomax_tf: error: {e}", file=sys.stderr)
    return 1


def run():
  startup.import_tensorflow_quietly()
  # Defining the flags imports TensorFlow: after the quiet import.
  from infomax_tf import cli_flags  # pylint: disable=g-import-not-at-top
  app.run(main, argv=cli_flags.with_profile_flagfile(sys.argv))


if __name__ == "__main__":
  run()
