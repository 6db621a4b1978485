"""Processes for the tests that need one, forked from TensorFlow imported once.

A test that needs a process of its own (a parameter-server cluster, a
signal, a run killed midway) used to pay TensorFlow's import in each one:
about 3.5 CPU-seconds, as much as the rest of a short training run. Here
the processes are forked from a server process (multiprocessing's
forkserver) that imported `slimvision`, TensorFlow, tf-slim and the engines
once, as a command would import them, and ran nothing: no session, no
thread pool. Each child then runs the script (or program) as `python
SCRIPT ARGS` would, from its `__main__`, with the caller's environment,
working directory, output files and Python's own Ctrl-C handler.

What must see a fresh interpreter keeps subprocess: what a command does
before TensorFlow loads, the installed console commands, TF2's own loading
of a SavedModel, and an environment that TensorFlow reads at its import
(_IMPORT_TIME_ENV): a process asked for with any of those different from
the server's starts as a new interpreter instead.
"""

import atexit
import multiprocessing
from multiprocessing import forkserver
from multiprocessing import reduction
import os
import runpy
import signal
import subprocess
import sys
import threading
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What a command imports before its work starts (slimvision first: it sets
# TensorFlow's environment, as in a command).
_PRELOAD = ['slimvision', 'tensorflow.compat.v1', 'tf_slim',
            'slimvision.engines.training', 'slimvision.engines.evaluation']

# Environment variables that TensorFlow or Python read when they start or
# import: a child is forked only if they are as the server saw them.
_IMPORT_TIME_ENV = ('TF_', 'ONEDNN_', 'OMP_', 'KMP_', 'MKL', 'PYTHON',
                    'CUDA_', 'LD_')

_context = multiprocessing.get_context('forkserver')
_server_env = []  # [the environment the server started with], once started
_lock = threading.Lock()


def _import_time_env(env):
  return {k: v for k, v in env.items() if k.startswith(_IMPORT_TIME_ENV)}


def _server_matches(env):
  """Starts the server on first use, with this process's environment;
  True if `env` can fork from it."""
  with _lock:
    if not _server_env:
      _context.set_forkserver_preload(_PRELOAD)
      forkserver.ensure_running()  # With this environment.
      _server_env.append(dict(os.environ))
      # Stopped (and waited for) at exit, so that its CPU time and its
      # children's are counted with this process's.
      atexit.register(forkserver._forkserver._stop)  # pylint: disable=protected-access
  return _import_time_env(env) == _import_time_env(_server_env[0])


class _Fd(object):
  """A file descriptor handed to the forked child (dup'ed across)."""

  def __init__(self, fd):
    self.fd = fd

  def __reduce__(self):
    return _received_fd, (reduction.DupFd(self.fd),)


def _received_fd(duplicate):
  return duplicate.detach()


def _child(request):
  """In the forked child: sets up the process as `python target args` (or
  `python -c target args`) would find it, and runs it as __main__.
  request: target, args, env, cwd, program, and fds (the child's stdin,
  stdout and stderr, as received)."""
  for stream in (sys.stdout, sys.stderr):
    stream.flush()
  for target_fd, fd in zip((0, 1, 2), request['fds']):
    os.dup2(fd, target_fd)
    os.close(fd)
  signal.signal(signal.SIGINT, signal.default_int_handler)
  os.environ.clear()
  os.environ.update(request['env'])
  os.chdir(request['cwd'])
  target, args = request['target'], request['args']
  try:
    if request['program']:
      sys.argv = ['-c'] + args
      exec(compile(target, '<string>', 'exec'), {'__name__': '__main__'})  # pylint: disable=exec-used
    else:
      sys.argv = [target] + args
      sys.path[0] = os.path.dirname(target)
      runpy.run_path(target, run_name='__main__')
  except KeyboardInterrupt:
    # As Python ends on an unhandled Ctrl-C: killed by SIGINT (-2).
    traceback.print_exc()
    _exit_handlers()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
  finally:
    _exit_handlers()


def _exit_handlers():
  """What an interpreter runs as it ends and a forked child would skip:
  the atexit handlers, then flushing its output."""
  atexit._run_exitfuncs()  # pylint: disable=protected-access
  for stream in (sys.stdout, sys.stderr):
    stream.flush()


class Process(object):
  """The subset of subprocess.Popen the tests use, for a forked child."""

  def __init__(self, process, stdout, stderr):
    self._process = process
    self.pid = process.pid
    self.stdout, self.stderr = stdout, stderr
    self.returncode = None

  def poll(self):
    if self.returncode is None and not self._process.is_alive():
      self._process.join()
      self.returncode = self._process.exitcode
    return self.returncode

  def wait(self, timeout=None):
    self._process.join(timeout)
    if self.poll() is None:
      raise subprocess.TimeoutExpired('forked process', timeout)
    return self.returncode

  def send_signal(self, signum):
    if self.poll() is None:
      os.kill(self.pid, signum)

  def kill(self):
    self.send_signal(signal.SIGKILL)

  def communicate(self, timeout=None):
    """Reads both pipes to their end, then waits; (stdout, stderr)."""
    read = {}
    readers = [threading.Thread(target=lambda n=name, s=stream: read.update(
        {n: s.read()})) for name, stream in (('out', self.stdout),
                                             ('err', self.stderr)) if stream]
    for reader in readers:
      reader.start()
    for reader in readers:
      reader.join(timeout)
    self.wait(timeout)
    for stream in (self.stdout, self.stderr):
      if stream:
        stream.close()
    return read.get('out'), read.get('err')


def _child_fds(stdout, stderr):
  """(fds for the child's stdin, stdout, stderr; the parent's ends of the
  pipes asked for: stdout, stderr file objects or None; fds to close)."""
  devnull = os.open(os.devnull, os.O_RDWR)
  to_close = [devnull]
  parent_ends = []
  fds = [devnull]
  for stream in (stdout, stderr):
    if stream == subprocess.PIPE:
      read_end, write_end = os.pipe()
      to_close.append(write_end)
      parent_ends.append(os.fdopen(read_end, 'r'))
      fds.append(write_end)
    elif stream == subprocess.STDOUT:
      parent_ends.append(None)
      fds.append(fds[1])
    else:
      parent_ends.append(None)
      fds.append(devnull if stream in (None, subprocess.DEVNULL)
                 else stream.fileno())
  return fds, parent_ends, to_close


def start(target, args=(), *, stdout=None, stderr=None, env=None, cwd=ROOT,
          program=False):
  """Starts `python target args` (a script's path, or with `program` the
  source of `python -c`) in a process of its own, forked from the server
  where `env` allows (else a new interpreter). stdout, stderr: a file,
  subprocess.PIPE, DEVNULL (or None) or, for stderr, STDOUT. Returns a
  Process (or a subprocess.Popen), text mode for pipes."""
  env = dict(os.environ if env is None else env)
  args = [str(a) for a in args]
  if not _server_matches(env):
    command = [sys.executable] + (['-c', target] if program else [target])
    return subprocess.Popen(
        command + args, env=env, cwd=cwd, text=True,
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=stderr if stderr is not None else subprocess.DEVNULL)
  fds, (out, err), to_close = _child_fds(stdout, stderr)
  process = _context.Process(target=_child, daemon=True, args=(dict(
      target=target, args=args, env=env, cwd=cwd, program=program,
      fds=[_Fd(fd) for fd in fds]),))
  try:
    process.start()
  finally:
    for fd in to_close:
      os.close(fd)
  return Process(process, out, err)


def run(target, args=(), *, env=None, cwd=ROOT, timeout=600, program=False):
  """start() capturing both outputs, waited for; a CompletedProcess."""
  process = start(target, args, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, env=env, cwd=cwd, program=program)
  try:
    out, err = process.communicate(timeout=timeout)
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()
  return subprocess.CompletedProcess(target, process.returncode, out, err)


def script(name):
  """The path of a top-level script of the checkout."""
  return os.path.join(ROOT, name)
