"""Session hooks of the training loop: progress lines, the NaN guard and
clean stops on a signal."""

import contextlib
import os
import signal
import threading
import time

import numpy as np
import tensorflow.compat.v1 as tf

from slimvision.core import files
from slimvision.core import log as log_lib
from slimvision.core.errors import UserError
from slimvision.engines import checkpoints


def step_after(train_op):
  """The global step read after `train_op`, in the same run: the step just
  taken (int64 scalar Tensor). Fetched beside the train op without this
  dependency, the read races the update and can come before or after it.
  Build it once and give it to each hook that needs the step: one fetch
  for all, and the runs that fetch the summaries too keep the same fetches
  (TensorFlow then reuses their executor)."""
  with tf.control_dependencies([train_op]):
    return tf.identity(tf.train.get_global_step(), name='step_after')


class ProgressHook(tf.train.SessionRunHook):
  """Logs the first step, then each multiple of n and the last step, as
  TF-Slim's training loop did ('global step 300: loss = 1.2345 (0.142
  sec/step)', which scripts parse from its logs), then the percent done,
  images/sec over the last interval and the ETA.

  The ETA comes from the pace since the first step of this session, so the
  start-up (graph optimisation, the first step's own set-up) does not
  inflate it.
  """

  def __init__(self, loss, step, every_n_steps, images_per_step,
               max_steps=None, log=None, clock=time.time):
    self._loss = loss
    self._step = step  # step_after(train_op).
    self._every = max(1, every_n_steps)
    self._images_per_step = images_per_step
    self._max_steps = max_steps
    self._log = log or log_lib.info
    self._clock = clock

  def after_create_session(self, session, coord):
    self._created = self._clock()
    self._first = None  # (step, time) at the end of the first step.

  def before_run(self, run_context):
    return tf.train.SessionRunArgs([self._step, self._loss])

  def after_run(self, run_context, run_values):
    step, loss = run_values.results
    now = self._clock()
    if self._first is None:
      self._first = self._last = (step, now)
      self._log('global step %d: loss = %.4f (first step of this run: %.1f '
                's)' % (step, loss, now - self._created))
      return
    if step % self._every and step != self._max_steps:
      return
    sec_per_step = (now - self._last[1]) / max(1, step - self._last[0])
    rate = '%.1f images/sec' % (
        self._images_per_step / max(sec_per_step, 1e-9))
    extras = [rate]
    if self._max_steps:
      pace = (now - self._first[1]) / max(1, step - self._first[0])
      done = 100.0 * min(step, self._max_steps) / self._max_steps
      eta = log_lib.format_duration(max(0, self._max_steps - step) * pace)
      extras = ['%.0f%%' % done, rate, 'ETA %s' % eta]
    self._log('global step %d: loss = %.4f (%.3f sec/step) %s' % (
        step, loss, sec_per_step, ', '.join(extras)))
    self._last = (step, now)


class StartupHook(tf.train.SessionRunHook):
  """Logs where the time before the first step went: building the graph,
  creating the session (initialising or restoring the variables) and the
  first step, which includes the other hooks' start (the step-0 checkpoint,
  the graph written for TensorBoard) and starting the input pipeline."""

  def __init__(self, run_start, graph_built, command_start=None, log=None):
    self._run_start = run_start
    self._graph_built = graph_built
    self._command_start = command_start
    self._log = log
    self._session_ready = None
    self._done = False

  def after_create_session(self, session, coord):
    self._session_ready = time.time()

  def after_run(self, run_context, run_values):
    if self._done:
      return
    self._done = True
    now = time.time()
    ready = self._session_ready or self._graph_built
    line = ('Start-up: graph %.1f s, session and restore %.1f s, first step '
            '(with the start-up saves) %.1f s' % (self._graph_built - self._run_start,
                        ready - self._graph_built, now - ready))
    if self._command_start is not None:
      line += ('; the first step ended %.1f s after the command started '
               '(%.1f s before training began: flags, loading TensorFlow)' %
               (now - self._command_start,
                self._run_start - self._command_start))
    self._log(line)


