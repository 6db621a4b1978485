r"""Trains an image classifier from a converted dataset, TF-Slim style.

Usage:
  python train_image_classifier.py --train_dir=/tmp/train \
      --dataset_name=shapes --dataset_split_name=train \
      --dataset_dir=/tmp/shapes --model_name=cifarnet

Checkpoints and TensorBoard summaries go to --train_dir; a run restarted on
the same --train_dir resumes from its latest checkpoint.
"""

if __name__ == '__main__' and not __package__:
  import _checkout  # noqa: F401  (run from a source checkout)

import math

from absl import flags
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import cluster as cluster_lib
from slimvision.core import log
from slimvision.core import flags as common_flags
from slimvision.core import pipeline
from slimvision.core import summaries as summary_lib
from slimvision.core import training
from slimvision.core.errors import UserError, run_main
from slimvision.datasets import dataset_factory
from slimvision.deployment import model_deploy
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory

FLAGS = flags.FLAGS

flags.DEFINE_string('master', '', 'The address of the TensorFlow master.')
flags.DEFINE_string('train_dir', '/tmp/tfmodel/',
                    'Directory where checkpoints and event logs are written.')
flags.DEFINE_float('warmup_epochs', 0,
                   'Linearly warm up the learning rate from 0 over this '
                   'many epochs.')
flags.DEFINE_integer('num_clones', 1, 'Number of model clones to deploy.')
flags.DEFINE_boolean('clone_on_cpu', False, 'Use CPUs to deploy clones.')
flags.DEFINE_integer('worker_replicas', 1, 'Number of worker replicas.')
flags.DEFINE_integer('num_ps_tasks', 0,
                     'The number of parameter servers. If 0, parameters are '
                     'handled locally by the worker.')
flags.DEFINE_integer('num_readers', 4,
                     'The number of parallel readers that read data.')
flags.DEFINE_integer('log_every_n_steps', 10,
                     'The frequency with which logs are printed.')
flags.DEFINE_integer('save_summaries_secs', 600,
                     'The frequency with which summaries are saved, in '
                     'seconds.')
flags.DEFINE_integer('save_interval_secs', 600,
                     'The frequency with which the model is saved, in '
                     'seconds.')
flags.DEFINE_integer('task', 0, 'Task id of the replica running the training.')
flags.DEFINE_string('ps_hosts', '',
                    'Comma-separated host:port of the parameter servers '
                    '(instead of TF_CONFIG).')
flags.DEFINE_string('worker_hosts', '',
                    'Comma-separated host:port of the workers (instead of '
                    'TF_CONFIG).')
flags.DEFINE_string('job_name', '', 'ps or worker, with --ps_hosts.')
flags.DEFINE_float('weight_decay', 0.00004,
                   'The weight decay on the model weights.')
flags.DEFINE_float('batch_norm_decay', None,
                   'Decay of the batch-norm moving mean and variance (default: '
                   'the network\'s own, 0.9997 for most). Not a TF-Slim '
                   'flag: lower it (e.g. 0.99) for a run of a few thousand '
                   'steps from scratch, whose moving statistics would '
                   'otherwise lag the weights and spoil evaluation.')
flags.DEFINE_float('min_crop_area', None,
                   'Inception preprocessing: the smallest random training '
                   'crop, as a fraction of the image area (default: TF-Slim\'s '
                   '0.05). Not a TF-Slim flag: milder crops (e.g. 0.35) let a '
                   'short run on a small dataset fit more.')
flags.DEFINE_bool('color_distortion', True,
                  'Inception preprocessing: randomly distort the brightness '
                  'and saturation of training images. Not a TF-Slim flag; '
                  '--nocolor_distortion turns it off.')
flags.DEFINE_bool('random_rotate_90', False,
                  'Inception preprocessing: also rotate training images by a '
                  'random multiple of 90 degrees, which with the left-right '
                  'flip gives all 8 orientations. Not a TF-Slim flag: for '
                  'overhead imagery such as satellite, whose orientation '
                  'means nothing.')
flags.DEFINE_enum('optimizer', 'rmsprop', list(training.OPTIMIZERS),
                  'The name of the optimizer.')
