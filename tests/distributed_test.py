"""Parameter-server training on 127.0.0.1: one ps task and two workers."""

import os
import re
import socket
import subprocess
import sys
import time

import pytest
import tensorflow.compat.v1 as tf

from conftest import ROOT, free_ports
from slimvision.engines import cluster
from slimvision.core.errors import UserError

_STEPS = 200


def _start(args, log_path):
  log = open(log_path, 'w')
  return subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'train_image_classifier.py')] + args,
      stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def _cluster(shapes_dir, train_dir, max_steps):
  """(host flags of one ps and two workers on free local ports, the
  workers' training flags: lenet on shapes, a log line per step)."""
  ps_port, w0_port, w1_port = free_ports(3)
  hosts = ['--ps_hosts=127.0.0.1:%d' % ps_port,
           '--worker_hosts=127.0.0.1:%d,127.0.0.1:%d' % (w0_port, w1_port)]
  return hosts, hosts + [
      '--train_dir=' + train_dir, '--dataset_name=shapes',
      '--dataset_dir=' + shapes_dir, '--model_name=lenet',
      '--train_image_size=28', '--preprocessing_name=lenet',
      '--batch_size=4', '--max_number_of_steps=%d' % max_steps,
      '--log_every_n_steps=1', '--optimizer=sgd', '--learning_rate=0.01']


@pytest.mark.parametrize('sync', [False, True])
def test_one_ps_two_workers_share_the_global_step(shapes_dir, tmp_path, sync):
  train_dir = str(tmp_path / 'train')
  hosts, common = _cluster(shapes_dir, train_dir, _STEPS)
  common += ['--sync_replicas=%s' % sync, '--replicas_to_aggregate=2']
  ps = _start(hosts + ['--job_name=ps', '--task=0'], tmp_path / 'ps.log')
  # Worker 1 first: once it waits for the chief, start the chief, so both
  # take part however slowly this machine builds the graphs.
  workers = [None, _start(common + ['--job_name=worker', '--task=1'],
                          tmp_path / 'worker1.log')]
  try:
    deadline = time.time() + 240
    while 'Waiting for the chief' not in (tmp_path / 'worker1.log'
                                          ).read_text():
      assert time.time() < deadline and workers[1].poll() is None, (
          tmp_path / 'worker1.log').read_text()[-3000:]
      time.sleep(0.2)
    workers[0] = _start(common + ['--job_name=worker', '--task=0'],
                        tmp_path / 'worker0.log')
    chief_code = workers[0].wait(timeout=300)
    worker_code = workers[1].wait(timeout=60)
    # Told by the chief and the other worker that training ended, the ps
    # exits by itself.
    ps_code = ps.wait(timeout=60)
  finally:
    for process in [ps] + workers:
      if process and process.poll() is None:
        process.kill()
  logs = [(tmp_path / ('worker%d.log' % i)).read_text() for i in range(2)]
  assert chief_code == 0, logs[0][-3000:]
  assert worker_code == 0, logs[1][-3000:]
  ps_log = (tmp_path / 'ps.log').read_text()
  assert ps_code == 0 and 'parameter server 0 exits' in ps_log, ps_log
  assert 'Traceback' not in logs[0] + logs[1] + ps_log, logs
  steps = [[int(s) for s in re.findall(r'step (\d+)(?: \(\d+%\))?: loss',
                                        log)]
           for log in logs]
  # Both workers took steps, and each saw the global step advance beyond its
  # own step count, because the other worker advanced it too.
  assert steps[0] and steps[1], logs
  assert max(steps[0] + steps[1]) >= _STEPS
  if not sync:
    assert len(steps[0]) < max(steps[0]) or len(steps[1]) < max(steps[1])
  latest = tf.train.latest_checkpoint(train_dir)
  # Async: each worker checks the step before its own update, so updates in
  # flight when the step reaches the end still land (README: at most one
  # per other worker).
  final_step = int(latest.rsplit('-', 1)[1])
  if sync:
    assert final_step == _STEPS
  else:
    assert _STEPS <= final_step <= _STEPS + 1


def _wait_for(predicate, process, log_path, timeout=240):
  deadline = time.time() + timeout
  while not predicate(log_path.read_text()):
    assert time.time() < deadline and process.poll() is None, (
        log_path.read_text()[-3000:])
    time.sleep(0.2)


def _logged_steps(text):
  return [int(s) for s in re.findall(r'step (\d+)(?: \(\d+%\))?: loss', text)]


def test_a_restarted_chief_joins_the_live_cluster(shapes_dir, tmp_path):
  """The chief dies; worker 1 trains on; the new chief must not restore its
  older checkpoint over the parameter server's newer variables."""
  train_dir = str(tmp_path / 'train')
  hosts, common = _cluster(shapes_dir, train_dir, 1000000)
  logs = {name: tmp_path / (name + '.log')
          for name in ('ps', 'worker1', 'chief', 'chief2')}
  processes = []
  try:
    processes.append(_start(hosts + ['--job_name=ps', '--task=0'],
                            logs['ps']))
    worker = _start(common + ['--job_name=worker', '--task=1'],
                    logs['worker1'])
    chief = _start(common + ['--job_name=worker', '--task=0'], logs['chief'])
    processes += [worker, chief]
    _wait_for(lambda text: len(_logged_steps(text)) >= 20, chief,
              logs['chief'])
    assert tf.train.latest_checkpoint(train_dir)
    chief.kill()
    chief.wait()
    saved = int(tf.train.latest_checkpoint(train_dir).rsplit('-', 1)[1])
    _wait_for(lambda text: max(_logged_steps(text) or [0]) > saved + 50,
              worker, logs['worker1'])
    restarted = _start(common + ['--job_name=worker', '--task=0'],
                       logs['chief2'])
    processes.append(restarted)
    _wait_for(lambda text: len(_logged_steps(text)) >= 5, restarted,
              logs['chief2'])
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  worker_steps = _logged_steps(logs['worker1'].read_text())
  chief_text = logs['chief2'].read_text()
  assert 'already hold the model at global step' in chief_text, chief_text
  assert 'Resuming from' not in chief_text.split('already hold')[1]
  assert max(worker_steps) > saved + 50
  # The global step the worker saw never went back.
  assert worker_steps == sorted(worker_steps), worker_steps
  assert _logged_steps(chief_text)[0] > saved + 50


