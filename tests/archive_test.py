"""Safe extraction: hostile archive entries are refused before any write."""

import io
import os
import tarfile
import zipfile

import pytest

from slimvision.datasets import archive
from slimvision.datasets import flowers


def _tar(path, entries):
  """entries: (name, kind, payload) with kind file/symlink/hardlink/chrdev."""
  with tarfile.open(path, 'w:gz') as tar:
    for name, kind, payload in entries:
      info = tarfile.TarInfo(name)
      if kind == 'file':
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
        continue
      info.type = {'symlink': tarfile.SYMTYPE, 'hardlink': tarfile.LNKTYPE,
                   'chrdev': tarfile.CHRTYPE, 'fifo': tarfile.FIFOTYPE}[kind]
      info.linkname = payload or ''
      tar.addfile(info)
  return path


def _all_files(root):
  return sorted(os.path.relpath(os.path.join(d, f), root)
                for d, _, files in os.walk(root) for f in files)


def test_plain_archive_extracts(tmp_path):
  path = _tar(str(tmp_path / 'ok.tgz'), [
      ('top/a.txt', 'file', b'alpha'), ('top/sub/b.txt', 'file', b'beta')])
  names = archive.extract(path, str(tmp_path / 'out'))
  assert sorted(names) == ['top/a.txt', 'top/sub/b.txt']
  assert (tmp_path / 'out' / 'top' / 'sub' / 'b.txt').read_bytes() == b'beta'


@pytest.mark.parametrize('entry, message', [
    (('../evil', 'file', b'x'), r'"\.\." would write outside'),
    (('top/../../evil', 'file', b'x'), r'"\.\." would write outside'),
    (('/ABSOLUTE/evil', 'file', b'x'), 'absolute path'),
    (('top/link', 'symlink', '../../evil'), 'symbolic link.*points outside'),
    (('top/link', 'symlink', '/etc/passwd'), 'symbolic link.*points outside'),
    (('top/hard', 'hardlink', '/etc/passwd'), 'hard link.*points outside'),
    (('top/dev', 'chrdev', None), 'device file'),
    (('top/fifo', 'fifo', None), 'device file, FIFO'),
])
def test_hostile_entry_is_refused_before_anything_is_written(tmp_path, entry,
                                                             message):
  name = entry[0].replace('/ABSOLUTE', str(tmp_path / 'abs'))
  entries = [('top/first.txt', 'file', b'ok'), (name,) + entry[1:],
             ('top/last.txt', 'file', b'ok')]
  path = _tar(str(tmp_path / 'bad.tgz'), entries)
  target = tmp_path / 'work' / 'out'
  os.makedirs(str(target))
  with pytest.raises(archive.ArchiveError, match=message):
    archive.extract(path, str(target))
  assert _all_files(str(tmp_path / 'work')) == []  # Not even first.txt.
  assert not (tmp_path / 'work' / 'evil').exists()
  assert not (tmp_path / 'evil').exists()
  assert not (tmp_path / 'abs').exists()


def test_hostile_zip_is_refused(tmp_path):
  path = str(tmp_path / 'bad.zip')
  with zipfile.ZipFile(path, 'w') as z:
    z.writestr('ok.txt', b'ok')
    z.writestr('../evil', b'x')
  with pytest.raises(archive.ArchiveError, match='outside'):
    archive.extract(path, str(tmp_path / 'out'))
  assert not (tmp_path / 'evil').exists()
  assert not (tmp_path / 'out' / 'ok.txt').exists()


def test_truncated_archive_is_a_clear_error(tmp_path):
  path = _tar(str(tmp_path / 'ok.tgz'), [('a.bin', 'file', os.urandom(50000))])
  data = open(path, 'rb').read()
  with open(path, 'wb') as f:
    f.write(data[:len(data) // 2])
  with pytest.raises(archive.ArchiveError, match='damaged or truncated|not a '
                     'readable'):
    archive.extract(path, str(tmp_path / 'out'))


def test_a_file_that_is_no_archive_is_one_line(tmp_path):
  path = str(tmp_path / 'cifar-10-python.tar.gz')
  with open(path, 'wb') as f:
    f.write(b'<html>a proxy page, not the archive</html>' * 50)
  with pytest.raises(archive.ArchiveError) as raised:
    archive.open_tar(path)
  assert str(raised.value) == (
      '%s is not a readable tar archive (not a gzip, bzip2, xz or plain tar '
      'file); delete it and download it again' % path)


def test_converter_refuses_hostile_archive(tmp_path):
  path = _tar(str(tmp_path / 'flower_photos.tgz'), [
      ('flower_photos/daisy/a.jpg', 'file', b'not really'),
      ('../../evil.jpg', 'file', b'x')])
  out = tmp_path / 'out'
  with pytest.raises(archive.ArchiveError, match='outside'):
    flowers.convert(str(out), source=path, log=lambda m: None)
  assert not (tmp_path / 'evil.jpg').exists()
  assert _all_files(str(out)) == []  # Temporary extraction folder removed.
