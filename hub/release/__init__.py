"""Firmware releases for the boards (issue 10 §2): a manifest (version, files with size and SHA-256,
the boot layer it needs) signed with the hub's Ed25519 release key. The public face:
`build_manifest`, `manifest_bytes`, `check_manifest`, `write_release`, `read_release`, the key
functions in `keys`, and `ReleaseError`; `hub.release.service` keeps the published ones the
gateways fetch (`routes`: `/api/v1/releases…`)."""

from hub.release.manifest import (
    FORMAT,
    KIND,
    ReleaseError,
    build_manifest,
    check_manifest,
    firmware_bootloader,
    firmware_version,
    manifest_bytes,
    release_files,
)

#: Signing and checking need `cryptography`, loaded on first use: every `sewnet` command imports
#: this package (the command line), and most never sign anything.
_KEYS = ("generate_key", "key_id", "load_private_key", "load_public_key", "public_key_hex", "read_release",
         "sign_manifest", "verify_manifest", "write_release")


def __getattr__(name: str):
    if name in _KEYS:
        from hub.release import keys

        return getattr(keys, name)
    raise AttributeError(f"module 'hub.release' has no attribute {name!r}")


__all__ = [
    "FORMAT",
    "KIND",
    "ReleaseError",
    "build_manifest",
    "check_manifest",
    "firmware_bootloader",
    "firmware_version",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "manifest_bytes",
    "public_key_hex",
    "read_release",
    "release_files",
    "sign_manifest",
    "verify_manifest",
    "write_release",
]
