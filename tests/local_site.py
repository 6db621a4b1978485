"""A download site on 127.0.0.1, so that no test touches the network."""

import http.server
import threading


class LocalSite(object):
  """Serves `files` ({path: bytes}) at `url`; a path in `cut` announces its
  whole length but sends half and hangs up. `hits` lists the paths asked
  for, in order. stop() shuts it down (a second call does nothing)."""

  def __init__(self):
    self.files, self.cut, self.hits = {}, set(), []
    site = self

    class Handler(http.server.BaseHTTPRequestHandler):

      def do_GET(self):  # pylint: disable=invalid-name
        site.hits.append(self.path)
        body = site.files.get(self.path)
        if body is None:
          self.send_error(404)
          return
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.path in site.cut:
          body = body[:len(body) // 2]
        self.wfile.write(body)
        self.close_connection = True

      def log_message(self, *args):
        pass

    self._httpd = http.server.HTTPServer(('127.0.0.1', 0), Handler)
    self.url = 'http://127.0.0.1:%d' % self._httpd.server_address[1]
    threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                     daemon=True).start()

  def stop(self):
    if self._httpd:
      self._httpd.shutdown()
      self._httpd.server_close()
      self._httpd = None
