r"""Training throughput against the machine's limit, per model and precision.

For each configuration (model @ image size, batch) and precision, one
process runs train_image_classifier.py on the converted records (its
run(), the command's code path: input pipeline, hooks, logging) and, in a
graph and session of its own, the bare step: a training step of the same
network, batch, loss (with the auxiliary head where there is one),
optimizer, weight decay, batch norm and moving averages on a batch held in
memory. Blocks of a few seconds of each alternate, so the machine's drift
(10% and more within minutes on a shared machine) cancels from each pair's
ratio. It prints the medians of both rates, the median of the pairs'
ratios and their range, the CPU-ms per image of each, how many cores the
bare step keeps busy, and the CPU model and flags that decide the
precision. Where the bare step keeps the cores busy, the script can reach
at most (bare CPU-ms) / (script CPU-ms) of its rate: what the input costs
comes off the step. --replay_input shows what the script costs besides
its input.

  python benchmarks/train_throughput.py --dataset_dir=/tmp/satellite \
      --precisions=auto
  python benchmarks/train_throughput.py --dataset_dir=/tmp/satellite \
      --configs=cifarnet@32/32 --precisions=fp32 --rounds=3
  python benchmarks/train_throughput.py --dataset_dir=/tmp/satellite \
      --configs=cifarnet@32/32 --train_flags=--image_cache_mb=0
  python benchmarks/train_throughput.py --dataset_dir=/tmp/satellite \
      --configs=mobilenet_v1_025@128/32 --precisions=auto --replay_input
  python benchmarks/train_throughput.py --bare=cifarnet,32,32,fp32,

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
# About how long one block of steps runs: short enough that the machine's
# speed holds over a pair of blocks, long enough to time.
BLOCK_SECONDS = 4.0
# The longest start of a training run left out of the measurement.
SKIP_SECONDS = 30.0
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
PARSER.add_argument('--rounds', type=int, default=1,
                    help='Training runs (fresh processes) per configuration '
                    'and precision; their pairs are pooled.')
PARSER.add_argument('--seconds', type=float, default=40,
                    help='About how long each training run trains, and the '
                    'bare step beside it runs.')
PARSER.add_argument('--train_flags', default='',
                    help='More flags for every training run, space-separated '
                    '(e.g. "--image_cache_mb=2000" to take JPEG decoding '
                    'out of the steps).')
PARSER.add_argument('--replay_input', action='store_true',
                    help="The training runs' input makes one batch and "
                    'replays it, so their steps do no input work: the ratio '
                    'then shows what the script costs beyond its input '
                    '(iterator, hooks), and the gap to a run without this '
                    "flag is the input's share of the cores.")
PARSER.add_argument('--bare', default=None,
                    help='model,size,batch,precision,recipe: print the bare '
                    "step's images/sec over 15 seconds, and nothing else.")
PARSER.add_argument('--paired', default=None, help=argparse.SUPPRESS)


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


class BareStep(object):
  """The bare training step of one configuration, in a graph and session of
  its own: the network on a batch held in memory, with the training
  script's loss (one-hot cross-entropy, plus TF-Slim's auxiliary head at
  0.4 where there is one), the recipe's optimizer, weight decay and moving
  averages, and batch norm's updates."""

  def __init__(self, model, size, batch, precision, recipe=''):
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
    self.batch = batch
    graph = tf.Graph()
    with graph.as_default():
      settings = RECIPES[recipe]
      network_fn = nets_factory.get_network_fn(
          model, 6, weight_decay=settings['weight_decay'], is_training=True)
      images = tf.Variable(tf.random.uniform([batch, size, size, 3], -1, 1),
                           trainable=False)
      labels = tf.Variable(tf.random.uniform([batch], 0, 6, tf.int64),
                           trainable=False)
      logits, end_points = network_fn(images)
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
      self._train_op = slim.learning.create_train_op(
          tf.losses.get_total_loss(), optimizer,
          update_ops=tf.get_collection(tf.GraphKeys.UPDATE_OPS) + updates)
      self._session = tf.Session(
          config=precision_lib.session_config_for(precision))
      self._session.run(tf.global_variables_initializer())
    self.run(3)  # The first steps pay for graph optimisation.

  def run(self, steps):
    """Runs `steps` steps; returns the seconds they took."""
    start = time.time()
    for _ in range(steps):
      self._session.run(self._train_op)
    return time.time() - start

  def images_per_second(self, seconds):
    """The rate over about `seconds` of steps."""
    steps, elapsed = 0, 0.0
    while elapsed < seconds or steps < 3:
      elapsed += self.run(1)
      steps += 1
    return steps * self.batch / elapsed

  def close(self):
    self._session.close()


