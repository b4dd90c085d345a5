"""Store URIs in messages: the password hidden. No ml-metadata here, so the CLI's crash reports
can redact text on the core install too (assay.mlmd.connection re-exports `redact`)."""

from __future__ import annotations

import urllib.parse


def redact(uri: str) -> str:
    """The store URI with its password replaced by ***, for messages and logs.

    Example:
        >>> redact("mysql://ml:secret@db:3306/md")
        'mysql://ml:***@db:3306/md'
    """
    parsed = urllib.parse.urlsplit(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@", 1)
    return uri
