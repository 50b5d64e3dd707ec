from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme


@dataclass(frozen=True)
class Certs:
    ca: str  # PEM of the test CA, for clients that verify
    cert: str  # server certificate chain (localhost, 127.0.0.1)
    key: str


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    directory = Path(tmp_path_factory.mktemp("certs"))
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    paths = Certs(
        str(directory / "ca.pem"), str(directory / "cert.pem"), str(directory / "key.pem")
    )
    ca.cert_pem.write_to_path(paths.ca)
    leaf.private_key_pem.write_to_path(paths.key)
    with open(paths.cert, "wb") as f:
        for blob in leaf.cert_chain_pems:
            f.write(blob.bytes())
    return paths
