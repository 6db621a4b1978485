"""Parameter-server training on 127.0.0.1: one ps task and two workers.

The global step shared by two workers, async and sync, in each precision:
tests/deployment_precision_test.py."""

import socket
import time

import pytest
import tensorflow.compat.v1 as tf

from conftest import free_ports, logged_steps, start_training
from conftest import wait_for_log
import processes as process_lib
from slimvision.engines import cluster
from slimvision.core.errors import UserError


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


# Steps worker 1 must take past the chief's checkpoint before the chief
# restarts: a restored checkpoint would set the step back by as many.
_AHEAD = 20


def test_a_restarted_chief_joins_the_live_cluster(shapes_dir, tmp_path):
  """The chief dies; worker 1 trains on; the new chief must not restore its
  older checkpoint over the parameter server's newer variables."""
  train_dir = str(tmp_path / 'train')
  hosts, common = _cluster(shapes_dir, train_dir, 1000000)
  logs = {name: tmp_path / (name + '.log')
          for name in ('ps', 'worker1', 'chief', 'chief2')}
  processes = []
  try:
    processes.append(start_training(hosts + ['--job_name=ps', '--task=0'],
                            logs['ps']))
    worker = start_training(common + ['--job_name=worker', '--task=1'],
                    logs['worker1'])
    chief = start_training(common + ['--job_name=worker', '--task=0'], logs['chief'])
    processes += [worker, chief]
    wait_for_log(lambda text: len(logged_steps(text)) >= 5, chief,
              logs['chief'])
    assert tf.train.latest_checkpoint(train_dir)
    chief.kill()
    chief.wait()
    saved = int(tf.train.latest_checkpoint(train_dir).rsplit('-', 1)[1])
    wait_for_log(lambda text: max(logged_steps(text) or [0]) > saved + _AHEAD,
              worker, logs['worker1'])
    restarted = start_training(common + ['--job_name=worker', '--task=0'],
                       logs['chief2'])
    processes.append(restarted)
    wait_for_log(lambda text: len(logged_steps(text)) >= 2, restarted,
              logs['chief2'])
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  worker_steps = logged_steps(logs['worker1'].read_text())
  chief_text = logs['chief2'].read_text()
  assert 'already hold the model at global step' in chief_text, chief_text
  assert 'Resuming from' not in chief_text.split('already hold')[1]
  assert max(worker_steps) > saved + _AHEAD
  # The global step the worker saw never went back.
  assert worker_steps == sorted(worker_steps), worker_steps
  assert logged_steps(chief_text)[0] > saved + _AHEAD


def test_a_ps_whose_workers_never_start_exits_after_the_bound(tmp_path):
  ps_port, worker_port = free_ports(2)
  started = time.time()
  ps = process_lib.run(
      process_lib.script('train_image_classifier.py'),
      ['--ps_hosts=127.0.0.1:%d' % ps_port,
       '--worker_hosts=127.0.0.1:%d' % worker_port, '--job_name=ps',
       '--task=0', '--ps_worker_timeout_secs=3'], timeout=120)
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