flags.DEFINE_float('adadelta_rho', 0.95, 'The decay rate for adadelta.')
flags.DEFINE_float('adagrad_initial_accumulator_value', 0.1,
                   'Starting value for the AdaGrad accumulators.')
flags.DEFINE_float('adam_beta1', 0.9,
                   'The exponential decay rate for the 1st moment estimates.')
flags.DEFINE_float('adam_beta2', 0.999,
                   'The exponential decay rate for the 2nd moment estimates.')
flags.DEFINE_float('opt_epsilon', 1.0, 'Epsilon term for the optimizer.')
flags.DEFINE_float('ftrl_learning_rate_power', -0.5,
                   'The learning rate power.')
flags.DEFINE_float('ftrl_initial_accumulator_value', 0.1,
                   'Starting value for the FTRL accumulators.')
flags.DEFINE_float('ftrl_l1', 0.0, 'The FTRL l1 regularization strength.')
flags.DEFINE_float('ftrl_l2', 0.0, 'The FTRL l2 regularization strength.')
flags.DEFINE_float('momentum', 0.9,
                   'The momentum for the MomentumOptimizer and '
                   'RMSPropOptimizer.')
flags.DEFINE_float('rmsprop_momentum', 0.9, 'Momentum.')
flags.DEFINE_float('rmsprop_decay', 0.9, 'Decay term for RMSProp.')
flags.DEFINE_integer('quantize_delay', -1,
                     'Number of steps to start quantized training. Set to -1 '
                     'would disable quantized training.')
flags.DEFINE_enum('learning_rate_decay_type', 'exponential',
                  list(training.DECAY_TYPES),
                  'Specifies how the learning rate is decayed.')
flags.DEFINE_float('learning_rate', 0.01, 'Initial learning rate.')
flags.DEFINE_float('end_learning_rate', 0.0001,
                   'The minimal end learning rate used by a polynomial decay '
                   'learning rate.')
flags.DEFINE_float('label_smoothing', 0.0, 'The amount of label smoothing.')
flags.DEFINE_float('learning_rate_decay_factor', 0.94,
                   'Learning rate decay factor.')
flags.DEFINE_float('num_epochs_per_decay', 2.0,
                   'Number of epochs after which learning rate decays.')
flags.DEFINE_bool('sync_replicas', False,
                  'Whether or not to synchronize the replicas during '
                  'training.')
flags.DEFINE_integer('replicas_to_aggregate', 1,
                     'The Number of gradients to collect before updating '
                     'params.')
flags.DEFINE_float('moving_average_decay', None,
                   'The decay to use for the moving average. If left as None, '
                   'then moving averages are not used.')
flags.DEFINE_integer('max_number_of_steps', None,
                     'The maximum number of training steps.')
flags.DEFINE_integer('seed', None,
                     'Seed for shuffling and initialisation (None: random).')
flags.DEFINE_string('checkpoint_path', None,
                    'The path to a checkpoint from which to fine-tune.')
flags.DEFINE_string('checkpoint_exclude_scopes', None,
                    'Comma-separated list of scopes of variables to exclude '
                    'when restoring from a checkpoint.')
flags.DEFINE_string('trainable_scopes', None,
                    'Comma-separated list of scopes to filter the set of '
                    'variables to train. By default, None would train all the '
                    'variables.')
flags.DEFINE_boolean('ignore_missing_vars', False,
                     'When restoring a checkpoint would ignore missing '
                     'variables.')
common_flags.define_dataset_flags(split_name='train', batch_size=32)
common_flags.define_model_flags('train_image_size')

_AUX_LOSS_WEIGHT = 0.4


