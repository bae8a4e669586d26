"""The desk (`xlform serve`): departments upload returns through private links and see them checked at once;
the performance office watches them arrive on a password-protected dashboard.

  auth.py     link tokens, the office password, CSRF tokens: secrets, hashes, constant-time comparisons
  intake.py   one uploaded file -> checked, stored like a collected file, logged
  readers.py  returns read in worker processes, one a core
  charts.py   the director's pictures as inline SVG
  app.py      the Flask application: routes, pages (templates/), headers
  server.py   waitress on the LAN (bodies limited from the request line, connections); `xlform serve`
              and `xlform links`

The top room but the commands: it imports collecting, returns, issue, storage and the rooms below; only cli.py
and bench.py import it.
"""
