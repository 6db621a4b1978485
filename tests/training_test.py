"""engines/training.py: the notes and warnings of a run's settings."""

from slimvision.engines import training
from slimvision.engines.config import TrainConfig


def test_a_run_too_short_for_the_batch_norm_decay_is_warned(monkeypatch):
  warnings = []
  monkeypatch.setattr(training.log, 'warning',
                      lambda message, *args: warnings.append(message % args))
  training._warn_if_batch_norm_lags(  # pylint: disable=protected-access
      TrainConfig(model_name='mobilenet_v1_025', max_number_of_steps=170))
  assert len(warnings) == 1
  assert '--max_number_of_steps=170 is short for a batch-norm decay of ' \
      '0.9997' in warnings[0]
  assert '--batch_norm_decay=0.9706' in warnings[0]
  for quiet in (TrainConfig(model_name='mobilenet_v1_025',
                            max_number_of_steps=170, batch_norm_decay=0.97),
                TrainConfig(model_name='cifarnet', max_number_of_steps=170),
                TrainConfig(model_name='mobilenet_v1_025',
                            max_number_of_steps=100000)):
    training._warn_if_batch_norm_lags(quiet)  # pylint: disable=protected-access
  assert len(warnings) == 1


def test_clones_on_a_cpu_are_explained(monkeypatch):
  notes = []
  monkeypatch.setattr(training.log, 'info',
                      lambda message, *args: notes.append(message % args))
  monkeypatch.setattr(training.tf.config, 'list_physical_devices',
                      lambda kind=None: [])
  training._note_clones_on_the_cpu(  # pylint: disable=protected-access
      TrainConfig(num_clones=3, batch_size=15))
  assert len(notes) == 1
  assert notes[0].startswith('Note: --num_clones=3 run on the CPU (no GPU '
                             'here): the clones, 5 examples each')
  training._note_clones_on_the_cpu(  # pylint: disable=protected-access
      TrainConfig(num_clones=1, batch_size=15))
  assert len(notes) == 1
