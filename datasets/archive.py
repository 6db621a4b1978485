"""Safe reading and extraction of downloaded or user-supplied archives.

A tar (or zip) archive can name entries that land outside the folder it is
unpacked into: absolute paths, `..` components, symbolic or hard links that
point elsewhere, device files and FIFOs. `check_tar()` / `check_zip()` look
at every entry first and refuse the whole archive with an `ArchiveError`
before a single file is written, so a hostile archive never touches the
disk. `extract()` then unpacks only regular files and folders (links inside
the archive are refused too: none of the public datasets needs them).
"""

import os
import posixpath
import shutil
import tarfile
import zipfile

from slimvision.core import errors
from slimvision.core.errors import UserError


class ArchiveError(UserError):
  """An archive that is unreadable or would write outside its target."""


def _check_name(archive_path, name):
  """Raises ArchiveError unless `name` is a relative path inside the target."""
  if not name or '\x00' in name:
    raise ArchiveError('%s: refusing entry with an empty or invalid name %r' %
                       (archive_path, name))
  normalized = name.replace('\\', '/')
  if normalized.startswith('/') or (len(normalized) > 1 and
                                    normalized[1] == ':'):
    raise ArchiveError('%s: refusing entry %r: absolute path (it would be '
                       'written outside the output folder)' %
                       (archive_path, name))
  if '..' in normalized.split('/'):
    raise ArchiveError('%s: refusing entry %r: ".." would write outside the '
                       'output folder' % (archive_path, name))
  return posixpath.normpath(normalized)


def check_tar(tar, archive_path='archive'):
  """Checks every member of an open TarFile.

  Returns:
    The list of TarInfo members (regular files and folders only).

  Raises:
    ArchiveError: an absolute or `..` path, a link (symbolic or hard; the
      message says where it points), a device file or FIFO.
  """
  members = []
  for member in tar.getmembers():
    _check_name(archive_path, member.name)
    if member.issym() or member.islnk():
      target = member.linkname
      if member.issym():
        resolved = posixpath.normpath(posixpath.join(
            posixpath.dirname(member.name), target))
      else:
        resolved = posixpath.normpath(target)
      outside = (target.startswith('/') or resolved == '..' or
                 resolved.startswith('../'))
      raise ArchiveError('%s: refusing %s link %r -> %r%s; dataset archives '
                         'hold only files and folders' % (
                             archive_path,
                             'symbolic' if member.issym() else 'hard',
                             member.name, target,
                             ' (it points outside the output folder)'
                             if outside else ''))
    if member.isdev() or member.isfifo() or not (member.isfile() or
                                                  member.isdir()):
      raise ArchiveError('%s: refusing entry %r: not a regular file or folder '
                         '(device file, FIFO or other special entry)' %
                         (archive_path, member.name))
    members.append(member)
  return members


def check_zip(archive, archive_path='archive'):
  """Checks every entry of an open ZipFile; returns the ZipInfo list."""
  infos = archive.infolist()
  for info in infos:
    _check_name(archive_path, info.filename)
    mode = (info.external_attr >> 16) & 0o170000
    if mode and mode not in (0o100000, 0o040000):  # Not a file or folder.
      raise ArchiveError('%s: refusing entry %r: a link or special file' %
                         (archive_path, info.filename))
  return infos


def open_tar(path):
  """Opens a (compressed) tar archive for reading, with a clear error."""
  try:
    return tarfile.open(path, 'r:*')
  except (tarfile.TarError, OSError, EOFError) as e:
    # tarfile lists each compression it tried, a line each: one line here.
    reason = ('not a gzip, bzip2, xz or plain tar file'
              if 'opened successfully' in str(e) else errors.first_line(e))
    raise ArchiveError('%s is not a readable tar archive (%s); delete it and '
                       'download it again' % (path, reason))


def extract(archive_path, target_dir):
  """Extracts a tar or zip archive into target_dir, after checking it all.

  Args:
    archive_path: a .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz or .zip file.
    target_dir: folder to extract into (created if needed).

  Returns:
    The list of extracted relative paths (files only).

  Raises:
    ArchiveError: an unreadable archive, or any entry that is not a plain
      file or folder inside target_dir; nothing is written in that case.
  """
  target = os.path.realpath(target_dir)
  if zipfile.is_zipfile(archive_path):
    try:
      with zipfile.ZipFile(archive_path) as archive:
        infos = check_zip(archive, archive_path)
        names = []
        for info in infos:
          name = _check_name(archive_path, info.filename)
          _ensure_inside(target, name, archive_path)
          if info.is_dir():
            continue
          path = os.path.join(target, name)
          os.makedirs(os.path.dirname(path), exist_ok=True)
          with archive.open(info) as src, open(path, 'wb') as dst:
            shutil.copyfileobj(src, dst)
          names.append(name)
        return names
    except (zipfile.BadZipFile, EOFError) as e:
      raise ArchiveError('%s is a damaged zip archive (%s)' %
                         (archive_path, e))
  with open_tar(archive_path) as tar:
    try:
      members = check_tar(tar, archive_path)
      for member in members:
        _ensure_inside(target, _check_name(archive_path, member.name),
                       archive_path)
      os.makedirs(target, exist_ok=True)
      names = []
      for member in members:
        name = _check_name(archive_path, member.name)
        path = os.path.join(target, name)
        if member.isdir():
          os.makedirs(path, exist_ok=True)
          continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        src = tar.extractfile(member)
        with src, open(path, 'wb') as dst:
          shutil.copyfileobj(src, dst)
        names.append(name)
      return names
    except (tarfile.TarError, EOFError, OSError) as e:
      if isinstance(e, ArchiveError):
        raise
      raise ArchiveError('%s is damaged or truncated (%s); delete it and '
                         'download it again' % (archive_path, e))


def _ensure_inside(target, name, archive_path):
  """Second line of defence: the real path must stay below `target`."""
  path = os.path.realpath(os.path.join(target, name))
  if path != target and not path.startswith(target + os.sep):
    raise ArchiveError('%s: refusing entry %r: it resolves outside the output '
                       'folder %s' % (archive_path, name, target))
