"""The published TF-Slim model-zoo checkpoints, fetched by name.

`--checkpoint_path=zoo:<model_name>` (e.g. `zoo:mobilenet_v1_025`) names the
ImageNet checkpoint that research/slim published for that network. `resolve()`
downloads its tarball once into a cache folder, extracts it and returns the
checkpoint's file prefix; later runs find it there without any network.

Cache layout (the folder is `$SLIMVISION_CACHE/zoo`, by default
`~/.cache/slimvision/zoo`), mirroring the paths of the download site:

  <cache>/<path>/<tarball>          the download, kept for re-extraction
  <cache>/<path>/<tarball>.sha256   its SHA-256, recorded at the first download
                                    and checked whenever the tarball is reused
  <cache>/<path>/<stem>/            the extracted tarball

The extracted folder appears only complete: the tarball is unpacked into
`<stem>.part-PID` beside it and renamed into place at the end, so a cut
extraction never leaves a folder that looks finished.

`$SLIMVISION_ZOO_URL` replaces the download site (for a mirror, or a local
server in tests): http://download.tensorflow.org/models/X is fetched from
$SLIMVISION_ZOO_URL/X, any other published address from
$SLIMVISION_ZOO_URL/<its path>.
"""

import collections
import glob
import os
import shutil
import tarfile
import urllib.parse
import zlib

from slimvision.core import log as log_lib
from slimvision.core.errors import UserError
from slimvision.core.files import cache_dir
from slimvision.core.files import write_atomically
from slimvision.datasets import archive
from slimvision.datasets import download

PREFIX = 'zoo:'
URL_ENV = 'SLIMVISION_ZOO_URL'

# The published hosts whose `models/` folder maps to the root of a mirror
# (storage.googleapis.com/download.tensorflow.org is the same bucket).
_SITE_ROOTS = ('http://download.tensorflow.org/models/',
               'https://download.tensorflow.org/models/',
               'https://storage.googleapis.com/download.tensorflow.org/models/')
_ARCHIVE_SUFFIXES = ('.tar.gz', '.tgz', '.tar')

ZooCheckpoint = collections.namedtuple(
    'ZooCheckpoint', ['url', 'checkpoint', 'top1', 'num_classes',
                      'moving_averages'])
ZooCheckpoint.__doc__ = """A published checkpoint.

Fields:
  url: the tarball's published address.
  checkpoint: the checkpoint prefix inside the tarball: a V2 prefix (with
    `.index` and `.data-*` files) or a V1 single file (the 2016 tarballs).
  top1: ImageNet top-1 accuracy in percent, as research/slim reports it.
  num_classes: logits of the checkpoint: 1001 (a background class first) or
    1000 (VGG and ResNet V1, converted from Caffe).
  moving_averages: whether the checkpoint also holds each weight's
    `<name>/ExponentialMovingAverage` (research/slim's example restores
    those for inference; fine-tuning starts from the raw weights).
"""

_TF = 'http://download.tensorflow.org/models/'
_GCS = 'https://storage.googleapis.com/download.tensorflow.org/models/'
_MOBILENET_V2 = 'https://storage.googleapis.com/mobilenet_v2/checkpoints/'

