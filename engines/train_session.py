"""The training session: saver, hooks, session creator, signals, the loop.

`run(config, graph, latest, started, on_first_save)` runs the steps of a
train_graph.TrainGraph in a MonitoredSession that resumes from the
train_dir's checkpoint `latest`, writes checkpoints and summaries there (the
chief), stops at --max_number_of_steps or on SIGINT/SIGTERM after the step
in flight, and in a cluster joins the parameter servers and tells them when
it is done.
"""

import signal
import time

import tensorflow.compat.v1 as tf

from slimvision.core import errors
from slimvision.core import log
from slimvision.engines import checkpoints
from slimvision.engines import cluster as cluster_lib
from slimvision.engines import fine_tuning
from slimvision.engines import hooks as hooks_lib
from slimvision.engines import pipeline
from slimvision.engines import precision as precision_lib
from slimvision.engines import train_dir as train_dir_lib

# A period no run reaches: the checkpoint hook needs one.
_NEVER_SECS = 10**9


def in_cluster(config):
  """Whether training runs on TensorFlow's distributed runtime (a master
  address, or variables on ps tasks) rather than in this process alone."""
  return bool(config.master) or config.num_ps_tasks > 0


def run(config, graph, latest, started, on_first_save=None):
  """Runs the training steps; returns the last global step.

  Args:
    config: the TrainConfig, its precision chosen (not 'auto').
    graph: the train_graph.TrainGraph built in the default graph.
    latest: the train_dir's checkpoint the run resumes from, or None.
    started: when the command started (time.time()), for the start-up line.
    on_first_save: called once, after the run's first checkpoint is saved
      (the chief records the run's settings then).

  Raises:
    errors.Interrupted: SIGINT or SIGTERM stopped the run (after saving).
  """
  is_chief = config.task == 0
  scaffold = tf.train.Scaffold(
      init_fn=fine_tuning.restore_init_fn(config, latest, is_chief),
      summary_op=graph.summary_op, saver=_saver(config))
  # One read of the step for every hook (see hooks_lib.step_after).
  step_after = hooks_lib.step_after(graph.train_op)
  hooks = _hooks(config, graph, step_after)
  if is_chief:
    hooks += _chief_hooks(config, graph, step_after, scaffold=scaffold,
                          latest=latest, on_first_save=on_first_save)
  session_config = _session_config(config)
  creator = _session_creator(config, scaffold, session_config, graph, latest)
  log.info('Graph built; starting the session')
  # First, so that the session counts as ready before the other hooks' own
  # start (the step-0 checkpoint, the graph for TensorBoard), which the
  # first step's share then includes, as the progress line's does.
  hooks.insert(0, hooks_lib.StartupHook(started, time.time(),
                                        log.command_start, log=log.info))
  # In a cluster a step can wait on the other tasks without end; a Python
  # handler would then never run, so SIGTERM ends the task at once there.
  stop_on_signal = (
      hooks_lib.StopOnSignalHook((signal.SIGINT,), (signal.SIGTERM,))
      if config.num_ps_tasks else hooks_lib.StopOnSignalHook())
  hooks.append(stop_on_signal)
  # The sync-replicas token queue runner can block on a queue nobody reads
  # once training stops; do not wait TF's default 2 minutes for it.
  with stop_on_signal.installed(), tf.train.MonitoredSession(
      session_creator=creator, hooks=hooks,
      stop_grace_period_secs=5) as session:
    step = _steps(config, session, graph, stop_on_signal)
  if config.num_ps_tasks:
    cluster_lib.report_done(config.master, config.num_ps_tasks, config.task,
                            session_config, log.info)
  _raise_if_stopped_by_signal(stop_on_signal.received, step, config)
  if is_chief:
    log.info('Training finished; checkpoints and TensorBoard logs in %s',
             config.train_dir)
  return step


def _saver(config):
  """The Saver of the train_dir's checkpoints, which knows those already
  there: its rotation keeps --train_dir's last KEEP_CHECKPOINTS across
  runs, and the state file it writes names them all."""
  saver = tf.train.Saver(
      max_to_keep=train_dir_lib.KEEP_CHECKPOINTS,
      sharded=config.num_ps_tasks > 0,
      # Relative paths in the checkpoint state file: a train_dir copied or
      # moved elsewhere resumes from its own checkpoints.
      save_relative_paths=True)
  if config.task == 0:
    train_dir_lib.recover_saved_checkpoints(saver, config.train_dir)
  return saver


