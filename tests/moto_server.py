"""One moto server on loopback for the tests that speak to AWS APIs over real HTTP (KMS, S3).

Fake credentials, no ~/.aws, the instance-metadata lookup disabled; boto3 goes over HTTP to
moto's server thread, nothing is patched in-process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


@contextmanager
def moto_endpoint(aws_dir: Path, *services: str) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", *(f"AWS_ENDPOINT_URL_{s.upper()}" for s in services)):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_SESSION_TOKEN", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_CONFIG_FILE", str(aws_dir / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws_dir / "credentials"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()
            # stop() shuts the loop down but leaves the listening socket open (ResourceWarning).
            if server._server is not None:
                server._server.server_close()
