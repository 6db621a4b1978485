r"""Training throughput against the machine's limit, per model and precision.

For each configuration (model @ image size, batch) it measures, in one
sitting, round by round:
  - the bare-step limit: a training step (same network, batch, loss with
    the auxiliary head where there is one, momentum optimizer, weight decay
    and batch norm) on a batch held in memory, so no input pipeline, hooks
    or logging;
  - train_image_classifier.py on the converted records, in each precision
    and with --precision=auto: the median of its logged images/sec (the
    first logged interval, which holds the start-up, is left out);
each training run beside a bare step of the precision it runs in (before
it in even rounds, after it in odd ones: the machine's speed drifts by 10%
and more within minutes). It prints the medians, the median of the rounds'
ratios of training to bare step and their range, the CPU model and the CPU
flags that decide the precision.

  python benchmarks/train_throughput.py --dataset_dir=/tmp/satellite
  python benchmarks/train_throughput.py --dataset_dir=/tmp/satellite \
      --configs=cifarnet@32/32 --precisions=fp32 --rounds=3
  python benchmarks/train_throughput.py --dataset_dir=/tmp/satellite \
      --configs=cifarnet@32/32 --train_flags=--image_cache_mb=2000

bf16 is only worth measuring where the CPU has native bf16 (amx_bf16 or
avx512_bf16 in the flags printed): elsewhere TensorFlow emulates it, slowly.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# model@image size/batch[+recipe]: TF-Slim's families, and the satellite
# recipe's network with its flags.
CONFIGS = ('cifarnet@32/32,mobilenet_v1_025@128/32,inception_v3@299/8,'
           'mobilenet_v3_small_minimalistic@128/32+satellite')
# A recipe: the training flags of benchmarks/satellite_from_scratch.sh (less
# its steps, rate schedule and logging), and the optimizer, weight decay and
# moving averages its bare step uses to match them.
RECIPES = {
    '': dict(flags=['--optimizer=momentum'], optimizer='momentum',
             weight_decay=4e-5, moving_average_decay=None),
    'satellite': dict(
        flags=['--preprocessing_name=inception', '--optimizer=rmsprop',
               '--learning_rate=0.04', '--weight_decay=0',
               '--batch_norm_decay=0.99', '--moving_average_decay=0.999',
               '--min_crop_area=0.8', '--nocolor_distortion',
               '--random_rotate_90', '--image_cache_mb=2000'],
        optimizer='rmsprop', weight_decay=0.0, moving_average_decay=0.999),
}
# CPU flags worth printing with the figures.
FLAGS_SHOWN = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16',
               'amx_tile', 'amx_bf16', 'amx_int8')

PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
PARSER.add_argument('--dataset_name', default='satellite',
                    help='Converted dataset to train on.')
PARSER.add_argument('--dataset_dir', default=None,
                    help='Its folder (download_and_convert_data.py output).')
PARSER.add_argument('--configs', default=CONFIGS,
                    help='Comma-separated model@image_size/batch_size.')
PARSER.add_argument('--precisions', default='fp32,bf16',
                    help='Precisions to measure (auto is always added for '
                    'the training runs); "auto" alone: only the training '
                    'run with --precision=auto and the bare step in the '
                    'precision auto picks.')
PARSER.add_argument('--rounds', type=int, default=2,
                    help='Rounds; each runs every training run once, each '
                    'beside a bare step.')
PARSER.add_argument('--seconds', type=float, default=40,
                    help='About how long each training run trains.')
PARSER.add_argument('--train_flags', default='',
                    help='More flags for every training run, space-separated '
                    '(e.g. "--image_cache_mb=2000" to take JPEG decoding '
                    'out of the steps).')
PARSER.add_argument('--bare', default=None, help=argparse.SUPPRESS)


def parse_config(text):
  """'model@size/batch[+recipe]' -> (model, size, batch, recipe)."""
  match = re.fullmatch(r'(\w+)@(\d+)/(\d+)(?:\+(\w+))?', text.strip())
  if not match or (match.group(4) or '') not in RECIPES:
    raise SystemExit('error: --configs: %r is not model@image_size/batch_size'
                     '[+recipe], recipes: %s' % (text, ', '.join(
                         r for r in RECIPES if r)))
  return (match.group(1), int(match.group(2)), int(match.group(3)),
          match.group(4) or '')


def cpu_description():
  """(CPU model name, the FLAGS_SHOWN it has) from lscpu."""
  try:
    text = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
  except OSError:
    text = ''
  fields = dict(line.split(':', 1) for line in text.splitlines()
                if ':' in line)
  flags = set(fields.get('Flags', '').split())
  return (fields.get('Model name', 'unknown').strip(),
          [f for f in FLAGS_SHOWN if f in flags])


def bare_step(model, size, batch, precision, recipe='', seconds=15.0):
  """Images/sec of the bare training step (runs in this process)."""
  # pylint: disable=g-import-not-at-top
  # slimvision first: it turns TensorFlow's oneDNN kernels on (__init__.py),
  # which TensorFlow reads as it loads. Imported after TensorFlow, it left
  # them off on AVX2 CPUs: the bare step measured Eigen's kernels, at 0.55x
  # the trainer's speed for mobilenet_v3_small_minimalistic@128.
  from slimvision.engines import precision as precision_lib
  from slimvision.nets import nets_factory
  import tensorflow.compat.v1 as tf
  import tf_slim as slim
  if (os.environ.get('TF_ENABLE_ONEDNN_OPTS') == '1' and
      not precision_lib.onednn_enabled()):
    raise RuntimeError('the bare step runs without oneDNN, the training '
                       'script with it: the limit would be understated')
  with tf.Graph().as_default():
    settings = RECIPES[recipe]
    network_fn = nets_factory.get_network_fn(
        model, 6, weight_decay=settings['weight_decay'], is_training=True)
    images = tf.Variable(tf.random.uniform([batch, size, size, 3], -1, 1),
                         trainable=False)
    labels = tf.Variable(tf.random.uniform([batch], 0, 6, tf.int64),
                         trainable=False)
    logits, end_points = network_fn(images)
    # The training script's loss: softmax cross-entropy on one-hot labels,
    # and TF-Slim's auxiliary head at 0.4 where the network has one.
    onehot = tf.one_hot(labels, 6)
    if 'AuxLogits' in end_points:
      tf.losses.softmax_cross_entropy(onehot, end_points['AuxLogits'],
                                      weights=0.4)
    tf.losses.softmax_cross_entropy(onehot, logits)
    optimizer = (tf.train.RMSPropOptimizer(0.01, 0.9, 0.9, 1.0)
                 if settings['optimizer'] == 'rmsprop'
                 else tf.train.MomentumOptimizer(0.01, 0.9))
    updates = []
    if settings['moving_average_decay']:
      averages = tf.train.ExponentialMovingAverage(
          settings['moving_average_decay'])
      updates.append(averages.apply(slim.get_model_variables()))
    train_op = slim.learning.create_train_op(
        tf.losses.get_total_loss(), optimizer,
        update_ops=tf.get_collection(tf.GraphKeys.UPDATE_OPS) + updates)
    config = precision_lib.session_config_for(precision)
    with tf.Session(config=config) as session:
      session.run(tf.global_variables_initializer())
      for _ in range(3):
        session.run(train_op)
      steps, start = 0, time.time()
      while time.time() - start < seconds or steps < 3:
        session.run(train_op)
        steps += 1
      return steps * batch / (time.time() - start)


def run_bare(model, size, batch, recipe, precision):
  """bare_step in a fresh process (a clean graph and thread pools)."""
  result = subprocess.run(
      [sys.executable, os.path.abspath(__file__),
       '--bare=%s,%d,%d,%s,%s' % (model, size, batch, precision, recipe)],
      capture_output=True, text=True)
  if result.returncode:
    raise RuntimeError('bare step %s failed:\n%s' % (model,
                                                     result.stderr[-2000:]))
  return json.loads(result.stdout.strip().splitlines()[-1])


def auto_choice(model):
  """The precision --precision=auto picks for `model` on this machine."""
  from slimvision.engines import precision as precision_lib  # pylint: disable=g-import-not-at-top
  return precision_lib.choose('auto', model)[0]


def run_training(config, precision, seconds, images_per_second):
  """Median logged images/sec of train_image_classifier.py, and the
  precision it chose. images_per_second (the bare step's) sizes the run to
  about `seconds` of training."""
  model, size, batch, recipe = config
  steps = max(20, int(seconds * images_per_second / batch))
  every = max(2, steps // 8)
  with tempfile.TemporaryDirectory() as train_dir:
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'train_image_classifier.py'),
         '--dataset_name=' + ARGS.dataset_name,
         '--dataset_dir=' + ARGS.dataset_dir, '--model_name=' + model,
         '--train_image_size=%d' % size, '--train_dir=' + train_dir,
         '--batch_size=%d' % batch, '--max_number_of_steps=%d' % steps,
         '--log_every_n_steps=%d' % every, '--precision=' + precision,
         '--save_interval_secs=100000', '--save_summaries_secs=100000'] +
        RECIPES[recipe]['flags'] +
        ARGS.train_flags.split(),
        capture_output=True, text=True)
  rates = [float(r) for r in re.findall(r'\(([\d.]+) images/sec',
                                        result.stderr)]
  chosen = re.search(r'Precision: (\w+)', result.stderr)
  if result.returncode or len(rates) < 2 or not chosen:
    raise RuntimeError('training %s failed:\n%s' % (model,
                                                    result.stderr[-2000:]))
  return statistics.median(rates[1:]), chosen.group(1)


def measure_round(config, precisions, round_index, last_bare):
  """One round of `config`: {precision of the training run: (its rate, the
  precision it chose, the bare step's rate beside it)}.

  Each training run has a bare step of the precision it runs in beside it:
  before it in even rounds, after it in odd ones, so that a drift of the
  machine's speed during a sitting cancels out of the median of the
  rounds' ratios. `last_bare` ({precision: images/sec}, updated) sizes the
  training runs of odd rounds.
  """
  pick = auto_choice(config[0])
  results = {}
  for name, precision in [(p, p) for p in precisions] + [('auto', pick)]:
    if round_index % 2 == 0:
      last_bare[precision] = run_bare(*config, precision)
    rate, chosen = run_training(config, name, ARGS.seconds,
                                last_bare[precision])
    if round_index % 2 == 1:
      last_bare[precision] = run_bare(*config, precision)
    results[name] = (rate, chosen, last_bare[precision])
  return results


def main():
  configs = [parse_config(c) for c in ARGS.configs.split(',')]
  precisions = [p for p in ARGS.precisions.split(',') if p not in ('', 'auto')]
  model_name, flags = cpu_description()
  print('CPU: %s; %d cores; flags: %s' % (model_name, os.cpu_count(),
                                          ' '.join(flags) or 'none of '
                                          + ' '.join(FLAGS_SHOWN)))
  runs, last_bare = {}, {config: {} for config in configs}
  for round_index in range(ARGS.rounds):
    for config in configs:
      for name, result in measure_round(config, precisions, round_index,
                                        last_bare[config]).items():
        runs.setdefault(config + (name,), []).append(result)
    print('round %d of %d done' % (round_index + 1, ARGS.rounds),
          file=sys.stderr, flush=True)
  print('%-44s %-10s %10s %10s %7s %12s' % (
      'model@size/batch', 'precision', 'bare img/s', 'train', 'ratio',
      'rounds'))
  for config in configs:
    name = '%s@%d/%d' % config[:3] + ('+' + config[3] if config[3] else '')
    for precision in precisions + ['auto']:
      results = runs.get(config + (precision,))
      if not results:
        continue
      ratios = sorted(rate / bare for rate, _, bare in results)
      label = (precision if precision != 'auto' else
               'auto=' + results[0][1])
      print('%-44s %-10s %10.1f %10.1f %7.2f %12s' % (
          name, label, statistics.median(b for _, _, b in results),
          statistics.median(r for r, _, _ in results),
          statistics.median(ratios), '%.2f-%.2f' % (ratios[0], ratios[-1])))


if __name__ == '__main__':
  ARGS = PARSER.parse_args()
  if ARGS.bare:
    model, size, batch, precision, recipe = ARGS.bare.split(',')
    print(json.dumps(bare_step(model, int(size), int(batch), precision,
                               recipe)))
  else:
    if not ARGS.dataset_dir:
      raise SystemExit('error: --dataset_dir is needed (a converted dataset)')
    main()
