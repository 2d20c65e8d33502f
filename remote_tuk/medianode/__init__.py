"""Media nodes (issue 18 item 1, docs/DEPLOYMENT.md "Media nodes"): the media engine in its own processes.

* :mod:`.registry`: the live nodes (a heartbeat key per node, with its load) and the placement of each session on a
  node, both in Redis, so every app node sees the same nodes and places a session the same way.
* :mod:`.rpc`: requests from app nodes to one media node over Redis (a list per node, a reply key per request), with
  every request validated on the node.
* :mod:`.node`: the media-node process (``python -m remote_tuk media-node --name media-1``): the real ``MediaHub``
  without HTTP, its heartbeat, and the requests it serves.
* :mod:`.proxy`: what ``remote_tuk.extensions.media`` forwards to on app nodes with ``RTUK_MEDIA_NODES=redis``.

Off by default (``RTUK_MEDIA_NODES=local``): every app node then runs its own engine in-process, as before.
"""
