"""Writing a file all or nothing, and where downloads are kept.

`write_atomically` writes under a temporary name in the file's own folder,
flushes it to disk and renames it into place: a reader sees the old file
or the whole new one, never a half-written one, and a failed or cut write
leaves the old file as it was (a rename is atomic only within one file
system, hence the same folder).
"""

import os
import uuid

# The root of what is downloaded once and kept (model-zoo checkpoints,
# ImageNet's label names): $SLIMVISION_CACHE, else ~/.cache/slimvision.
CACHE_ENV = 'SLIMVISION_CACHE'


def cache_dir(name):
  """The cache folder `name` under $SLIMVISION_CACHE or ~/.cache/slimvision
  (not created here)."""
  root = os.environ.get(CACHE_ENV) or os.path.join(
      os.path.expanduser('~'), '.cache', 'slimvision')
  return os.path.join(root, name)


def write_atomically(path, content):
  """Writes `content` (str, as UTF-8, or bytes) to `path`, replacing any
  file there only once all of it is on disk.

  Args:
    path: the file to write; its folder must exist.
    content: str or bytes.

  Raises:
    OSError: the write or the rename failed; the temporary file is removed
      and a file already at `path` is left untouched.
  """
  data = content.encode('utf-8') if isinstance(content, str) else content
  # Unique per call (two threads of one process may write the same file);
  # the pid names the process whose cut write left it behind.
  temporary = '%s.tmp-%d-%s' % (path, os.getpid(), uuid.uuid4().hex[:8])
  try:
    with open(temporary, 'xb') as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(temporary, path)
  except BaseException:
    try:
      os.remove(temporary)
    except OSError:
      pass  # Never created, or already renamed.
    raise
