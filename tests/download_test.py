"""Downloads from a local HTTP server: checked, never half-written."""

import hashlib
import http.server
import os
import threading

import pytest

from slimvision.datasets import download

PAYLOAD = bytes(range(256)) * 400  # 102400 bytes.


class _Handler(http.server.BaseHTTPRequestHandler):
  """/good: the payload; /truncated: announces it all, sends half;
  /nolength: the payload without Content-Length."""
  hits = []

  def do_GET(self):  # pylint: disable=invalid-name
    _Handler.hits.append(self.path)
    body = PAYLOAD
    self.send_response(200)
    if self.path != '/nolength':
      self.send_header('Content-Length', str(len(PAYLOAD)))
    self.end_headers()
    if self.path == '/truncated':
      body = PAYLOAD[:len(PAYLOAD) // 2]
    self.wfile.write(body)
    self.wfile.flush()
    self.close_connection = True

  def log_message(self, *args):
    pass


@pytest.fixture
def server(monkeypatch):
  monkeypatch.setattr(download, '_RETRY_DELAY_SCALE', 0.0)
  _Handler.hits = []
  httpd = http.server.HTTPServer(('127.0.0.1', 0), _Handler)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield 'http://127.0.0.1:%d' % httpd.server_address[1]
  httpd.shutdown()
  httpd.server_close()


def _quiet(**kwargs):
  return dict(log=lambda m: None, stream=open(os.devnull, 'w'), **kwargs)


def test_good_download_is_verified_and_renamed(tmp_path, server):
  sha = hashlib.sha256(PAYLOAD).hexdigest()
  path = download.fetch(server + '/good', str(tmp_path), 'data.bin',
                        **_quiet(sha256=sha))
  assert path == str(tmp_path / 'data.bin')
  assert open(path, 'rb').read() == PAYLOAD
  assert os.listdir(str(tmp_path)) == ['data.bin']
  # A second call finds the good copy and does not download again.
  download.fetch(server + '/good', str(tmp_path), 'data.bin',
                 **_quiet(sha256=sha))
  assert _Handler.hits == ['/good']


def test_truncated_download_leaves_no_file(tmp_path, server):
  with pytest.raises(download.DownloadError, match='could not download '
                     'data.bin.*(truncated|IncompleteRead)'):
    download.fetch(server + '/truncated', str(tmp_path), 'data.bin',
                   **_quiet(retries=2))
  assert os.listdir(str(tmp_path)) == []
  assert _Handler.hits == ['/truncated', '/truncated']  # Retried.


def test_wrong_checksum_leaves_no_file(tmp_path, server):
  with pytest.raises(download.DownloadError, match='MD5 .* expected 0+'):
    download.fetch(server + '/nolength', str(tmp_path), 'data.bin',
                   **_quiet(md5='0' * 32, retries=1))
  assert os.listdir(str(tmp_path)) == []


def test_short_file_without_length_caught_by_checksum(tmp_path, server):
  good_md5 = hashlib.md5(PAYLOAD[:10]).hexdigest()
  with pytest.raises(download.DownloadError, match='corrupt download'):
    download.fetch(server + '/nolength', str(tmp_path), 'x.bin',
                   **_quiet(md5=good_md5, retries=1))
  assert not os.path.exists(str(tmp_path / 'x.bin'))


def test_bad_existing_file_is_replaced_and_mirror_used(tmp_path, server):
  (tmp_path / 'data.bin').write_bytes(b'stale')
  path = download.fetch(server + '/truncated',
                        str(tmp_path), 'data.bin',
                        **_quiet(size=len(PAYLOAD), retries=1,
                                 mirrors=(server + '/good',)))
  assert open(path, 'rb').read() == PAYLOAD
  assert _Handler.hits[-1] == '/good'


def test_unreachable_address_is_a_clear_error(tmp_path, monkeypatch):
  monkeypatch.setattr(download, '_RETRY_DELAY_SCALE', 0.0)
  with pytest.raises(download.DownloadError,
                     match='pass its local path with --source_dir'):
    download.fetch('http://127.0.0.1:9/none.tgz', str(tmp_path),
                   **_quiet(retries=1, timeout=2))
  assert os.listdir(str(tmp_path)) == []


class _Stream(object):
  def __init__(self, tty):
    self.text, self._tty = '', tty

  def write(self, text):
    self.text += text

  def flush(self):
    pass

  def isatty(self):
    return self._tty


@pytest.mark.parametrize('tty', [False, True])
def test_progress_rewrites_in_place_only_on_a_terminal(tty):
  from slimvision.datasets import dataset_utils
  stream = _Stream(tty)
  times = iter([0.0, 1.0, 2.0])
  progress = dataset_utils.Progress('Converting x', 4, stream=stream,
                                    clock=lambda: next(times))
  progress.advance(2)
  progress.advance(2)
  first = 'Converting x: 2/4 (50%), 2.0/s, ETA 0:00:01'
  last = 'Converting x: 4/4 (100%), 2.0/s, ETA 0:00:00'
  if tty:
    assert stream.text == '\r%s   \r%s   \n' % (first, last)
  else:
    assert stream.text == '%s\n%s\n' % (first, last)
    assert '\r' not in stream.text
