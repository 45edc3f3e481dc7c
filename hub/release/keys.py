"""The hub's release key (Ed25519, `cryptography`): made by `sewnet hub release keygen`, kept
outside the repository (its path from the hub's settings, `release_key_file`, or `--key-file`),
mode 0600. The public half is 64 hex digits in `<key file>.pub`: written to every board
(`release.pub` on its flash) and to every gateway (`[ota] release_key_file`).

What is signed is the SHA-256 of the manifest's canonical bytes, so a board's slow pure-Python
SHA-512 (inside Ed25519) runs over one block whatever the manifest's size (firmware/sn_sig.py)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.release.manifest import ReleaseError, check_manifest, manifest_bytes


def generate_key(path: Path) -> str:
    """A new private key at `path` (0600, never over an existing file) and its public half at
    `path`.pub; returns the public key's hex."""
    path = Path(path)
    if path.exists():
        raise ReleaseError(f"{path} exists: a release key is never overwritten (every board trusts it)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = public_key_hex(key.public_key())
    Path(str(path) + ".pub").write_text(pub + "\n", encoding="ascii")
    return pub


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ReleaseError(f"cannot read the release key {path}: {e.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ReleaseError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ReleaseError(f"{path} is not an Ed25519 key")
    return key


def public_key_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_public_key(path_or_hex: Path | str) -> Ed25519PublicKey:
    """From a `.pub` file (or the 64 hex digits themselves)."""
    text = str(path_or_hex)
    if not (len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)):
        try:
            text = Path(path_or_hex).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise ReleaseError(f"cannot read the release public key {path_or_hex}: {e}") from None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ReleaseError("a release public key is 64 hex digits") from None
    if len(raw) != 32:
        raise ReleaseError("a release public key is 64 hex digits")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(bytes.fromhex(public_key_hex(key))).hexdigest()[:12]


def sign_manifest(key: Ed25519PrivateKey, manifest: dict) -> tuple[bytes, str]:
    """(canonical manifest bytes, signature hex)."""
    check_manifest(manifest)
    data = manifest_bytes(manifest)
    return data, key.sign(hashlib.sha256(data).digest()).hex()


def verify_manifest(public: Ed25519PublicKey, data: bytes, signature_hex: str) -> dict:
    """The manifest, when the signature is the release key's over these exact bytes."""
    try:
        sig = bytes.fromhex(signature_hex.strip())
        public.verify(sig, hashlib.sha256(data).digest())
    except (ValueError, InvalidSignature):
        raise ReleaseError("the signature does not match the release key: not a release of this hub, or altered") \
            from None
    try:
        manifest = json.loads(data)
    except ValueError:
        raise ReleaseError("the manifest is not JSON") from None
    return check_manifest(manifest)


def write_release(out: Path, data: bytes, signature_hex: str, firmware_dir: Path) -> Path:
    """OUT/manifest.json, OUT/manifest.sig, OUT/files/<name>: what a gateway takes
    (`sewnet gateway release add OUT`)."""
    out = Path(out)
    manifest = json.loads(data)
    files = out / "files"
    files.mkdir(parents=True, exist_ok=True)
    for f in manifest["files"]:
        src = Path(firmware_dir) / f["name"]
        if hashlib.sha256(src.read_bytes()).hexdigest() != f["sha256"]:
            raise ReleaseError(f"{src} changed while the release was made")
        shutil.copyfile(src, files / f["name"])
    (out / "manifest.json").write_bytes(data)
    (out / "manifest.sig").write_text(signature_hex + "\n", encoding="ascii")
    return out


def read_release(folder: Path, public: Ed25519PublicKey) -> tuple[dict, bytes, str, dict[str, bytes]]:
    """A release folder checked whole: signature, then every file's size and SHA-256.
    Returns (manifest, manifest bytes, signature hex, {name: bytes})."""
    folder = Path(folder)
    try:
        data = (folder / "manifest.json").read_bytes()
        sig = (folder / "manifest.sig").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ReleaseError(f"{folder}: no manifest.json and manifest.sig ({e})") from None
    manifest = verify_manifest(public, data, sig)
    blobs = {}
    for f in manifest["files"]:
        try:
            blobs[f["name"]] = (folder / "files" / f["name"]).read_bytes()
        except OSError:
            raise ReleaseError(f"{folder}: files/{f['name']} is missing") from None
    check_files(manifest, blobs)
    return manifest, data, sig, blobs


def check_files(manifest: dict, blobs: dict[str, bytes]) -> None:
    """Exactly the files the (signature-checked) manifest lists, each of its size and SHA-256."""
    if set(blobs) != {f["name"] for f in manifest["files"]}:
        raise ReleaseError("the files are not the ones the manifest lists")
    for f in manifest["files"]:
        blob = blobs[f["name"]]
        if len(blob) != f["size"] or hashlib.sha256(blob).hexdigest() != f["sha256"]:
            raise ReleaseError(f"files/{f['name']} does not match the signed manifest (damaged or altered)")
