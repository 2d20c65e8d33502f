"""Command line of the verifier: ``verify`` a bundle, ``verify-log``, ``verify-consistency``, and ``keygen`` for
the auditor's own key pair. The same code runs as ``python -m evidence_store.verifier`` and as the standalone file."""

from __future__ import annotations

import argparse
import binascii
import sys
from pathlib import Path

from .auditor import load_x25519_private, write_auditor_key_pair
from .bundle import verify_bundle
from .errors import VerificationError
from .logs import verify_checkpoint_consistency, verify_log_file
from .notes import VerifierKey


def _read_key_arg(value: str) -> str:
    p = Path(value)
    if p.is_file():
        return p.read_text(encoding="utf-8").strip()
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verifier", description="Verify an evidence bundle offline.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="verify a bundle")
    v.add_argument("bundle")
    v.add_argument("--pubkey", required=True, help="note verifier key (name+hash+base64) or a file holding it")
    v.add_argument("--decrypt-with", help="auditor X25519 private key file (raw, base64 or PEM)")
    v.add_argument("--extract-to", help="with --decrypt-with: write decrypted plaintexts below this directory")
    c = sub.add_parser("verify-consistency", help="check that a newer checkpoint extends an older one")
    c.add_argument("old_checkpoint")
    c.add_argument("new_checkpoint")
    c.add_argument("proof")
    c.add_argument("--pubkey", required=True)
    g = sub.add_parser("verify-log", help="verify a complete log (entries.jsonl + checkpoint)")
    g.add_argument("entries")
    g.add_argument("checkpoint")
    g.add_argument("--pubkey", required=True)
    k = sub.add_parser("keygen", help="make the auditor's X25519 key pair (send only OUT.pub to the LSP)")
    k.add_argument("--out", required=True, help="writes OUT (private, base64, mode 0600) and OUT.pub (public)")
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):  # names and ids from a bundle are printed: never fail on what they hold
        sys.stdout.reconfigure(errors="backslashreplace")
    if args.cmd == "keygen":
        private, public = write_auditor_key_pair(Path(args.out))
        print(f"private key: {private}\npublic key: {public}")
        return 0
    try:
        vkey = VerifierKey.parse(_read_key_arg(args.pubkey))
    except VerificationError as exc:
        print(f"FAIL {exc.code}: {exc.message}")
        return 2
    if args.cmd == "verify-consistency":
        report = verify_checkpoint_consistency(Path(args.old_checkpoint).read_bytes(),
                                               Path(args.new_checkpoint).read_bytes(), Path(args.proof).read_bytes(),
                                               vkey)
        print(report.render())
        return 0 if report.ok else 1
    if args.cmd == "verify-log":
        report = verify_log_file(args.entries, Path(args.checkpoint).read_bytes(), vkey)
        print(report.render())
        return 0 if report.ok else 1
    priv = None
    if args.decrypt_with:
        try:
            priv = load_x25519_private(Path(args.decrypt_with).read_bytes())
        except (OSError, ValueError, binascii.Error) as exc:
            print(f"FAIL auditor_key_unreadable: {exc}")
            return 2
    report = verify_bundle(args.bundle, vkey, priv, Path(args.extract_to) if args.extract_to else None)
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
