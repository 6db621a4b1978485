r"""Training throughput (images/sec) of train_image_classifier.py per model.

Runs a short training of each model on a converted dataset and reports the
median of the images/sec figures the training log prints (the first logged
interval, which includes graph start-up, is left out).

  python benchmarks/train_throughput.py --dataset_name=satellite \
      --dataset_dir=/tmp/satellite --models=cifarnet,mobilenet_v1,inception_v3
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string('dataset_name', 'satellite', 'Dataset name.')
flags.DEFINE_string('dataset_dir', None, 'Converted dataset folder.')
flags.DEFINE_list('models', ['cifarnet', 'mobilenet_v1', 'inception_v3'],
                  'Models to time.')
flags.DEFINE_integer('batch_size', 32, 'Images per step.')
flags.DEFINE_integer('steps', 30, 'Training steps per model.')
flags.DEFINE_integer('log_every_n_steps', 5, 'Interval of the figures.')
FLAGS = flags.FLAGS


def throughput(model):
  with tempfile.TemporaryDirectory() as train_dir:
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'train_image_classifier.py'),
         '--dataset_name=' + FLAGS.dataset_name,
         '--dataset_dir=' + FLAGS.dataset_dir, '--model_name=' + model,
         '--train_dir=' + train_dir, '--batch_size=%d' % FLAGS.batch_size,
         '--max_number_of_steps=%d' % FLAGS.steps,
         '--log_every_n_steps=%d' % FLAGS.log_every_n_steps,
         '--save_interval_secs=100000', '--save_summaries_secs=100000'],
        capture_output=True, text=True)
  rates = [float(r) for r in re.findall(r'\(([\d.]+) images/sec',
                                        result.stderr)]
  if result.returncode or len(rates) < 2:
    raise RuntimeError('%s failed:\n%s' % (model, result.stderr[-2000:]))
  return statistics.median(rates[1:])


def main(_):
  for model in FLAGS.models:
    print('%-16s %8.1f images/sec (batch %d, %d steps)' % (
        model, throughput(model), FLAGS.batch_size, FLAGS.steps), flush=True)


if __name__ == '__main__':
  app.run(main)