class StopAtStepHook(tf.train.SessionRunHook):
  """Requests a stop once the global step, read after each step, reaches
  `last_step`.

  tf.train.StopAtStepHook estimates the step from its value before the run
  plus one, which lags when other workers also advance it: in async
  training a worker then takes another step past the end (two workers
  ended at 202 of 200). Reading the step after the train op leaves only
  the steps already under way when the end is reached, at most one per
  other worker.
  """

  def __init__(self, step, last_step):
    self._step = step  # step_after(train_op).
    self._last_step = last_step

  def before_run(self, run_context):
    return tf.train.SessionRunArgs(self._step)

  def after_run(self, run_context, run_values):
    if run_values.results >= self._last_step:
      run_context.request_stop()


class FiniteLossHook(tf.train.SessionRunHook):
  """Stops training with a UserError when the loss is NaN or infinite.

  It must run before the checkpoint saver's hook, so the step that produced
  the bad loss (and updated the weights with it) is never saved.
  """

  def __init__(self, loss, step, train_dir=None):
    self._loss = loss
    self._step = step  # step_after(train_op).
    self._train_dir = train_dir

  def before_run(self, run_context):
    return tf.train.SessionRunArgs([self._step, self._loss])

  def after_run(self, run_context, run_values):
    step, loss = run_values.results
    if np.isfinite(loss):
      return
    last = self._train_dir and checkpoints.latest_in_dir(self._train_dir)
    raise UserError(
        'loss is %s at step %d: training stopped. The last good checkpoint '
        'is %s. Try a lower --learning_rate or check the input data.' %
        (loss, step, last or '(none written yet)'))


class LastStepSummaryHook(tf.train.SessionRunHook):
  """Writes the summaries at the last step too, so TensorBoard's curves
  reach it whatever the summary interval.

  Where the last step is known (`last_step`, --max_number_of_steps), the
  summaries are fetched with that step, as the periodic summary hook
  fetches them: the same fetches, so TensorFlow reuses that run's executor.
  A run stopped before it (a signal) has them written at its end, from one
  more run of the summary op: a forward pass on a new batch, through a new
  executor (0.7 s of a tiny mobilenet_v1_025 run's 8 s).
  """

  def __init__(self, summary_op, output_dir, step, last_step=None):
    self._summary_op = summary_op
    self._output_dir = output_dir
    self._step = step
    self._last_step = last_step

  def begin(self):
    self._global_step = tf.train.get_global_step()
    self._next_step = None  # The global step the next run starts from.
    self._stepped = False
    self._written_step = None

  def after_create_session(self, session, coord):
    self._next_step = int(session.run(self._global_step))

  def before_run(self, run_context):
    fetches = {'step': self._step}
    if self._last_step and self._next_step + 1 >= self._last_step:
      fetches['summary'] = self._summary_op
    return tf.train.SessionRunArgs(fetches)

  def after_run(self, run_context, run_values):
    step = int(run_values.results['step'])
    self._next_step, self._stepped = step, True
    if 'summary' in run_values.results:
      self._write(run_values.results['summary'], step)

  def end(self, session):
    if not self._stepped:
      return  # No step was taken: nothing new to show.
    step = int(session.run(self._global_step))
    if step != self._written_step:
      self._write(session.run(self._summary_op), step)

  def _write(self, summary, step):
    writer = tf.summary.FileWriterCache.get(self._output_dir)
    writer.add_summary(summary, step)
    writer.flush()
    self._written_step = step


class ReleaseSyncWorkersHook(tf.train.SessionRunHook):
  """The sync chief's last act: a token for every worker still waiting.

  With SyncReplicasOptimizer a worker's step ends by taking a token that the
  chief's queue runner puts on the queue once it has applied the averaged
  gradients. When the chief stops at the last step, a worker may be waiting
  for a token that would never come; these let its step finish, so it sees
  the final global step and stops too.
  """

  def __init__(self, sync_optimizer, num_workers):
    self._optimizer = sync_optimizer
    self._num_workers = num_workers

  def begin(self):
    self._release = self._optimizer.get_init_tokens_op(
        num_tokens=self._num_workers)

  def end(self, session):
    session.run(self._release)