# research/slim README "Pre-trained Models"; the MobileNet V1 widths at 224 px
# from nets/mobilenet_v1.md. Only names of our networks registry; ResNet 200
# and the MobileNet V3 checkpoints are not in the table.
MODELS = {
    'inception_v1': ZooCheckpoint(
        _TF + 'inception_v1_2016_08_28.tar.gz', 'inception_v1.ckpt',
        69.8, 1001, False),
    'inception_v2': ZooCheckpoint(
        _TF + 'inception_v2_2016_08_28.tar.gz', 'inception_v2.ckpt',
        73.9, 1001, False),
    'inception_v3': ZooCheckpoint(
        _TF + 'inception_v3_2016_08_28.tar.gz', 'inception_v3.ckpt',
        78.0, 1001, False),
    'inception_v4': ZooCheckpoint(
        _TF + 'inception_v4_2016_09_09.tar.gz', 'inception_v4.ckpt',
        80.2, 1001, False),
    'inception_resnet_v2': ZooCheckpoint(
        _TF + 'inception_resnet_v2_2016_08_30.tar.gz',
        'inception_resnet_v2_2016_08_30.ckpt', 80.4, 1001, False),
    'resnet_v1_50': ZooCheckpoint(
        _TF + 'resnet_v1_50_2016_08_28.tar.gz', 'resnet_v1_50.ckpt',
        75.2, 1000, False),
    'resnet_v1_101': ZooCheckpoint(
        _TF + 'resnet_v1_101_2016_08_28.tar.gz', 'resnet_v1_101.ckpt',
        76.4, 1000, False),
    'resnet_v1_152': ZooCheckpoint(
        _TF + 'resnet_v1_152_2016_08_28.tar.gz', 'resnet_v1_152.ckpt',
        76.8, 1000, False),
    'resnet_v2_50': ZooCheckpoint(
        _TF + 'resnet_v2_50_2017_04_14.tar.gz', 'resnet_v2_50.ckpt',
        75.6, 1001, False),
    'resnet_v2_101': ZooCheckpoint(
        _TF + 'resnet_v2_101_2017_04_14.tar.gz', 'resnet_v2_101.ckpt',
        77.0, 1001, False),
    'resnet_v2_152': ZooCheckpoint(
        _TF + 'resnet_v2_152_2017_04_14.tar.gz', 'resnet_v2_152.ckpt',
        77.8, 1001, False),
    'vgg_16': ZooCheckpoint(
        _TF + 'vgg_16_2016_08_28.tar.gz', 'vgg_16.ckpt', 71.5, 1000, False),
    'vgg_19': ZooCheckpoint(
        _TF + 'vgg_19_2016_08_28.tar.gz', 'vgg_19.ckpt', 71.1, 1000, False),
    'mobilenet_v1': ZooCheckpoint(
        _TF + 'mobilenet_v1_2018_08_02/mobilenet_v1_1.0_224.tgz',
        'mobilenet_v1_1.0_224.ckpt', 70.9, 1001, False),
    'mobilenet_v1_075': ZooCheckpoint(
        _TF + 'mobilenet_v1_2018_08_02/mobilenet_v1_0.75_224.tgz',
        'mobilenet_v1_0.75_224.ckpt', 68.4, 1001, False),
    'mobilenet_v1_050': ZooCheckpoint(
        _TF + 'mobilenet_v1_2018_08_02/mobilenet_v1_0.5_224.tgz',
        'mobilenet_v1_0.5_224.ckpt', 63.3, 1001, False),
    'mobilenet_v1_025': ZooCheckpoint(
        _TF + 'mobilenet_v1_2018_08_02/mobilenet_v1_0.25_224.tgz',
        'mobilenet_v1_0.25_224.ckpt', 49.8, 1001, False),
    'mobilenet_v2': ZooCheckpoint(
        _MOBILENET_V2 + 'mobilenet_v2_1.0_224.tgz',
        'mobilenet_v2_1.0_224.ckpt', 71.9, 1001, True),
    'mobilenet_v2_140': ZooCheckpoint(
        _MOBILENET_V2 + 'mobilenet_v2_1.4_224.tgz',
        'mobilenet_v2_1.4_224.ckpt', 74.9, 1001, True),
    'nasnet_mobile': ZooCheckpoint(
        _GCS + 'nasnet-a_mobile_04_10_2017.tar.gz', 'model.ckpt',
        74.0, 1001, False),
    'nasnet_large': ZooCheckpoint(
        _GCS + 'nasnet-a_large_04_10_2017.tar.gz', 'model.ckpt',
        82.7, 1001, False),
    'pnasnet_mobile': ZooCheckpoint(
        _GCS + 'pnasnet-5_mobile_2017_12_13.tar.gz', 'model.ckpt',
        74.2, 1001, False),
    'pnasnet_large': ZooCheckpoint(
        _GCS + 'pnasnet-5_large_2017_12_13.tar.gz', 'model.ckpt',
        82.9, 1001, False),
}


def is_zoo(checkpoint_path):
  """Whether a --checkpoint_path value names a model-zoo checkpoint."""
  return bool(checkpoint_path) and checkpoint_path.startswith(PREFIX)


def entry_of(spec):
  """(name, its ZooCheckpoint or None) of 'zoo:<model_name>' (or a bare
  name)."""
  name = spec[len(PREFIX):].strip() if is_zoo(spec) else spec
  return name, MODELS.get(name)


def default_cache_dir():
  """The cache folder: $SLIMVISION_CACHE/zoo or ~/.cache/slimvision/zoo."""
  return cache_dir('zoo')


def _site_path(url):
  """The tarball's path below the download site: 'x/y.tgz' of a url."""
  for root in _SITE_ROOTS:
    if url.startswith(root):
      return url[len(root):]
  return urllib.parse.urlparse(url).path.lstrip('/')


