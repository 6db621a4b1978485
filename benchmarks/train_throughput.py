r"""Training throughput (images/sec) of train_image_classifier.py per model.

Runs a short training of each model on a converted dataset and reports the
median of the images/sec figures the training log prints (the first logged
interval, which includes graph start-up, is left out).

  python benchmarks/train_throughput.py --dataset_name=satellite \
      --dataset_dir=/tmp/satellite --models=cifarnet,mobilenet_v1,inception_v3
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
PARSER.add_argument('--dataset_name', type=str, default='satellite',
                    help='Dataset name.')
PARSER.add_argument('--dataset_dir', type=str, default=None,
                    help='Converted dataset folder.')
PARSER.add_argument('--models', type=lambda text: text.split(','),
                    default=['cifarnet', 'mobilenet_v1', 'inception_v3'],
                    help='Models to time.')
PARSER.add_argument('--batch_size', type=int, default=32,
                    help='Images per step.')
PARSER.add_argument('--steps', type=int, default=30,
                    help='Training steps per model.')
PARSER.add_argument('--log_every_n_steps', type=int, default=5,
                    help='Interval of the figures.')


def throughput(model):
  with tempfile.TemporaryDirectory() as train_dir:
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'train_image_classifier.py'),
         '--dataset_name=' + ARGS.dataset_name,
         '--dataset_dir=' + ARGS.dataset_dir, '--model_name=' + model,
         '--train_dir=' + train_dir, '--batch_size=%d' % ARGS.batch_size,
         '--max_number_of_steps=%d' % ARGS.steps,
         '--log_every_n_steps=%d' % ARGS.log_every_n_steps,
         '--save_interval_secs=100000', '--save_summaries_secs=100000'],
        capture_output=True, text=True)
  rates = [float(r) for r in re.findall(r'\(([\d.]+) images/sec',
                                        result.stderr)]
  if result.returncode or len(rates) < 2:
    raise RuntimeError('%s failed:\n%s' % (model, result.stderr[-2000:]))
  return statistics.median(rates[1:])


def main():
  for model in ARGS.models:
    print('%-16s %8.1f images/sec (batch %d, %d steps)' % (
        model, throughput(model), ARGS.batch_size, ARGS.steps), flush=True)


if __name__ == '__main__':
  ARGS = PARSER.parse_args()
  main()
