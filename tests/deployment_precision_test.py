"""Every precision in every deployment: one process, 2 clones, and 1 ps with
2 workers, async and sync (both workers sharing the global step), each in
fp32, bf16 and auto, on 127.0.0.1.

auto resolves to fp32 or bf16 on a given machine (_AUTO), so in each
deployment the cell of that precision runs it through --precision=auto and
checks that auto chose it: two runs per deployment cover all three.

Every cell also runs the default decoded-image cache (its budget, a
quarter of the free memory, adapts to the machine too) and checks that the
run cached.

bf16 runs with TensorFlow's oneDNN ops forced on (TF_ENABLE_ONEDNN_OPTS=1),
so it takes the rewrite's path on any x86 CPU: natively on AVX512-BF16 and
AMX, emulated (slowly, hence the few steps) on AVX2. Each cell must train,
write its last checkpoint and have every process exit by itself.
"""

import re

import pytest
import tensorflow.compat.v1 as tf

from conftest import free_ports, logged_steps, run_cli, start_training
from conftest import wait_for_log
from slimvision.engines import precision as precision_lib

_STEPS = 30
# cifarnet: auto picks bf16 for it where bf16 was measured faster
# (AVX512-BF16, AMX), fp32 elsewhere.
_TRAIN = ['--dataset_name=shapes', '--model_name=cifarnet',
          '--batch_size=4', '--max_number_of_steps=%d' % _STEPS,
          '--optimizer=sgd', '--learning_rate=0.01', '--log_every_n_steps=1',
          '--save_summaries_secs=0']
# What --precision=auto picks for cifarnet on this machine (oneDNN on, as
# the _onednn_on fixture makes it for every run here).
_AUTO = precision_lib.choose('auto', 'cifarnet', precision_lib.Hardware(
    precision_lib.cpu_bf16_flags(), precision_lib.gpu_capability(),
    True))[0]
# (--precision value, the precision the run must log): the cell of auto's
# choice runs auto; the other precision runs by its own name.
_PRECISIONS = [pytest.param('auto' if p == _AUTO else p, p,
                            id=p + ('-by-auto' if p == _AUTO else ''))
               for p in ('fp32', 'bf16')]


def test_auto_resolves_to_a_precision_of_the_matrix():
  assert _AUTO in ('fp32', 'bf16')


def _chosen(log_text):
  """The precision the run logged it chose."""
  return re.search(r'Precision: (\w+) \(', log_text).group(1)


def _assert_trained(train_dir, log_text, expected, late_updates=0):
  """`expected`: the precision the run must have chosen; `late_updates`:
  async workers' updates in flight at the last step, which still land
  (README: at most one per other worker)."""
  final_step = int(tf.train.latest_checkpoint(train_dir).rsplit('-', 1)[1])
  assert _STEPS <= final_step <= _STEPS + late_updates, log_text[-3000:]
  assert _chosen(log_text) == expected, log_text[-3000:]
  assert 'Traceback' not in log_text
  # The other default that adapts to the machine: the decoded-image cache,
  # whose budget is a quarter of the free memory (shapes fits in it).
  assert 'Caching the decoded images in memory' in log_text, log_text[-3000:]


@pytest.fixture(autouse=True)
def _onednn_on(monkeypatch):
  monkeypatch.setenv('TF_ENABLE_ONEDNN_OPTS', '1')


@pytest.mark.parametrize('precision, expected', _PRECISIONS)
@pytest.mark.parametrize('num_clones', [1, 2])
def test_one_process(shapes_dir, tmp_path, precision, expected, num_clones):
  train_dir = str(tmp_path / 'train')
  result = run_cli('train_image_classifier.py', '--dataset_dir=' + shapes_dir,
                   '--train_dir=' + train_dir, '--precision=' + precision,
                   '--num_clones=%d' % num_clones, *_TRAIN)
  assert result.returncode == 0, result.stderr[-3000:]
  _assert_trained(train_dir, result.stderr, expected)
  if num_clones == 2:
    reader = tf.train.load_checkpoint(train_dir)
    assert not any(name.startswith('clone_') for name in
                   reader.get_variable_to_shape_map())


def _run_cluster(tmp_path, worker_args):
  """Runs 1 ps and 2 workers to the end; returns ([exit codes], [log
  texts]) of the ps, the chief and worker 1. Worker 1 starts first; once
  it waits for the chief, the chief starts, so both take part however
  slowly this machine builds the graphs."""
  ps_port, w0_port, w1_port = free_ports(3)
  hosts = ['--ps_hosts=127.0.0.1:%d' % ps_port,
           '--worker_hosts=127.0.0.1:%d,127.0.0.1:%d' % (w0_port, w1_port),
           # Bounds the ps's wait should both workers fail to start.
           '--ps_worker_timeout_secs=60']
  logs = [tmp_path / name for name in ('ps.log', 'chief.log', 'w1.log')]
  processes = [start_training(hosts + ['--job_name=ps', '--task=0'], logs[0]),
               None,
               start_training(hosts + worker_args + ['--job_name=worker', '--task=1'],
                      logs[2])]
  try:
    wait_for_log(lambda text: 'Waiting for the chief' in text, processes[2],
                 logs[2])
    processes[1] = start_training(hosts + worker_args + ['--job_name=worker',
                                                 '--task=0'], logs[1])
    codes = [None, processes[1].wait(timeout=300),
             processes[2].wait(timeout=60)]
    # Told by both workers that training ended, the ps exits by itself.
    codes[0] = processes[0].wait(timeout=60)
  finally:
    for process in processes:
      if process and process.poll() is None:
        process.kill()
  return codes, [log.read_text() for log in logs]


@pytest.mark.parametrize('precision, expected', _PRECISIONS)
@pytest.mark.parametrize('sync', [False, True])
def test_one_ps_two_workers(shapes_dir, tmp_path, precision, expected, sync):
  train_dir = str(tmp_path / 'train')
  codes, texts = _run_cluster(tmp_path, _TRAIN + [
      '--dataset_dir=' + shapes_dir, '--train_dir=' + train_dir,
      '--precision=' + precision, '--sync_replicas=%s' % sync,
      '--replicas_to_aggregate=2'])
  assert codes == [0, 0, 0], [t[-2000:] for t in texts]
  assert 'parameter server 0 exits' in texts[0], texts[0]
  # Async: updates in flight when the step reaches the end still land.
  _assert_trained(train_dir, texts[1], expected,
                  late_updates=0 if sync else 1)
  assert _chosen(texts[2]) == _chosen(texts[1])
  assert 'Caching the decoded images in memory' in texts[2]
  if _chosen(texts[1]) == 'bf16':
    assert 'the fused-op remapper is off' in texts[1]
  # Both workers took steps of the one global step.
  steps = [logged_steps(text) for text in texts[1:]]
  assert steps[0] and steps[1], texts[1:]
  assert max(steps[0] + steps[1]) >= _STEPS
  if not sync:
    # Each worker saw the step advance beyond its own count: the other
    # worker advanced it too.
    assert len(steps[0]) < max(steps[0]) or len(steps[1]) < max(steps[1])
