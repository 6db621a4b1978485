"""Runs a command: flags -> config -> engine, errors -> exit codes.

Every script's `run()` calls `app.run(ConfigClass, main, __doc__)`. It
defines the command's flags (cli/flags.py) in a FlagValues of its own, so a
test can call a script's `run(argv)` in-process, twice, without flag
clashes. It answers `--help` with the command's own flags and `--version`,
and turns the errors a user can cause (bad flags, files or data) into one
clear line on stderr and exit status 2 instead of a long trace.

Each script also defines its flags in absl's global FLAGS on import, as
research/slim's did, and its `main(argv)` runs from them
(run_with_global_flags): code written against research/slim's scripts
(`tf.app.run(script.main)`, or FLAGS set then `script.main(None)`) runs.
"""

import contextlib
import gc
import importlib
from importlib import metadata
import os
import signal
import sys
import textwrap
import threading
import time

from absl import flags

import slimvision
from slimvision.cli import flags as cli_flags
from slimvision.core import errors
from slimvision.core import log

HELP_ARGS = ('-h', '-help', '--help', '--helpshort', '--helpfull', '-?')
EXIT_USAGE = 2


def usage(doc, flag_values, names):
  """The --help text: the script's docstring and its flags with help."""
  lines = [textwrap.dedent(doc or '').strip(), '', 'Flags:']
  for name in names:
    flag = flag_values[name]
    default = '' if flag.default is None else ' (default: %r)' % (
        flag.default,)
    lines.append('  --%s%s' % (name, default))
    lines.extend(textwrap.wrap(flag.help, 76, initial_indent='      ',
                               subsequent_indent='      '))
  lines += ['', 'Boolean flags also take the form --no<name>; '
            '--flagfile=FILE reads flags', 'from a file. absl\'s logging '
            'flags (--logtostderr, --alsologtostderr, --v, ...)',
            'are accepted, as under tf.app.run.']
  return '\n'.join(lines)


def version():
  """The --version line: ours, TensorFlow's and tf-slim's versions.

  Read from the installed packages' metadata: importing TensorFlow would
  take seconds and print its start-up lines after ours.
  """
  return 'slimvision %s (TensorFlow %s, tf-slim %s)' % (
      slimvision.__version__,
      _installed_version('tensorflow', 'tensorflow-cpu', 'tf-nightly'),
      _installed_version('tf-slim'))


def _installed_version(*distributions):
  """The version of the first of `distributions` that is installed."""
  for name in distributions:
    try:
      return metadata.version(name)
    except metadata.PackageNotFoundError:
      pass
  return 'not installed'


def _load_for_good(main):
  """_load(main), for a process that keeps what it imports until it ends.

  Importing TensorFlow makes some 300,000 objects that live as long as the
  process. The garbage collector's full passes walked them all, during the
  import and at every pass after it: 0.55-0.65 of a 3-step training run's
  6-8 CPU-seconds. They are moved out of its scans (gc.freeze), and the
  collector waits for the end of the import, which leaves little garbage.
  """
  gc.disable()
  try:
    return _load(main)
  finally:
    gc.freeze()
    gc.enable()


def _fail(message):
  sys.stderr.write('error: %s\n' % message)
  sys.stderr.flush()
  return EXIT_USAGE


def _load(main):
  """main itself, or the function a 'module:function' string names."""
  if callable(main):
    return main
  module, function = main.split(':')
  return getattr(importlib.import_module(module), function)


def run(config_class, main, doc, argv=None, positional=None,
        owns_process=False):
  """Parses argv into a config of `config_class` and calls main(config).

  TensorFlow loads only after the flags are read and a first line is out:
  importing it takes seconds, and a user should see at once that the
  command started (and get --help and flag errors without the wait).

  Args:
    config_class: the command's config dataclass (engines/config.py).
    main: function(config) doing the work, or its 'module:function' name,
      imported after the first line is logged.
    doc: the script's docstring, shown by --help.
    argv: the command line (default sys.argv).
    positional: the config field that takes the positional arguments (e.g.
      'images'); None means the command takes none.
    owns_process: the command is the process (a console entry point), so
      the objects of its imports may leave the garbage collector's care.

  Returns:
    The exit status: 0, or 2 for input the command cannot honour.
  """
  log.command_start = time.time()
  argv = list(sys.argv if argv is None else argv)
  args = argv[1:argv.index('--')] if '--' in argv else argv[1:]
  if '--version' in args:
    sys.stdout.write(version() + '\n')
    sys.stdout.flush()
    return 0
  flag_values = flags.FlagValues()
  names = cli_flags.define(config_class, flag_values)
  cli_flags.accept_absl_logging_flags(flag_values)
  if any(a in HELP_ARGS for a in args):
    print(usage(doc, flag_values, names))
    return 0
  try:
    rest = flag_values(cli_flags.expand_bare_values(argv, config_class))[1:]
  except flags.Error as e:
    return _fail('%s (see --help)' % e)
  if rest and not positional:
    return _fail('unexpected argument(s) %s (see --help)' % ' '.join(rest))
  # absl's own logging asks whether the global flags were parsed.
  flags.FLAGS.mark_as_parsed()
  log.setup()
  extra = {positional: rest} if positional else {}
  return _run_config(
      lambda: cli_flags.build(config_class, flag_values, **extra), main,
      program=argv[0], owns_process=owns_process)


