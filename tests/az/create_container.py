"""Creates a blob container on Azurite (the Azure Storage emulator) with its
well-known development account, signing the request with SharedKey. Nothing
but the standard library: the tests need no Azure SDK.

Usage: python3 create_container.py http://127.0.0.1:10000 CONTAINER
"""

import base64
import hashlib
import hmac
import sys
import urllib.error
import urllib.request
from email.utils import formatdate

ACCOUNT = "devstoreaccount1"
# Azurite's published development key (not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
VERSION = "2021-08-06"


def create(endpoint: str, container: str) -> None:
    date = formatdate(usegmt=True)
    # VERB, then 11 standard headers (all empty here), then x-ms-* headers,
    # then the resource: /account + path, and the query parameters.
    to_sign = "\n".join(
        ["PUT"] + [""] * 11 + [f"x-ms-date:{date}", f"x-ms-version:{VERSION}",
                               f"/{ACCOUNT}/{ACCOUNT}/{container}\nrestype:container"]
    )
    sig = base64.b64encode(hmac.new(base64.b64decode(KEY), to_sign.encode(), hashlib.sha256).digest()).decode()
    req = urllib.request.Request(
        f"{endpoint.rstrip('/')}/{ACCOUNT}/{container}?restype=container",
        method="PUT",
        headers={"x-ms-date": date, "x-ms-version": VERSION, "Authorization": f"SharedKey {ACCOUNT}:{sig}",
                 "Content-Length": "0"},
    )
    try:
        urllib.request.urlopen(req).close()
    except urllib.error.HTTPError as e:
        if e.code != 409:  # 409: it exists already
            sys.exit(f"create container {container}: {e.code} {e.read().decode(errors='replace')}")


if __name__ == "__main__":
    create(sys.argv[1], sys.argv[2])
