"""``cognn-serve``: many skeleton streams, one model stepping them in batches (:mod:`~cognn.serve.batch`), over
WebSocket and HTTP (:mod:`~cognn.serve.server`)."""