def download_url(entry):
  """The address to fetch `entry` from, after $SLIMVISION_ZOO_URL."""
  base = os.environ.get(URL_ENV)
  if not base:
    return entry.url
  return base.rstrip('/') + '/' + _site_path(entry.url)


def _stem(filename):
  for suffix in _ARCHIVE_SUFFIXES:
    if filename.endswith(suffix):
      return filename[:-len(suffix)]
  return filename + '.d'


def find_checkpoint(folder, expected=None):
  """The checkpoint prefix in an extracted tarball.

  Args:
    folder: the extracted tarball.
    expected: the prefix the table names, relative to `folder` (found at
      any depth, since some tarballs hold a folder of their own).

  Returns:
    The path of `expected` if the folder holds it, else of its only
    checkpoint: a V2 prefix (`X` of `X.index`) or a V1 single file (`X.ckpt`).

  Raises:
    UserError: no checkpoint, or several and none of them `expected`.
  """
  found = []
  for parent, _, files in os.walk(folder):
    for name in files:
      if name.endswith('.index'):
        found.append(os.path.join(parent, name[:-len('.index')]))
      elif name.endswith('.ckpt'):  # A V1 checkpoint is one file.
        found.append(os.path.join(parent, name))
  found.sort()
  if expected:
    for path in found:
      if os.path.basename(path) == os.path.basename(expected):
        return path
  if len(found) == 1:
    return found[0]
  relative = [os.path.relpath(p, folder) for p in found]
  raise UserError('%s holds %s' % (
      folder, 'no checkpoint (no .index or .ckpt file)' if not found else
      'several checkpoints (%s) and not %s' % (', '.join(relative),
                                               expected)))


def _remove(*paths):
  for path in paths:
    if os.path.isdir(path):
      shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
      os.remove(path)


def _remove_stale_parts(target):
  """Removes the `target.part-PID` files or folders of downloads and
  extractions that were cut (their process is gone); a running one's are
  left alone."""
  for part in glob.glob(glob.escape(target) + '.part-*'):
    pid = part.rsplit('.part-', 1)[1]
    if pid.isdigit() and int(pid) != os.getpid():
      try:
        os.kill(int(pid), 0)
        continue  # Still running.
      except ProcessLookupError:
        pass
      except PermissionError:
        continue  # Someone else's process.
    _remove(part)


def _by_hand(entry):
  return ('download %s by hand, extract it and pass '
          '--checkpoint_path=<that folder>/%s' % (entry.url, entry.checkpoint))


def _failures(message, filename):
  """fetch()'s DownloadError message shortened for our error line: its
  reasons without the address repeated for each attempt, nor its advice
  (--source_dir, which is for datasets). Unparsed text is kept as it is."""
  text = message.split('. Download it yourself')[0]
  lead = 'could not download %s: ' % filename
  if text.startswith(lead):
    text = text[len(lead):]
  reasons = []
  attempts = text.split('; ')
  for attempt in attempts:
    head, found, reason = attempt.partition('): ')
    if not found or '(attempt ' not in head:
      return text
    if reason not in reasons:
      reasons.append(reason)
  return '%d attempt%s: %s' % (len(attempts), 's' if len(attempts) > 1
                               else '', '; '.join(reasons))


def resolve(spec, cache_dir=None, log=log_lib.info, flag='--checkpoint_path',
            stream=None):
  """The local checkpoint prefix of `zoo:<model_name>`, downloaded if needed.

  Args:
    spec: 'zoo:<model_name>', a name of `MODELS`.
    cache_dir: the cache folder (default: `default_cache_dir()`).
    log: function taking a message line.
    flag: the flag the value came from, for error messages.
    stream: where the download's progress line goes (stderr by default).

  Returns:
    A checkpoint file prefix for tf.train.Saver.restore and
    tf.train.load_checkpoint (a V2 prefix or a V1 single file).

  Raises:
    UserError: an unknown name (the message lists the valid ones); a
      download that failed (naming the URL); a damaged tarball (removed, so
      that the next run downloads it again).
  """
  name, entry = entry_of(spec)
  if entry is None:
    raise UserError('%s %s: no model-zoo checkpoint of that name; valid '
                    'names: %s' % (flag, spec, ', '.join(sorted(MODELS))))
  cached = _cached_files(entry, cache_dir)
  describe = '%s%s (ImageNet top-1 %.1f%%, %d classes)' % (
      PREFIX, name, entry.top1, entry.num_classes)
  if os.path.isdir(cached.extracted):
    try:
      path = find_checkpoint(cached.extracted, entry.checkpoint)
      log('Using %s: %s' % (describe, path))
      return path
    except UserError as e:
      # Files deleted from the cache by hand: extract the tarball again.
      log('Extracting again: %s' % e)
      _remove(cached.extracted)
  where = '%s %s' % (flag, spec)
  _download(entry, cached, where, log=log, stream=stream)
  path = _extract(entry, cached, where, log=log)
  log('Using %s: %s' % (describe, path))
  return path