def _check_flags():
  if FLAGS.quantize_delay >= 0:
    raise UserError(
        '--quantize_delay needs tf.contrib.quantize, which TensorFlow removed '
        '(2.0); quantization-aware training is not available on TensorFlow '
        '%s. Train in float and quantize after training with the TFLite '
        'converter (export_inference_graph.py --tflite_file) instead.' %
        tf.__version__)
  if FLAGS.batch_size < 1:
    raise UserError('--batch_size must be positive, got %d' % FLAGS.batch_size)
  if FLAGS.batch_size % FLAGS.num_clones:
    raise UserError('--batch_size=%d is not divisible by --num_clones=%d' %
                    (FLAGS.batch_size, FLAGS.num_clones))
  if FLAGS.batch_norm_decay is not None and not (
      0.0 <= FLAGS.batch_norm_decay < 1.0):
    raise UserError('--batch_norm_decay must be in [0, 1), got %g' %
                    FLAGS.batch_norm_decay)
  if FLAGS.min_crop_area is not None and not 0.0 < FLAGS.min_crop_area <= 1.0:
    raise UserError('--min_crop_area must be in (0, 1], got %g' %
                    FLAGS.min_crop_area)
  preprocessing_name = FLAGS.preprocessing_name or FLAGS.model_name
  # Only asked when the flags are used, so an unknown --model_name is
  # reported by the network factory as such.
  family = _augmentation_options() and preprocessing_factory.family(
      preprocessing_name)
  if family and family != 'inception':
    raise UserError(
        '--min_crop_area, --nocolor_distortion and --random_rotate_90 apply '
        'to the inception preprocessing; %s uses the %s preprocessing' %
        (preprocessing_name, family))
  if FLAGS.sync_replicas and FLAGS.replicas_to_aggregate < 1:
    raise UserError('--replicas_to_aggregate must be at least 1')


def _augmentation_options():
  """Keyword arguments of the training preprocessing set by the flags."""
  options = {}
  if FLAGS.min_crop_area is not None:
    options['min_crop_area'] = FLAGS.min_crop_area
  if not FLAGS.color_distortion:
    options['color_distortion'] = False
  if FLAGS.random_rotate_90:
    options['random_rotate_90'] = True
  return options


def _add_summaries(end_points, images):
  """TF-Slim's training summaries plus a few input images."""
  summaries = set(tf.get_collection(tf.GraphKeys.SUMMARIES))
  for name, value in end_points.items():
    if value.dtype.is_floating:
      summaries.add(summary_lib.histogram('activations/' + name, value))
      summaries.add(summary_lib.scalar('sparsity/' + name,
                                       tf.nn.zero_fraction(value)))
  for loss in tf.get_collection(tf.GraphKeys.LOSSES):
    summaries.add(summary_lib.scalar('losses/%s' % loss.op.name, loss))
  for variable in slim.get_model_variables():
    summaries.add(summary_lib.histogram(variable.op.name, variable))
  summaries.add(tf.summary.image('images', images, max_outputs=3))
  return summaries


