"""Run ``azmlinfsrv`` bound to 127.0.0.1.

azureml-inference-server-http 1.4.1 hard-codes its bind address (``DEFAULT_HOST =
"0.0.0.0"`` in ``constants``, read by ``amlserver.run``) and offers no option for it.
This module is the same entry point with that one constant set to loopback, so argument
parsing, environment handling, gunicorn wiring and the Flask app are the server's own.

Usage: ``python -m mlops.endpoints.inference_server --entry_script score.py --model_dir DIR
--port P`` (the ``azmlinfsrv`` flags).
"""

from __future__ import annotations

import sys

LOOPBACK = "127.0.0.1"


def main(argv: list[str] | None = None) -> None:
    from azureml_inference_server_http import amlserver

    amlserver.DEFAULT_HOST = LOOPBACK
    sys.argv = ["azmlinfsrv", *(sys.argv[1:] if argv is None else argv)]
    amlserver.run()


if __name__ == "__main__":
    main()
