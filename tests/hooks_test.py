"""The training loop's hooks (engines/hooks.py): progress lines, the NaN
guard, signals, the graph and checkpoint at the start, the last summaries."""

import glob
import re
import signal
import time

from google.protobuf import text_format
import pytest
import tensorflow.compat.v1 as tf

from conftest import tensorflow_log
from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.engines import hooks


class _Clock(object):
  """A clock that reads the given times, one per call."""

  def __init__(self, times):
    self._times = list(times)

  def __call__(self):
    return self._times.pop(0)


def test_eta_is_measured_from_the_first_step_and_does_not_wrap():
  lines = []
  # Session created at t=0; the first step ends at t=30 (start-up); then
  # each step takes 2 s.
  clock = _Clock([0.0, 30.0] + [30.0 + 2 * i for i in range(1, 10)])
  with tf.Graph().as_default():
    global_step = tf.train.get_or_create_global_step()
    step_op = tf.assign_add(global_step, 1)
    hook = hooks.ProgressHook(tf.constant(0.5), hooks.step_after(step_op),
                              every_n_steps=3, images_per_step=8,
                              max_steps=100000, log=lines.append, clock=clock)
    with tf.train.MonitoredSession(hooks=[hook]) as session:
      for _ in range(7):
        session.run(step_op)
  assert lines[0] == ('global step 1: loss = 0.5000 (first step of this '
                      'run: 30.0 s)')
  # Step 3: 2 steps of 2 s since step 1: 4 images/sec, and 99997 steps
  # left at 2 s each: 55:33:14, not a time of day.
  # TF-Slim's line first, which scripts parse from its logs.
  assert lines[1] == ('global step 3: loss = 0.5000 (2.000 sec/step) 0%, '
                      '4.0 images/sec, ETA 55:33:14')
  assert re.match(r'global step (\d+): loss = ([\d.]+) \(([\d.]+) '
                  r'sec/step\)', lines[1]).groups() == ('3', '0.5000',
                                                       '2.000')
  assert lines[2].startswith('global step 6: ')
  assert len(lines) == 3


def test_the_last_step_is_always_logged_with_its_percent():
  lines = []
  clock = _Clock([0.0, 5.0, 6.0, 7.0])
  with tf.Graph().as_default():
    global_step = tf.train.get_or_create_global_step()
    step_op = tf.assign_add(global_step, 1)
    hook = hooks.ProgressHook(tf.constant(1.25), hooks.step_after(step_op),
                              every_n_steps=100, images_per_step=4,
                              max_steps=3, log=lines.append, clock=clock)
    with tf.train.MonitoredSession(hooks=[hook]) as session:
      for _ in range(3):
        session.run(step_op)
  assert lines[-1] == ('global step 3: loss = 1.2500 (1.000 sec/step) '
                       '100%, 4.0 images/sec, ETA 0:00:00')


@pytest.mark.parametrize('seconds, text', [(0, '0:00:00'), (59.6, '0:01:00'),
                                           (86400 + 61, '24:01:01'),
                                           (-3, '0:00:00')])
def test_format_duration(seconds, text):
  assert log.format_duration(seconds) == text


def test_a_nan_loss_stops_with_the_last_good_checkpoint_named(tmp_path):
  with tf.Graph().as_default():
    global_step = tf.train.get_or_create_global_step()
    step_op = tf.assign_add(global_step, 1)
    hook = hooks.FiniteLossHook(tf.constant(float('nan')),
                                hooks.step_after(step_op), str(tmp_path))
    with pytest.raises(UserError, match=r'loss is nan at step 1: training '
                       r'stopped. The last good checkpoint is \(none'):
      with tf.train.MonitoredSession(hooks=[hook]) as session:
        session.run(step_op)


def test_start_up_is_broken_down_once_at_the_first_step():
  lines = []
  now = time.time()
  with tf.Graph().as_default():
    global_step = tf.train.get_or_create_global_step()
    hook = hooks.StartupHook(run_start=now - 5.0, graph_built=now - 3.0,
                             command_start=now - 10.0, log=lines.append)
    step_op = tf.assign_add(global_step, 1)
    with tf.train.MonitoredSession(hooks=[hook]) as session:
      for _ in range(3):
        session.run(step_op)
  assert len(lines) == 1
  match = re.match(r'Start-up: graph 2\.0 s, session and restore ([\d.]+) s, '
                   r'first step \(with the start-up saves\) ([\d.]+) s; the '
                   r'first step ended ([\d.]+) s after the command started '
                   r'\(5\.0 s before training began', lines[0])
  assert match, lines[0]
  session_secs, step_secs, total = map(float, match.groups())
  # The parts add up to the whole: 5 s before the run, 2 s of graph.
  assert abs(5.0 + 2.0 + session_secs + step_secs - total) <= 0.2