class StopOnSignalHook(tf.train.SessionRunHook):
  """Turns the first SIGINT (Ctrl-C) or SIGTERM (a scheduler's stop) into a
  stop after the step in flight. The session then closes as after the last
  step, so the checkpoint hook saves the step reached: no work is lost.

  The handlers act only inside `installed()`, and only in the main thread
  (Python delivers signals there). The first signal puts the previous
  handlers back, so a second one acts at once (Ctrl-C raises
  KeyboardInterrupt; SIGTERM ends the command).

  A Python handler runs only between steps, so where a step can wait
  without end (on the other tasks of a cluster), pass SIGTERM in
  `immediate_signals`: inside `installed()` it then ends the process on the
  spot, as by default.
  """

  def __init__(self, stop_signals=(signal.SIGINT, signal.SIGTERM),
               immediate_signals=()):
    self.received = None  # The signal number, once one came.
    self._stop_signals = stop_signals
    self._immediate_signals = immediate_signals
    self._previous = {}

  @contextlib.contextmanager
  def installed(self):
    if threading.current_thread() is threading.main_thread():
      for signum in self._stop_signals + self._immediate_signals:
        # A signal the process was started to ignore (a background job's
        # SIGINT) stays ignored.
        if signal.getsignal(signum) != signal.SIG_IGN:
          self._previous[signum] = signal.signal(
              signum, signal.SIG_DFL if signum in self._immediate_signals
              else self._handle)
    try:
      yield self
    finally:
      self._restore()

  def _restore(self):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}

  def _handle(self, signum, unused_frame):
    self.received = signum
    self._restore()
    log_lib.warning('%s: stopping after this step and saving a checkpoint '
                    '(again to stop at once)', signal.Signals(signum).name)

  def after_run(self, run_context, run_values):
    if self.received is not None:
      run_context.request_stop()


class CheckpointSaverHook(tf.train.CheckpointSaverHook):
  """tf.train.CheckpointSaverHook that does not save again, at the start,
  the checkpoint the run resumed from (`restored_step`, or None), and
  writes the graph once, whole or not at all.

  The stock hook saves as soon as the session is up. For a resumed run that
  rewrites the checkpoint it has just restored, and with it the state file,
  before the run has done anything: a run that then fails would leave the
  train_dir's records changed. The graph (graph.pbtxt, and the graph and
  meta graph for TensorBoard) is still written at the start, from one
  GraphDef: the stock hook serialised the graph three times, and wrote
  graph.pbtxt in place with Python's text printer (mobilenet_v1_025's
  training graph: 0.29 s for its 3.4 MB, against 0.03 s for the protobuf
  library's own printer, whose text parses back to the same GraphDef).
  """

  def __init__(self, checkpoint_dir, restored_step=None, **kwargs):
    super().__init__(checkpoint_dir, **kwargs)
    self._restored_step = restored_step

  def after_create_session(self, session, coord):
    # The stock hook's start, but with one GraphDef. (Its other members
    # are the stock hook's own: the step tensor, writer, saver and timer.)
    step = session.run(self._global_step_tensor)
    graph_def = tf.get_default_graph().as_graph_def(add_shapes=True)
    files.write_atomically(
        os.path.join(self._checkpoint_dir, 'graph.pbtxt'), str(graph_def))
    saver = self._get_saver()
    # The event add_graph writes, without its warning that a GraphDef is
    # deprecated there (a Graph would be serialised again).
    self._summary_writer.add_event(tf.Event(
        wall_time=time.time(), graph_def=graph_def.SerializeToString()))
    self._summary_writer.add_meta_graph(tf.train.export_meta_graph(
        graph_def=graph_def, saver_def=saver.saver_def if saver else None))
    self._save(session, step)
    self._timer.update_last_triggered_step(step)

  def _save(self, session, step):
    if step == self._restored_step:
      self._restored_step = None  # Only the start's save is skipped.
      return False
    return super()._save(session, step)


class FirstSaveListener(tf.train.CheckpointSaverListener):
  """Calls `on_first_save()` once, after the run's first checkpoint save:
  the moment a run has changed its train_dir's checkpoints."""

  def __init__(self, on_first_save):
    self._on_first_save = on_first_save

  def after_save(self, session, global_step_value):
    if self._on_first_save is not None:
      on_first_save, self._on_first_save = self._on_first_save, None
      on_first_save()