def auto_choice(model):
  """The precision --precision=auto picks for `model` on this machine."""
  from slimvision.engines import precision as precision_lib  # pylint: disable=g-import-not-at-top
  return precision_lib.choose('auto', model)[0]


class _Alternation(object):
  """A training hook that alternates blocks of the script's steps with
  blocks of the bare step, and stops the run after `pairs` pairs.

  The first `skip` steps are not measured (the first epoch fills the
  decoded-image cache; a run of many epochs trains at the rate after it).
  The first `warmup` steps of each of the script's blocks are not timed:
  they take the batches the input pipeline made ahead while the bare step
  ran. Each pair is (the script's images/sec, the bare step's, the
  script's CPU-ms per image, the bare step's), over `block` steps each,
  seconds apart, so the machine's drift, 10% and more within minutes on a
  shared machine, cancels from their ratio.
  """

  def __init__(self, bare, block, warmup, pairs, skip):
    self.bare, self.block, self.warmup = bare, block, warmup
    self.pairs, self.wanted = [], pairs
    self._steps, self._start, self._cpu = -skip, None, None

  # tf.train.SessionRunHook's interface (duck-typed: MonitoredSession only
  # calls these).
  def begin(self):
    pass

  def after_create_session(self, session, coord):
    pass

  def before_run(self, run_context):
    if self._steps == self.warmup:
      self._start, self._cpu = time.time(), time.process_time()

  def after_run(self, run_context, run_values):
    self._steps += 1
    if self._steps < self.warmup + self.block:
      return
    images = self.block * self.bare.batch
    script = images / (time.time() - self._start)
    script_cpu = (time.process_time() - self._cpu) * 1000 / images
    cpu = time.process_time()
    bare = images / self.bare.run(self.block)
    bare_cpu = (time.process_time() - cpu) * 1000 / images
    self.pairs.append((script, bare, script_cpu, bare_cpu))
    self._steps = 0
    if len(self.pairs) >= self.wanted:
      run_context.request_stop()

  def end(self, session):
    pass


