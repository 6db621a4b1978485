"""engines/config.py: configs built in code are checked as the flags are."""

import pytest

from slimvision.core.errors import UserError
from slimvision.engines import config as config_lib


@pytest.fixture
def train(tmp_path, monkeypatch):
  """A TrainConfig that validates, with any fields replaced."""
  monkeypatch.delenv('TF_CONFIG', raising=False)

  def make(**fields):
    settings = dict(dataset_dir=str(tmp_path / 'data'),
                    train_dir=str(tmp_path / 'train'))
    settings.update(fields)
    return config_lib.TrainConfig(**settings)

  return make


def test_the_base_training_config_is_accepted(train):
  train().validate()
  train(sync_replicas=True, replicas_to_aggregate=2,
        learning_rate_decay_type='polynomial', precision='bf16').validate()
  # Without --sync_replicas the count is not used.
  train(replicas_to_aggregate=0).validate()


@pytest.mark.parametrize('job_name', ['', 'ps'], ids=['worker', 'ps'])
@pytest.mark.parametrize('fields, message', [
    (dict(learning_rate_decay_type='step'),
     "Unknown --learning_rate_decay_type 'step'; valid: exponential, fixed, "
     'polynomial, cosine'),
    (dict(sync_replicas=True, replicas_to_aggregate=0),
     '--replicas_to_aggregate must be at least 1 with --sync_replicas, got 0'),
    (dict(precision='fp64'),
     "Unknown --precision 'fp64'; valid: fp32, bf16, fp16, auto"),
], ids=['decay_type', 'replicas_to_aggregate', 'precision'])
def test_training_refuses_each_bad_setting_naming_its_flag(
    train, fields, message, job_name):
  # A parameter server (which needs no --dataset_dir) is checked the same.
  config = train(job_name=job_name, **fields)
  with pytest.raises(UserError) as error:
    config.validate()
  assert str(error.value) == message


@pytest.mark.parametrize('config_class, output', [
    (config_lib.EvalConfig, 'eval_dir'),
    (config_lib.ExportConfig, 'output_file')])
def test_evaluation_and_export_refuse_an_unknown_precision(
    config_class, output, tmp_path):
  fields = {'dataset_dir': str(tmp_path), output: str(tmp_path / 'out')}
  config_class(**fields).validate()
  with pytest.raises(UserError, match=r"^Unknown --precision 'fp64'"):
    config_class(precision='fp64', **fields).validate()
