"""Downloads a dataset file over HTTP(S), checked, resumable by re-running.

`fetch()` streams the file to `NAME.part-PID` beside its final name, printing
a progress line (bytes, percent, rate, ETA), checks the length the server
announced and the published checksum (SHA-256 or MD5) and only then renames
it to NAME. A failed or interrupted download therefore never leaves a file
under the final name; a file already there with the right checksum is kept.
"""

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request

from slimvision.core import log as log_lib
from slimvision.core.errors import UserError
from slimvision.datasets import dataset_utils

_CHUNK = 1 << 20


class DownloadError(UserError):
  """A download that failed, was truncated or has the wrong checksum."""


def file_digest(path, algorithm):
  """Hex digest ('sha256', 'md5', ...) of a file, read in chunks."""
  digest = hashlib.new(algorithm)
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(_CHUNK), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _human(num_bytes):
  for unit in ('B', 'KB', 'MB', 'GB'):
    if num_bytes < 1024 or unit == 'GB':
      return ('%d %s' if unit == 'B' else '%.1f %s') % (num_bytes, unit)
    num_bytes /= 1024.0


def verify(path, sha256=None, md5=None, size=None):
  """Returns None if `path` matches; otherwise the reason it does not."""
  actual_size = os.path.getsize(path)
  if size is not None and actual_size != size:
    return 'it has %d bytes, expected %d' % (actual_size, size)
  for algorithm, expected in (('sha256', sha256), ('md5', md5)):
    if expected:
      actual = file_digest(path, algorithm)
      if actual != expected.lower():
        return '%s %s, expected %s' % (algorithm.upper(), actual, expected)
  return None


def _fetch_once(url, part_path, timeout, stream):
  """Streams url into part_path; returns (bytes written, announced length)."""
  request = urllib.request.Request(url, headers={'User-Agent': 'slimvision'})
  with urllib.request.urlopen(request, timeout=timeout) as response:
    length = response.headers.get('Content-Length')
    total = int(length) if length and length.isdigit() else None
    done, start, last = 0, time.time(), 0.0
    with open(part_path, 'wb') as out:
      while True:
        chunk = response.read(_CHUNK)
        if not chunk:
          break
        out.write(chunk)
        done += len(chunk)
        now = time.time()
        if now - last >= 1.0 or (total and done == total):
          last = now
          rate = done / max(now - start, 1e-6)
          if total:
            line = '%s / %s (%.0f%%), %s/s, ETA %s' % (
                _human(done), _human(total), 100.0 * done / total,
                _human(rate), log_lib.format_duration(
                    (total - done) / max(rate, 1e-6)))
          else:
            line = '%s, %s/s' % (_human(done), _human(rate))
          dataset_utils.progress_line(stream, '>> Downloading %s: %s' % (
              os.path.basename(part_path).split('.part-')[0], line))
    dataset_utils.progress_line(stream, None)
  return done, total


def fetch(url, dest_dir, filename=None, sha256=None, md5=None, size=None,
          retries=3, timeout=60, stream=None, log=print, mirrors=(),
          instead='Download it yourself and pass its local path with '
          '--source_dir'):
  """Downloads `url` to dest_dir/filename unless a good copy is there.

  Args:
    url: http(s) address.
    dest_dir: folder for the file (created if needed).
    filename: local name; the last component of the url by default.
    sha256, md5: published checksum to verify (hex), if any.
    size: expected length in bytes, if known.
    retries: attempts per address before giving up.
    timeout: socket timeout in seconds.
    stream: where the progress line goes (stderr by default).
    log: function taking a message line.
    mirrors: further addresses of the same file, tried in turn.
    instead: what the error suggests when every address failed.

  Returns:
    The path of the verified file.

  Raises:
    DownloadError: every attempt failed, was truncated or had the wrong
      checksum; no file is left under the final name.
  """
  stream = stream or sys.stderr
  filename = filename or url.rstrip('/').rsplit('/', 1)[-1]
  os.makedirs(dest_dir, exist_ok=True)
  path = os.path.join(dest_dir, filename)
  if os.path.exists(path):
    problem = verify(path, sha256, md5, size)
    if problem is None:
      log('Using %s (already downloaded)' % path)
      return path
    log('Discarding %s: %s' % (path, problem))
    os.remove(path)
  part_path = '%s.part-%d' % (path, os.getpid())
  errors = []
  for address in (url,) + tuple(mirrors):
    for attempt in range(1, retries + 1):
      try:
        done, total = _fetch_once(address, part_path, timeout, stream)
        if total is not None and done != total:
          raise DownloadError('truncated: received %d of %d bytes' %
                              (done, total))
        problem = verify(part_path, sha256, md5, size)
        if problem:
          raise DownloadError('corrupt download: %s' % problem)
        os.replace(part_path, path)
        log('Downloaded %s (%s)' % (path, _human(done)))
        return path
      except (urllib.error.URLError, http.client.HTTPException, OSError,
              DownloadError, ValueError) as e:
        reason = getattr(e, 'reason', None) or e
        errors.append('%s (attempt %d): %s' % (address, attempt, reason))
        log('Download failed: %s' % errors[-1])
        if os.path.exists(part_path):
          os.remove(part_path)
        if attempt < retries:
          time.sleep(min(2 ** (attempt - 1), 10) * _RETRY_DELAY_SCALE)
  raise DownloadError('could not download %s: %s. %s' % (
      filename, '; '.join(errors), instead))


# Tests set this to 0 to retry without waiting.
_RETRY_DELAY_SCALE = 1.0