def test_a_ps_whose_workers_never_start_exits_after_the_bound(tmp_path):
  ps_port, worker_port = free_ports(2)
  started = time.time()
  ps = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'train_image_classifier.py'),
       '--ps_hosts=127.0.0.1:%d' % ps_port,
       '--worker_hosts=127.0.0.1:%d' % worker_port, '--job_name=ps',
       '--task=0', '--ps_worker_timeout_secs=3'],
      capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert ps.returncode == 2, ps.stderr[-3000:]
  assert ('error: No worker task has answered for 3 s (127.0.0.1:%d: '
          'stopped, or never started), so training cannot end: parameter '
          'server 0 exits (--ps_worker_timeout_secs)\n' % worker_port
          ) in ps.stderr
  assert 'Traceback' not in ps.stderr
  assert time.time() - started < 60


def test_the_ps_waits_while_a_worker_answers_and_not_after():
  watch = cluster.WorkerWatch(['w:1', 'w:2'], timeout_secs=2,
                              probe=lambda worker: answering[worker])
  answering = {'w:1': False, 'w:2': True}
  deadline = time.time() + 3
  while time.time() < deadline:  # w:2 answers: the wait goes on.
    watch.check(ps_task=0)
    time.sleep(0.05)
  answering['w:2'] = False
  silent_since = time.time()
  with pytest.raises(UserError, match=r'No worker task has answered for 2 s '
                     r'\(w:1, w:2: stopped, or never started\)'):
    while time.time() < silent_since + 10:
      watch.check(ps_task=0)
      time.sleep(0.05)
  # Counted from the last answer, up to one probe interval (1 s) earlier.
  assert 1 <= time.time() - silent_since < 4
  # 0 waits for ever.
  cluster.WorkerWatch(['w:1'], 0, probe=lambda worker: False).check(0)


def test_a_worker_answers_while_its_port_is_open():
  listener = socket.socket()
  listener.bind(('127.0.0.1', 0))
  listener.listen()
  address = '127.0.0.1:%d' % listener.getsockname()[1]
  assert cluster.worker_answers(address)
  listener.close()
  assert not cluster.worker_answers(address)
  assert not cluster.worker_answers('no-port')


def test_tf_config_and_host_lists():
  spec = cluster.resolve(tf_config='{"cluster": {"chief": ["c:1"], '
                         '"worker": ["w:1", "w:2"], "ps": ["p:1"]}, '
                         '"task": {"type": "worker", "index": 1}}')
  assert spec.spec == {'ps': ['p:1'], 'worker': ['c:1', 'w:1', 'w:2']}
  assert (spec.job_name, spec.task) == ('worker', 2)
  chief = cluster.resolve(tf_config='{"cluster": {"chief": ["c:1"], "ps": '
                          '["p:1"]}, "task": {"type": "chief"}}')
  assert (chief.job_name, chief.task) == ('worker', 0)
  listed = cluster.resolve('p:1,p:2', 'w:1', 'ps', 1, tf_config='')
  assert listed.spec['ps'] == ['p:1', 'p:2'] and listed.task == 1
  assert cluster.resolve(tf_config='') is None
  for bad, message in (('{"cluster": {}}', 'not valid'),
                       ('{"cluster": {"worker": ["w:1"]}, "task": '
                        '{"type": "worker"}}', 'no ps hosts'),
                       ('{"cluster": {"worker": ["w:1"], "ps": ["p:1"]}, '
                        '"task": {"type": "worker", "index": 3}}',
                        'out of range')):
    with pytest.raises(UserError, match=message):
      cluster.resolve(tf_config=bad)
  with pytest.raises(UserError, match='--job_name must be ps or worker'):
    cluster.resolve('p:1', 'w:1', 'chief', 0, tf_config='')


class _FlakyCreator(object):
  """Fails as a lost ps does (UnavailableError) on the calls listed."""

  def __init__(self, failing_calls):
    self.calls = 0
    self._failing = failing_calls

  def create_session(self):
    self.calls += 1
    if self.calls in self._failing:
      raise tf.errors.UnavailableError(None, None, 'ps unreachable')
    return 'session %d' % self.calls


def test_losing_and_regaining_the_cluster_is_logged_once_each():
  lines = []
  creator = cluster.ReconnectLogger(_FlakyCreator({2, 3}),
                                    lambda m, *a: lines.append(m % a))
  assert creator.create_session() == 'session 1'
  assert lines == []  # The first session is no reconnection.
  # MonitoredSession asks again after a run failed; it retries while the
  # ps is away (calls 2 and 3 fail), and the third retry connects.
  for _ in range(2):
    with pytest.raises(tf.errors.UnavailableError):
      creator.create_session()
  assert creator.create_session() == 'session 4'
  assert len(lines) == 2
  assert lines[0].startswith('Lost the connection to a parameter server')
  assert lines[1].startswith('Reconnected to the cluster')