class _RunContext(object):
  stop_requested = False

  def request_stop(self):
    self.stop_requested = True


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_a_signal_asks_for_a_stop_and_a_second_acts_at_once(signum,
                                                            terminal_sigint):
  stop = hooks.StopOnSignalHook()
  before = signal.getsignal(signum)
  with stop.installed():
    context = _RunContext()
    stop.after_run(context, None)
    assert not context.stop_requested and stop.received is None
    assert signal.getsignal(signum) == stop._handle  # pylint: disable=protected-access
    signal.raise_signal(signum)
    assert stop.received == signum
    # The next signal meets the handler from before: it acts at once.
    assert signal.getsignal(signum) is before
    stop.after_run(context, None)
    assert context.stop_requested
  assert signal.getsignal(signum) is before


def test_an_ignored_signal_stays_ignored():
  before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
  try:
    stop = hooks.StopOnSignalHook()
    with stop.installed():
      assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
      signal.raise_signal(signal.SIGTERM)
    assert stop.received is None
  finally:
    signal.signal(signal.SIGTERM, before)


def test_an_immediate_signal_gets_the_default_action_inside(terminal_sigint):
  before = signal.getsignal(signal.SIGTERM)
  stop = hooks.StopOnSignalHook((signal.SIGINT,), (signal.SIGTERM,))
  with stop.installed():
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) == stop._handle  # pylint: disable=protected-access
  assert signal.getsignal(signal.SIGTERM) is before


def _events(folder):
  """Every event in the event files of `folder`, file by file."""
  return [event for path in sorted(glob.glob(str(folder / 'events.*')))
          for event in tf.train.summary_iterator(path)]


def test_checkpoint_hook_writes_the_graph_once_whole(tmp_path):
  """graph.pbtxt (parsed back: the graph's nodes), the graph and meta graph
  (with the saver) for TensorBoard, a checkpoint with its .meta at the
  start, and no temporary file left."""
  with tf.Graph().as_default() as graph:
    step = tf.train.get_or_create_global_step()
    tf.Variable(tf.ones([3]), name='weights')
    step_op = tf.assign_add(step, 1)
    hook = hooks.CheckpointSaverHook(str(tmp_path), save_secs=10**9)
    with tensorflow_log() as records:
      with tf.train.MonitoredSession(hooks=[hook]) as session:
        session.run(step_op)
    nodes = {node.name for node in graph.as_graph_def().node}
  # Nothing for the user to act on (add_graph warns for a GraphDef).
  assert not [r for r in records if 'GraphDef' in r.getMessage()]
  graph_def = text_format.Parse((tmp_path / 'graph.pbtxt').read_text(),
                                tf.GraphDef())
  assert {node.name for node in graph_def.node} == nodes
  assert 'weights' in nodes and 'save/SaveV2' in nodes
  events = _events(tmp_path)
  graphs = [tf.GraphDef.FromString(e.graph_def) for e in events
            if e.HasField('graph_def')]
  metas = [tf.MetaGraphDef.FromString(e.meta_graph_def) for e in events
           if e.HasField('meta_graph_def')]
  assert {node.name for node in graphs[-1].node} == nodes
  assert all(e.wall_time > 0 for e in events if e.HasField('graph_def'))
  assert metas[-1].saver_def.save_tensor_name
  assert {node.name for node in metas[-1].graph_def.node} == nodes
  assert sorted(p.name for p in tmp_path.iterdir()
                if p.name.startswith('model.ckpt-0')) == [
                    'model.ckpt-0.data-00000-of-00001', 'model.ckpt-0.index',
                    'model.ckpt-0.meta']
  assert not [p for p in tmp_path.iterdir() if '.tmp-' in p.name]


@pytest.mark.parametrize('last_step', [3, None], ids=['known', 'unknown'])
def test_the_last_steps_summaries_are_written_once(tmp_path, last_step):
  """With the last step known, the summaries come with that step, from its
  own run (no extra run of the summary op); otherwise from one more run at
  the end. Either way once, labelled with the last step."""
  with tf.Graph().as_default():
    step = tf.train.get_or_create_global_step()
    summary_runs = tf.Variable(0, name='summary_runs')
    step_op = tf.assign_add(step, 1)
    with tf.control_dependencies([tf.assign_add(summary_runs, 1)]):
      summary_op = tf.summary.scalar('one', tf.constant(1.0))
    after = hooks.step_after(step_op)
    hook = hooks.LastStepSummaryHook(summary_op, str(tmp_path), after,
                                     last_step=last_step)
    stop = hooks.StopAtStepHook(after, 3)
    with tf.train.MonitoredSession(hooks=[hook, stop]) as session:
      while not session.should_stop():
        session.run(step_op)
      # Before the session's end: the summary op has run with the last
      # step where that was known, not yet otherwise.
      runs = session.run_step_fn(
          lambda step_context: step_context.session.run(summary_runs))
  assert runs == (1 if last_step else 0)
  assert [e.step for e in _events(tmp_path) if e.summary.value] == [3]