def paired_in_process(config, precision, seconds):
  """train_image_classifier.py run in this process on the records, its steps
  alternating with the bare step's (see _Alternation) in the precision it
  runs in; returns {'chosen': that precision, 'pairs': _Alternation's
  pairs}, with about `seconds` of each."""
  # pylint: disable=g-import-not-at-top
  from slimvision import train_image_classifier
  from slimvision.datasets import dataset_factory
  from slimvision.engines import train_session
  model, size, batch, recipe = config
  chosen = auto_choice(model) if precision == 'auto' else precision
  bare = BareStep(model, size, batch, chosen, recipe)
  rate = bare.images_per_second(3.0)
  block = max(3, int(BLOCK_SECONDS * rate / batch))
  epoch = dataset_factory.get_dataset(ARGS.dataset_name, 'train',
                                      ARGS.dataset_dir).num_samples
  # The first epoch, or SKIP_SECONDS of steps where an epoch takes longer
  # (where it does, the step dwarfs the decoding that fills the cache).
  skip = min(-(-epoch // batch), int(SKIP_SECONDS * rate / batch))
  alternation = _Alternation(bare, block, warmup=max(2, block // 5),
                             pairs=max(2, round(seconds / BLOCK_SECONDS)),
                             skip=skip)
  hooks = train_session._hooks  # pylint: disable=protected-access
  train_session._hooks = lambda *a: hooks(*a) + [alternation]  # pylint: disable=protected-access
  if ARGS.replay_input:
    _replay_first_batch()
  with tempfile.TemporaryDirectory() as train_dir:
    code = train_image_classifier.run(
        ['train_image_classifier.py',
         '--dataset_name=' + ARGS.dataset_name,
         '--dataset_dir=' + ARGS.dataset_dir, '--model_name=' + model,
         '--train_image_size=%d' % size, '--train_dir=' + train_dir,
         '--batch_size=%d' % batch, '--precision=' + precision,
         '--log_every_n_steps=1000000', '--save_interval_secs=100000',
         '--save_summaries_secs=100000'] + RECIPES[recipe]['flags'] +
        ARGS.train_flags.split())
  bare.close()
  if code or len(alternation.pairs) < alternation.wanted:
    raise RuntimeError('training %s stopped early (exit %s)' % (model, code))
  return {'chosen': chosen, 'pairs': alternation.pairs}


def _replay_first_batch():
  """Makes the training input pipeline replay its first batch."""
  from slimvision.engines import pipeline  # pylint: disable=g-import-not-at-top
  build_dataset = pipeline.build_dataset
  pipeline.build_dataset = lambda *args, **kwargs: build_dataset(
      *args, **kwargs).take(1).cache().repeat()


def run_paired(config, precision):
  """paired_in_process in a fresh process (clean graphs and thread
  pools)."""
  model, size, batch, recipe = config
  result = subprocess.run(
      [sys.executable, os.path.abspath(__file__),
       '--dataset_name=' + ARGS.dataset_name,
       '--dataset_dir=' + ARGS.dataset_dir, '--seconds=%g' % ARGS.seconds,
       '--train_flags=' + ARGS.train_flags,
       '--paired=%s,%d,%d,%s,%s' % (model, size, batch, precision, recipe)]
      + (['--replay_input'] if ARGS.replay_input else []),
      capture_output=True, text=True)
  if result.returncode:
    raise RuntimeError('training %s failed:\n%s' % (model,
                                                    result.stderr[-3000:]))
  return json.loads(result.stdout.strip().splitlines()[-1])


def main():
  configs = [parse_config(c) for c in ARGS.configs.split(',')]
  precisions = [p for p in ARGS.precisions.split(',')
                if p not in ('', 'auto')] + ['auto']
  model_name, flags = cpu_description()
  print('CPU: %s; %d cores; flags: %s' % (model_name, os.cpu_count(),
                                          ' '.join(flags) or 'none of '
                                          + ' '.join(FLAGS_SHOWN)))
  if ARGS.replay_input:
    print('Input: each training run replays its first batch (--replay_input)')
  print('%-44s %-10s %10s %10s %7s %14s %s' % (
      'model@size/batch', 'precision', 'bare img/s', 'train', 'ratio',
      'pairs: range', 'CPU-ms/image bare, train; cores the bare step '
      'keeps busy'), flush=True)
  for config in configs:
    name = '%s@%d/%d' % config[:3] + ('+' + config[3] if config[3] else '')
    for precision in precisions:
      pairs, chosen = [], None
      for _ in range(ARGS.rounds):
        result = run_paired(config, precision)
        pairs += result['pairs']
        chosen = result['chosen']
      script, bare, script_cpu, bare_cpu = [
          statistics.median(column) for column in zip(*pairs)]
      ratios = sorted(pair[0] / pair[1] for pair in pairs)
      label = precision if precision != 'auto' else 'auto=' + chosen
      print('%-44s %-10s %10.1f %10.1f %7.2f %14s %.2f, %.2f; %.2f' % (
          name, label, bare, script, statistics.median(ratios),
          '%d: %.2f-%.2f' % (len(ratios), ratios[0], ratios[-1]),
          bare_cpu, script_cpu, bare * bare_cpu / 1000), flush=True)


if __name__ == '__main__':
  ARGS = PARSER.parse_args()
  if ARGS.paired:
    model, size, batch, precision, recipe = ARGS.paired.split(',')
    print(json.dumps(paired_in_process((model, int(size), int(batch), recipe),
                                       precision, ARGS.seconds)))
  elif ARGS.bare:
    model, size, batch, precision, recipe = ARGS.bare.split(',')
    bare = BareStep(model, int(size), int(batch), precision, recipe)
    print(json.dumps(bare.images_per_second(15.0)))
  else:
    if not ARGS.dataset_dir:
      raise SystemExit('error: --dataset_dir is needed (a converted dataset)')
    main()
