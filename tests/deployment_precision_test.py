"""Every precision in every deployment: one process, 2 clones, and 1 ps with
2 workers, async and sync, each in fp32, bf16 and auto, on 127.0.0.1.

bf16 runs with TensorFlow's oneDNN ops forced on (TF_ENABLE_ONEDNN_OPTS=1),
so it takes the rewrite's path on any x86 CPU: natively on AVX512-BF16 and
AMX, emulated (slowly, hence the few steps) on AVX2. Each cell must train,
write its last checkpoint and have every process exit by itself.
"""

import os
import re
import subprocess
import sys

import pytest
import tensorflow.compat.v1 as tf

from conftest import ROOT, free_ports, run_cli

_STEPS = 3
# cifarnet: auto picks bf16 for it where bf16 was measured faster
# (AVX512-BF16, AMX), fp32 elsewhere.
_TRAIN = ['--dataset_name=shapes', '--model_name=cifarnet',
          '--batch_size=4', '--max_number_of_steps=%d' % _STEPS,
          '--optimizer=sgd', '--learning_rate=0.01', '--log_every_n_steps=1',
          '--save_summaries_secs=0']
_PRECISIONS = ('fp32', 'bf16', 'auto')


def _chosen(log_text):
  """The precision the run logged it chose."""
  return re.search(r'Precision: (\w+) \(', log_text).group(1)


def _assert_trained(train_dir, log_text, precision, late_updates=0):
  """`late_updates`: async workers' updates in flight at the last step,
  which still land (README: at most one per other worker)."""
  final_step = int(tf.train.latest_checkpoint(train_dir).rsplit('-', 1)[1])
  assert _STEPS <= final_step <= _STEPS + late_updates, log_text[-3000:]
  chosen = _chosen(log_text)
  assert chosen == precision or (precision == 'auto' and
                                 chosen in ('fp32', 'bf16'))
  assert 'Traceback' not in log_text


@pytest.fixture(autouse=True)
def _onednn_on(monkeypatch):
  monkeypatch.setenv('TF_ENABLE_ONEDNN_OPTS', '1')


@pytest.mark.parametrize('precision', _PRECISIONS)
@pytest.mark.parametrize('num_clones', [1, 2])
def test_one_process(shapes_dir, tmp_path, precision, num_clones):
  train_dir = str(tmp_path / 'train')
  result = run_cli('train_image_classifier.py', '--dataset_dir=' + shapes_dir,
                   '--train_dir=' + train_dir, '--precision=' + precision,
                   '--num_clones=%d' % num_clones, *_TRAIN)
  assert result.returncode == 0, result.stderr[-3000:]
  _assert_trained(train_dir, result.stderr, precision)
  if num_clones == 2:
    reader = tf.train.load_checkpoint(train_dir)
    assert not any(name.startswith('clone_') for name in
                   reader.get_variable_to_shape_map())


def _start(args, log_path):
  with open(log_path, 'w') as log:
    return subprocess.Popen(
        [sys.executable, os.path.join(ROOT, 'train_image_classifier.py')] +
        args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


@pytest.mark.parametrize('precision', _PRECISIONS)
@pytest.mark.parametrize('sync', [False, True])
def test_one_ps_two_workers(shapes_dir, tmp_path, precision, sync):
  train_dir = str(tmp_path / 'train')
  ps_port, w0_port, w1_port = free_ports(3)
  hosts = ['--ps_hosts=127.0.0.1:%d' % ps_port,
           '--worker_hosts=127.0.0.1:%d,127.0.0.1:%d' % (w0_port, w1_port),
           # Bounds the ps's wait should both workers fail to start.
           '--ps_worker_timeout_secs=60']
  worker = hosts + _TRAIN + [
      '--dataset_dir=' + shapes_dir, '--train_dir=' + train_dir,
      '--precision=' + precision, '--sync_replicas=%s' % sync,
      '--replicas_to_aggregate=2']
  logs = [tmp_path / name for name in ('ps.log', 'chief.log', 'w1.log')]
  processes = [_start(hosts + ['--job_name=ps', '--task=0'], logs[0]),
               _start(worker + ['--job_name=worker', '--task=0'], logs[1]),
               _start(worker + ['--job_name=worker', '--task=1'], logs[2])]
  try:
    codes = [p.wait(timeout=300) for p in processes[1:]]
    codes.insert(0, processes[0].wait(timeout=90))
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  texts = [log.read_text() for log in logs]
  assert codes == [0, 0, 0], [t[-2000:] for t in texts]
  assert 'parameter server 0 exits' in texts[0]
  _assert_trained(train_dir, texts[1], precision,
                  late_updates=0 if sync else 1)
  assert _chosen(texts[2]) == _chosen(texts[1])
  if _chosen(texts[1]) == 'bf16':
    assert 'the fused-op remapper is off' in texts[1]