def train(cluster=None, server=None):
  """Builds the graph from the flags and runs the training loop."""
  dataset = dataset_factory.get_dataset(FLAGS.dataset_name,
                                        FLAGS.dataset_split_name,
                                        FLAGS.dataset_dir)
  network_fn = nets_factory.get_network_fn(
      FLAGS.model_name, num_classes=dataset.num_classes - FLAGS.labels_offset,
      weight_decay=FLAGS.weight_decay, is_training=True,
      batch_norm_decay=FLAGS.batch_norm_decay)
  preprocessing_fn = preprocessing_factory.get_preprocessing(
      FLAGS.preprocessing_name or FLAGS.model_name, is_training=True,
      use_grayscale=FLAGS.use_grayscale)
  image_size = FLAGS.train_image_size or network_fn.default_image_size
  augmentation = _augmentation_options()
  if FLAGS.seed is not None:
    tf.set_random_seed(FLAGS.seed)
  config = model_deploy.DeploymentConfig(
      num_clones=FLAGS.num_clones, clone_on_cpu=FLAGS.clone_on_cpu,
      replica_id=FLAGS.task, num_replicas=FLAGS.worker_replicas,
      num_ps_tasks=FLAGS.num_ps_tasks)

  with tf.device(config.variables_device()):
    global_step = tf.train.get_or_create_global_step()

  # A def, not a lambda: AutoGraph cannot find the source of a lambda that
  # spans lines and warns about it.
  def preprocess(image):
    return preprocessing_fn(image, image_size, image_size, **augmentation)

  with tf.device(config.inputs_device()):
    batches = pipeline.build_dataset(
        dataset, preprocess,
        batch_size=FLAGS.batch_size // FLAGS.num_clones, is_training=True,
        num_readers=FLAGS.num_readers,
        num_threads=FLAGS.num_preprocessing_threads,
        labels_offset=FLAGS.labels_offset, seed=FLAGS.seed)
    iterator = tf.data.make_one_shot_iterator(batches)

  def clone_fn():
    images, labels = iterator.get_next()
    logits, end_points = network_fn(images)
    onehot = tf.one_hot(labels, depth=dataset.num_classes - FLAGS.labels_offset)
    if 'AuxLogits' in end_points:
      tf.losses.softmax_cross_entropy(
          onehot, end_points['AuxLogits'],
          label_smoothing=FLAGS.label_smoothing, weights=_AUX_LOSS_WEIGHT,
          scope='aux_loss')
    tf.losses.softmax_cross_entropy(onehot, logits,
                                    label_smoothing=FLAGS.label_smoothing,
                                    weights=1.0)
    return end_points, images

  clones = model_deploy.create_clones(config, clone_fn)
  first_clone_scope = config.clone_scope(0)
  end_points, images = clones[0].outputs
  update_ops = training.update_ops_in_scopes(
      tf.get_collection(tf.GraphKeys.UPDATE_OPS, first_clone_scope),
      FLAGS.trainable_scopes, first_clone_scope)
  summaries = _add_summaries(end_points, images)

  variable_averages, moving_average_variables = None, None
  if FLAGS.moving_average_decay:
    moving_average_variables = slim.get_model_variables()
    variable_averages = tf.train.ExponentialMovingAverage(
        FLAGS.moving_average_decay, global_step)

  with tf.device(config.optimizer_device()):
    examples_per_step = FLAGS.batch_size * (
        FLAGS.replicas_to_aggregate if FLAGS.sync_replicas else 1)
    steps_per_epoch = dataset.num_samples / float(examples_per_step)
    rate = training.learning_rate(
        global_step, FLAGS.learning_rate_decay_type, FLAGS.learning_rate,
        decay_steps=max(1, int(steps_per_epoch * FLAGS.num_epochs_per_decay)),
        decay_factor=FLAGS.learning_rate_decay_factor,
        end_rate=FLAGS.end_learning_rate,
        warmup_steps=int(math.ceil(steps_per_epoch * FLAGS.warmup_epochs)))
    optimizer = training.optimizer(
        FLAGS.optimizer, rate, adadelta_rho=FLAGS.adadelta_rho,
        adagrad_initial_accumulator_value=(
            FLAGS.adagrad_initial_accumulator_value),
        adam_beta1=FLAGS.adam_beta1, adam_beta2=FLAGS.adam_beta2,
        opt_epsilon=FLAGS.opt_epsilon,
        ftrl_learning_rate_power=FLAGS.ftrl_learning_rate_power,
        ftrl_initial_accumulator_value=FLAGS.ftrl_initial_accumulator_value,
        ftrl_l1=FLAGS.ftrl_l1, ftrl_l2=FLAGS.ftrl_l2, momentum=FLAGS.momentum,
        rmsprop_momentum=FLAGS.rmsprop_momentum,
        rmsprop_decay=FLAGS.rmsprop_decay)
    summaries.add(summary_lib.scalar('learning_rate', rate))

  if FLAGS.sync_replicas:
    optimizer = tf.train.SyncReplicasOptimizer(
        optimizer, replicas_to_aggregate=FLAGS.replicas_to_aggregate,
        total_num_replicas=FLAGS.worker_replicas,
        variable_averages=variable_averages,
        variables_to_average=moving_average_variables)
  elif variable_averages is not None:
    update_ops.append(variable_averages.apply(moving_average_variables))

  total_loss, gradients = model_deploy.optimize_clones(
      clones, optimizer,
      var_list=training.variables_to_train(FLAGS.trainable_scopes))
  summaries.add(summary_lib.scalar('total_loss', total_loss))
  apply_op = optimizer.apply_gradients(gradients, global_step=global_step)
  with tf.control_dependencies([apply_op] + update_ops):
    train_tensor = tf.identity(total_loss, name='train_op')
  summary_op = tf.summary.merge(
      list(summaries | set(tf.get_collection(tf.GraphKeys.SUMMARIES,
                                             first_clone_scope))))

  is_chief = config.is_chief
  init_fn = None
  latest = tf.train.latest_checkpoint(FLAGS.train_dir)
  if FLAGS.checkpoint_path and latest:
    log.info('Ignoring --checkpoint_path because a checkpoint already '
                    'exists in %s: resuming from %s', FLAGS.train_dir, latest)
  elif latest:
    log.info('Resuming from %s', latest)
  elif FLAGS.checkpoint_path:
    init_fn = training.fine_tune_init_fn(
        FLAGS.checkpoint_path, FLAGS.checkpoint_exclude_scopes,
        FLAGS.ignore_missing_vars)
  scaffold = tf.train.Scaffold(
      init_fn=init_fn, summary_op=summary_op,
      saver=tf.train.Saver(max_to_keep=5, sharded=FLAGS.num_ps_tasks > 0))

  hooks = [training.FiniteLossHook(total_loss, FLAGS.train_dir)]
  if FLAGS.sync_replicas:
    hooks.append(optimizer.make_session_run_hook(is_chief))
  if FLAGS.max_number_of_steps:
    hooks.append(tf.train.StopAtStepHook(last_step=FLAGS.max_number_of_steps))
  hooks.append(training.ProgressHook(
      total_loss, FLAGS.log_every_n_steps, FLAGS.batch_size,
      FLAGS.max_number_of_steps, log=log.info))
  if is_chief:
    hooks.append(tf.train.SummarySaverHook(
        save_secs=FLAGS.save_summaries_secs, output_dir=FLAGS.train_dir,
        scaffold=scaffold))
    hooks.append(tf.train.CheckpointSaverHook(
        FLAGS.train_dir, save_secs=FLAGS.save_interval_secs,
        scaffold=scaffold))
    creator = tf.train.ChiefSessionCreator(
        scaffold=scaffold, master=FLAGS.master, config=_session_config(),
        checkpoint_dir=FLAGS.train_dir)
  else:
    creator = cluster_lib.WorkerSessionCreator(
        scaffold=scaffold, master=FLAGS.master, config=_session_config(),
        log=log.info)
  # The sync-replicas token queue runner can block on a queue nobody reads
  # once training stops; do not wait TF's default 2 minutes for it.
  with tf.train.MonitoredSession(session_creator=creator, hooks=hooks,
                                 stop_grace_period_secs=5) as session:
    # The raw session, without the hooks: reading the step is not a step.
    step = session.run_step_fn(
        lambda step_context: step_context.session.run(global_step))
    if FLAGS.max_number_of_steps and step >= FLAGS.max_number_of_steps:
      log.info('Already at step %d of --max_number_of_steps=%d: nothing to '
               'train', step, FLAGS.max_number_of_steps)
    else:
      while not session.should_stop():
        session.run(train_tensor)
  if is_chief:
    log.info('Training finished; checkpoints and TensorBoard logs in '
                    '%s', FLAGS.train_dir)


def _session_config():
  config = tf.ConfigProto(allow_soft_placement=True)
  if FLAGS.num_ps_tasks > 0:
    # A worker talks to the ps tasks and itself only, so it need not wait
    # for the other workers to come up.
    config.device_filters.extend(['/job:ps', '/job:worker/task:%d' %
                                  FLAGS.task])
  return config


def main(_):
  _check_flags()
  cluster = cluster_lib.resolve(FLAGS.ps_hosts, FLAGS.worker_hosts,
                                FLAGS.job_name, FLAGS.task)
  if cluster:
    server = cluster_lib.start_server(cluster)
    if cluster.job_name == 'ps':
      log.info('Parameter server %d of %d serving on %s',
                      cluster.task, len(cluster.spec['ps']), server.target)
      server.join()
      return
    FLAGS.master = server.target
    FLAGS.task = cluster.task
    FLAGS.worker_replicas = len(cluster.spec['worker'])
    FLAGS.num_ps_tasks = len(cluster.spec['ps'])
  tf.disable_eager_execution()
  tf.gfile.MakeDirs(FLAGS.train_dir)
  with tf.Graph().as_default():
    train()


def run():
  """Console entry point."""
  run_main(main)


if __name__ == '__main__':
  run()
