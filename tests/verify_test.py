"""download_and_convert_data.py --verify (engines/verification.py)."""

import os

import pytest

from conftest import error_line, run_cli
import dataset_records
from dataset_records import record_file
from slimvision.engines import verification


def _verify(folder):
  return run_cli('download_and_convert_data.py', '--verify',
                 '--dataset_name=shapes', '--dataset_dir=' + folder)


@pytest.fixture(scope='module')
def damaged(shapes_dir, tmp_path_factory):
  """The shapes set with a truncated train shard, an undecodable image and
  a label out of range; with the bad records verify should list."""
  folder = dataset_records.copy_dataset(
      shapes_dir, str(tmp_path_factory.mktemp('damaged')))
  start, size = dataset_records.truncate_in_record(
      record_file(folder, 'train', 1), 20)
  dataset_records.edit_record(record_file(folder, 'validation', 0), 1,
                              dataset_records.garbage_jpeg)
  dataset_records.edit_record(record_file(folder, 'validation', 1), 5,
                              dataset_records.label(9))
  bad = [
      (record_file(folder, 'train', 1), 20,
       'truncated or corrupt at byte %d of %d; the rest of the file cannot '
       'be read' % (start, size)),
      (record_file(folder, 'validation', 0), 1,
       'cannot be decoded: jpeg::Uncompress failed. Invalid JPEG data or '
       'crop window.'),
      (record_file(folder, 'validation', 1), 5,
       'label out of range [0, 6): 9'),
  ]
  return folder, bad


def test_a_clean_set_verifies_with_its_records_per_split(shapes_dir):
  result = _verify(shapes_dir)
  assert result.returncode == 0, result.stderr
  assert result.stdout == ('train: 48 good record(s) (48 declared)\n'
                           'validation: 12 good record(s) (12 declared)\n')
  assert 'every record is good' in result.stderr


def test_verify_lists_exactly_the_bad_records_and_exits_2(damaged):
  folder, bad = damaged
  result = _verify(folder)
  assert result.returncode == 2
  # The truncation loses train records 20-23 of shard 1 (24 per shard).
  assert result.stdout.splitlines() == [
      'bad record: %s record %d: %s' % b for b in bad] + [
          'train: 44 good record(s) (48 declared)',
          'validation: 10 good record(s) (12 declared)']
  assert error_line(result) == (
      'error: 3 bad record(s) in %s (listed above)' % folder)


def test_verify_returns_the_bad_records(damaged):
  folder, bad = damaged
  result = verification.verify('shapes', folder)
  assert result.bad == [verification.BadRecord(*b) for b in bad]
  assert result.splits == {'train': (44, 48), 'validation': (10, 12)}


def test_verify_needs_a_complete_conversion(shapes_dir, tmp_path):
  folder = dataset_records.copy_dataset(shapes_dir, str(tmp_path))
  os.remove(os.path.join(folder, 'dataset_spec.json'))
  result = _verify(folder)
  assert result.returncode == 2
  assert error_line(result) == (
      'error: %s has no dataset_spec.json: it was not converted by '
      'download_and_convert_data.py (or the conversion did not finish)' %
      folder)
