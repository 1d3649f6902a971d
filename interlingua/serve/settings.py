"""The server's defaults, in one place: ``interlingua serve``'s options, ``serve()``, ``create_app()``, the batcher
and the request limits all read them (docs/serve.md explains each)."""
HOST = "127.0.0.1"        # this machine only
PORT = 8000
MAX_BATCH = 64            # sentences per model call at most (1: no batching)
MAX_WAIT_MS = 10.0        # how long a request waits for others to batch with
MAX_QUEUE = 256           # requests waiting for the model at most (more: 503 with Retry-After)
MAX_CHARS = 2000          # characters per sentence at most (more: 413)
MAX_SENTENCES = 64        # sentences per request at most (more: 413)
MAX_COST = 200_000        # characters x target languages x beam per request at most (more: 413)