def define_global_flags(config_class):
  """Defines the command's flags in absl's global FLAGS as well (the
  FLAGS of tf.app.flags), as research/slim's scripts do on import, for
  code written against them: `FLAGS.model_name = ...` then
  `script.main(None)`, or `tf.app.run(script.main)`. A name already there
  (another command's flag, or the caller's own) is left as it is.

  Returns:
    absl's global FLAGS, which the scripts keep as `FLAGS`, as
    research/slim's do."""
  cli_flags.define(config_class, flags.FLAGS, keep_defined=True)
  return flags.FLAGS


def run_with_global_flags(config_class, main, argv, positional=None):
  """research/slim's `main(argv)`: the command with the flags set in absl's
  global FLAGS (parsed by tf.app.run, or assigned by the caller); a flag
  left unset takes this command's default, even where another command
  defined it there with its own. `argv`: what tf.app.run passes (the
  program and the positional arguments), or None.

  Returns:
    The exit status, as run() (tf.app.run exits with it).
  """
  log.command_start = time.time()
  flags.FLAGS.mark_as_parsed()  # As run() does, for absl's logging.
  log.setup()
  argv = list(argv or [sys.argv[0]])
  extra = {positional: argv[1:]} if positional else {}
  return _run_config(
      lambda: cli_flags.build(config_class, flags.FLAGS, only_set=True,
                              **extra),
      main, program=argv[0], owns_process=False)


def _run_config(make_config, main, *, program, owns_process):
  """Builds the config (make_config()), checks it and calls main(config);
  returns the exit status, with the errors a user can cause as one line."""
  try:
    config = make_config()
    # Settings that are wrong on their face fail before the wait for
    # TensorFlow (the engine validates again: it is also called directly).
    validate = getattr(config, 'validate', None)
    if validate:
      validate()
    if not callable(main):
      log.info('%s: starting (loading TensorFlow)', os.path.basename(program))
      main = _load_for_good(main) if owns_process else _load(main)
      log.quiet_tensorflow_deprecations()
    with _sigterm_unwinds():
      main(config)
  except errors.UserError as e:
    return _fail(e)
  except errors.Interrupted as e:
    log.warning('%s', e)
    return 128 + e.signum
  except errors.Terminated:
    log.warning('Terminated (SIGTERM)')
    return 128 + signal.SIGTERM
  except KeyboardInterrupt:
    log.warning('Interrupted (Ctrl-C)')
    return 128 + signal.SIGINT
  except Exception as e:  # pylint: disable=broad-except
    message = (errors.describe_tf_error(e) or errors.describe_out_of_space(e)
               or errors.describe_file_error(e))
    if message is None:
      raise
    return _fail(message)
  return 0


@contextlib.contextmanager
def _sigterm_unwinds():
  """Makes SIGTERM raise errors.Terminated inside the block, where Python
  would end the process on the spot and leave staged files behind; unless
  the process was started to ignore it, or a handler is already set."""
  install = (threading.current_thread() is threading.main_thread() and
             signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
  if install:
    signal.signal(signal.SIGTERM, _raise_terminated)
  try:
    yield
  finally:
    if install:
      signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_terminated(unused_signum, unused_frame):
  raise errors.Terminated()


def main_entry(config_class, main, doc, *research_slim_argv,
               positional=None):
  """A script's main(): with no argument, the console entry point (run() on
  sys.argv, exiting with its status); with one, research/slim's main(argv)
  (run_with_global_flags, returning the status)."""
  if research_slim_argv:
    return run_with_global_flags(config_class, main, research_slim_argv[0],
                                 positional=positional)
  sys.exit(run(config_class, main, doc, positional=positional,
               owns_process=True))