_Cached = collections.namedtuple('_Cached', [
    'folder', 'tarball', 'sha_file', 'extracted'])


def _cached_files(entry, cache_dir):
  """Where the cache keeps a model's tarball, its SHA256 and its files."""
  folder = os.path.join(cache_dir or default_cache_dir(),
                        os.path.dirname(_site_path(entry.url)))
  tarball = os.path.join(folder, os.path.basename(_site_path(entry.url)))
  return _Cached(folder, tarball, tarball + '.sha256',
                 os.path.join(folder, _stem(os.path.basename(tarball))))


def _download(entry, cached, where, log, stream):
  """Downloads the model's tarball into the cache, unless it is there
  with the SHA256 recorded at its first download; records that SHA256.
  `where` is the flag and value, for messages."""
  url = download_url(entry)
  tarball_name = os.path.basename(cached.tarball)
  recorded = None
  if os.path.exists(cached.sha_file):
    with open(cached.sha_file) as f:
      recorded = (f.read().split() or [None])[0]
  _remove_stale_parts(cached.tarball)  # Downloads that were cut.
  try:
    download.fetch(url, cached.folder, tarball_name, sha256=recorded,
                   log=log, stream=stream)
  except download.DownloadError as e:
    raise UserError(
        '%s: could not download %s (%s); %s%s' % (
            where, url, _failures(str(e), tarball_name), _by_hand(entry),
            '; if the published tarball has changed, delete %s' %
            cached.sha_file if recorded and 'SHA256' in str(e) else ''))
  if recorded is None:
    write_atomically(cached.sha_file, '%s  %s\n' % (
        download.file_digest(cached.tarball, 'sha256'), tarball_name))


def _extract(entry, cached, where, log):
  """Extracts the cached tarball (to a temporary folder, renamed into
  place); returns the checkpoint prefix in it. A damaged tarball is
  removed from the cache, with its SHA256."""
  extracted = cached.extracted
  _remove_stale_parts(extracted)
  part = '%s.part-%d' % (extracted, os.getpid())
  _remove(part)
  try:
    log('Extracting %s' % cached.tarball)
    archive.extract(cached.tarball, part)
    path = find_checkpoint(part, entry.checkpoint)
  except (UserError, tarfile.TarError, zlib.error, EOFError, OSError) as e:
    _remove(part, cached.tarball, cached.sha_file)
    # The archive's own advice (delete it, download again) is done here;
    # tarfile's reasons go on over more lines, cut at the first.
    detail = str(e).splitlines()[0].split('; delete it and download')[0]
    detail = detail.rstrip(': ')
    detail += ')' * max(0, detail.count('(') - detail.count(')'))
    raise UserError(
        '%s: the tarball from %s is damaged or not a model-zoo tarball '
        '(%s); it was removed from the cache: run again to download it '
        'afresh, or %s' % (where, download_url(entry), detail,
                           _by_hand(entry)))
  try:
    os.rename(part, extracted)
  except OSError:
    # Another process finished the same extraction first: use its folder.
    _remove(part)
    if not os.path.isdir(extracted):
      raise
  return os.path.join(extracted, os.path.relpath(path, part))


def format_table():
  """The model-zoo names as a Markdown table for the README: the value to
  pass, ImageNet top-1 (%) and classes (1001: a background class first),
  then a note on the checkpoints that hold moving averages."""
  lines = ['| `--checkpoint_path` | ImageNet top-1 (%) | Classes |',
           '| --- | ---: | ---: |']
  for name, entry in MODELS.items():
    lines.append('| `%s%s`%s | %.1f | %d |' % (
        PREFIX, name, ' \\*' if entry.moving_averages else '', entry.top1,
        entry.num_classes))
  if any(entry.moving_averages for entry in MODELS.values()):
    lines += ['', '\\* The checkpoint also holds the exponential moving '
              'average of each weight (`<name>/ExponentialMovingAverage`), '
              'which research/slim\'s own example restores for inference. '
              'Fine-tuning starts from the raw weights.']
  return '\n'.join(lines) + '\n'