def _hooks(config, graph, step_after):
  """The hooks of every worker: loss check, sync replicas, stop, progress."""
  is_chief = config.task == 0
  hooks = [hooks_lib.FiniteLossHook(graph.total_loss, step_after,
                                    config.train_dir)]
  if config.sync_replicas:
    hooks.append(graph.optimizer.make_session_run_hook(is_chief))
    if is_chief:
      hooks.append(hooks_lib.ReleaseSyncWorkersHook(graph.optimizer,
                                                    config.worker_replicas))
  if config.max_number_of_steps:
    hooks.append(hooks_lib.StopAtStepHook(step_after,
                                          config.max_number_of_steps))
  hooks.append(hooks_lib.ProgressHook(
      graph.total_loss, step_after, config.log_every_n_steps,
      config.batch_size, config.max_number_of_steps, log=log.info))
  return hooks


def _chief_hooks(config, graph, step_after, *, scaffold, latest,
                 on_first_save):
  """The chief's hooks: summaries, the last step's summaries, checkpoints.

  A period of 0 seconds turns the periodic saves off, as it did in TF-Slim
  (its Supervisor); the last step's summaries and checkpoint, and the first
  checkpoint of a run from scratch, are still written.
  """
  hooks = []
  if config.save_summaries_steps or config.save_summaries_secs:
    every = ({'save_steps': config.save_summaries_steps}
             if config.save_summaries_steps else
             {'save_secs': config.save_summaries_secs})
    hooks.append(tf.train.SummarySaverHook(
        output_dir=config.train_dir, scaffold=scaffold, **every))
  hooks.append(hooks_lib.LastStepSummaryHook(
      graph.summary_op, config.train_dir, step_after,
      last_step=config.max_number_of_steps))
  listeners = [train_dir_lib.PartialSaveCleaner(config.train_dir)]
  if on_first_save is not None:
    listeners.append(hooks_lib.FirstSaveListener(on_first_save))
  hooks.append(hooks_lib.CheckpointSaverHook(
      config.train_dir, save_secs=config.save_interval_secs or _NEVER_SECS,
      scaffold=scaffold, listeners=listeners,
      restored_step=checkpoints.step_of(latest) if latest else None))
  return hooks


def _session_creator(config, scaffold, session_config, graph, latest):
  """The chief's (restores `latest`, or joins a live cluster) or a
  worker's (waits for the chief) session creator."""
  if config.task != 0:
    creator = cluster_lib.WorkerSessionCreator(
        scaffold=scaffold, master=config.master, config=session_config,
        log=log.info)
  elif config.num_ps_tasks:
    creator = cluster_lib.ChiefSessionCreator(
        scaffold=scaffold, master=config.master, config=session_config,
        checkpoint_dir=config.train_dir, global_step=graph.global_step,
        log=log.info)
  else:
    # The checkpoint chosen by the caller, which is older than the newest
    # when that one cannot be read.
    creator = tf.train.ChiefSessionCreator(
        scaffold=scaffold, master=config.master, config=session_config,
        checkpoint_filename_with_path=latest)
  if config.num_ps_tasks:
    creator = cluster_lib.ReconnectLogger(creator, log.warning)
  return creator


def _steps(config, session, graph, stop_on_signal):
  """Runs train steps until a hook or a signal stops them; returns the
  global step then."""

  # The raw session, without the hooks: reading the step is not a step.
  def read_step():
    return int(session.run_step_fn(
        lambda step_context: step_context.session.run(graph.global_step)))

  step = read_step()
  if config.max_number_of_steps and step >= config.max_number_of_steps:
    log.info('Already at step %d of --max_number_of_steps=%d: nothing to '
             'train', step, config.max_number_of_steps)
    return step
  while not session.should_stop() and stop_on_signal.received is None:
    session.run(graph.train_op)
  return read_step()


def _raise_if_stopped_by_signal(signum, step, config):
  """Raises errors.Interrupted, naming the checkpoint kept, if a signal
  (`signum`, or None) stopped the run."""
  if signum is None:
    return
  saved = config.task == 0 and checkpoints.latest_in_dir(config.train_dir)
  raise errors.Interrupted(
      'Stopped by %s at step %d%s' % (
          signal.Signals(signum).name, step,
          '; saved %s: run the same command to resume' % saved
          if saved else ''), signum)


def _session_config(config):
  """The training session's ConfigProto; `config.precision` is the one
  chosen (not 'auto')."""
  session_config = precision_lib.session_config_for(
      config.precision, pipeline.session_config(config),
      in_cluster=in_cluster(config))
  if config.num_ps_tasks > 0:
    # A worker talks to the ps tasks and itself only, so it need not wait
    # for the other workers to come up.
    session_config.device_filters.extend(['/job:ps', '/job:worker/task:%d' %
                                          config.task])
  return session_config
