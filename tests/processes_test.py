"""The test helper that forks processes from TensorFlow imported once
(processes.py): each child behaves as `python -c` or `python SCRIPT` would."""

import os
import signal
import subprocess

import processes

_PROGRAM = r'''
import os, sys
print('argv', sys.argv[1:], 'cwd', os.getcwd(), 'env', os.environ['PROBE'])
print('tensorflow loaded:', 'tensorflow' in sys.modules, file=sys.stderr)
import atexit
atexit.register(lambda: print('atexit ran', file=sys.stderr))
sys.exit(int(sys.argv[1]))
'''


def test_a_forked_program_gets_its_argv_cwd_env_and_exit_status(tmp_path):
  env = dict(os.environ, PROBE='seen')
  result = processes.run(_PROGRAM, [3, 'x'], env=env, cwd=str(tmp_path),
                         program=True)
  assert result.returncode == 3
  assert result.stdout == "argv ['3', 'x'] cwd %s env seen\n" % tmp_path
  # Forked from the server that imported TensorFlow; atexit still runs.
  assert result.stderr.splitlines()[-2:] == ['tensorflow loaded: True',
                                             'atexit ran']


def test_an_environment_tensorflow_reads_at_import_gets_a_new_interpreter():
  env = dict(os.environ, PROBE='fresh', TF_CPP_MIN_LOG_LEVEL='3')
  process = processes.start(_PROGRAM, [0], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, program=True)
  assert isinstance(process, subprocess.Popen)
  out, err = process.communicate(timeout=60)
  assert process.returncode == 0 and 'env fresh' in out
  assert 'tensorflow loaded: False' in err


def test_signals_reach_the_child_and_ctrl_c_has_pythons_handler():
  waiting = 'import sys, time\nprint("up", flush=True)\ntime.sleep(60)\n'
  interrupted = processes.start(waiting, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, program=True)
  assert interrupted.stdout.readline() == 'up\n'
  interrupted.send_signal(signal.SIGINT)
  _, err = interrupted.communicate(timeout=60)
  assert interrupted.returncode == -signal.SIGINT
  assert err.rstrip().endswith('KeyboardInterrupt')
  killed = processes.start(waiting, stdout=subprocess.PIPE, program=True)
  assert killed.stdout.readline() == 'up\n'
  assert killed.poll() is None
  killed.kill()
  assert killed.wait(timeout=60) == -signal.SIGKILL
  killed.stdout.close()


def test_a_script_runs_as_main_with_its_own_directory_on_the_path(tmp_path):
  script = tmp_path / 'show.py'
  script.write_text('import sys\nprint(__name__, sys.path[0], sys.argv)\n')
  log = tmp_path / 'log.txt'
  with open(str(log), 'w') as f:
    process = processes.start(str(script), ['a'], stdout=f,
                              stderr=subprocess.STDOUT)
    assert process.wait(timeout=60) == 0
  assert log.read_text() == "__main__ %s ['%s', 'a']\n" % (tmp_path, script)
