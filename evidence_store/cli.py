"""Operator CLI: ``python -m evidence_store [--data-dir DIR] COMMAND``."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from . import verifier


def _actor(text: str) -> tuple[str, str]:
    role, sep, ident = text.partition(":")
    if not sep or not role or not ident:
        raise argparse.ArgumentTypeError("actor must be ROLE:ID")
    return role, ident


def open_store(data_dir: str | None):
    from config import load_settings

    from .store import EvidenceStore

    settings = load_settings()
    if data_dir:
        evidence = settings.evidence.model_copy(update={"backend": "filesystem"}) \
            if settings.evidence.backend == "filesystem" else settings.evidence
        return EvidenceStore.from_settings(evidence, data_dir=Path(data_dir))
    return EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evidence_store", description="Evidence store operator CLI")
    p.add_argument("--data-dir", help="embedded store directory (default: from the app's settings)")
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("open", help="open a session")
    o.add_argument("--session", required=True)
    o.add_argument("--meta", default="{}", help="JSON object")
    a = sub.add_parser("append", help="append a file as an evidence item")
    a.add_argument("--session", required=True)
    a.add_argument("--type", required=True)
    a.add_argument("--file", required=True)
    a.add_argument("--actor", type=_actor, default=("operator", "cli"))
    a.add_argument("--candidate")
    a.add_argument("--client-time")
    a.add_argument("--metadata", default="{}", help="JSON object")
    a.add_argument("--open", action="store_true", help="open the session first if it does not exist")
    a.add_argument("--commit-plaintext", action="store_true",
                   help="log SHA-256(salt || plaintext) instead of the key commitment (answers, scores)")
    c = sub.add_parser("close", help="close a session")
    c.add_argument("--session", required=True)
    r = sub.add_parser("read", help="decrypt an item to a file (the read is logged)")
    r.add_argument("object_key")
    r.add_argument("--out", required=True)
    r.add_argument("--actor", type=_actor, required=True)
    e = sub.add_parser("export", help="export a session bundle")
    e.add_argument("--session", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--auditor-key", help="auditor X25519 public key file (raw, base64 or PEM)")
    v = sub.add_parser("verify", help="verify a bundle offline (exit 0 only if everything holds)")
    v.add_argument("bundle")
    v.add_argument("--pubkey", required=True)
    v.add_argument("--decrypt-with")
    v.add_argument("--extract-to")
    k = sub.add_parser("rotate-kek", help="re-wrap every data key under a new key-encryption key")
    k.add_argument("--new-kek-file", help="file holding base64 of 32 bytes (default: generate)")
    k.add_argument("--new-kek-id")
    s = sub.add_parser("shred", help="crypto-shred every item of a candidate")
    s.add_argument("--candidate", required=True)
    s.add_argument("--actor", type=_actor, default=("operator", "cli"))
    sub.add_parser("status", help="log size, checkpoint, spool depth, open sessions")
    sub.add_parser("parameters", help="the parameters in force (for the SOP dossier)")
    sub.add_parser("checkpoint", help="print the latest signed checkpoint (issuing one if needed)")
    sub.add_parser("recover", help="run start-up recovery now and print what it found")
    cs = sub.add_parser("consistency", help="write the checkpoints and consistency proof between two log sizes")
    cs.add_argument("--old-size", type=int, required=True)
    cs.add_argument("--new-size", type=int, help="default: the latest checkpoint")
    cs.add_argument("--out-dir", required=True)
    sub.add_parser("drain", help="upload spooled objects now")
    dl = sub.add_parser("dump-log", help="write the whole log as entries.jsonl + checkpoint (for verify-log; the log "
                        "in PostgreSQL has no file of its own)")
    dl.add_argument("--out-dir", required=True)
    g = sub.add_parser("auditor-keygen", help="make an X25519 key pair for an auditor")
    g.add_argument("--out", required=True, help="writes OUT (private, base64) and OUT.pub (public, base64)")
    sv = sub.add_parser("standalone-verifier", help="write the auditor's one-file verifier and print its SHA-256")
    sv.add_argument("--out", required=True, help="file to write (the auditor runs: python3 FILE verify ...)")
    args = p.parse_args(argv)

    if args.cmd == "verify":
        vargs = ["verify", args.bundle, "--pubkey", args.pubkey]
        if args.decrypt_with:
            vargs += ["--decrypt-with", args.decrypt_with]
        if args.extract_to:
            vargs += ["--extract-to", args.extract_to]
        return verifier.main(vargs)
    if args.cmd == "auditor-keygen":
        return verifier.main(["keygen", "--out", args.out])
    if args.cmd == "standalone-verifier":
        from .standalone import write_standalone

        built = write_standalone(Path(args.out))
        print(f"{built.sha256}  {args.out}")
        return 0

    store = open_store(args.data_dir)
    try:
        if args.cmd == "open":
            rc = store.open_session(args.session, json.loads(args.meta))
            print(f"log_index={rc.log_index} entry_hash={rc.entry_hash}")
        elif args.cmd == "append":
            if args.open:
                from .errors import SessionError

                try:
                    store.open_session(args.session)
                except SessionError:
                    pass
            with open(args.file, "rb") as fh:
                rc = store.append(args.session, args.type, fh, metadata=json.loads(args.metadata), actor=args.actor,
                                  client_time=args.client_time, candidate_id=args.candidate,
                                  commit_plaintext=args.commit_plaintext)
            print(f"log_index={rc.log_index} entry_hash={rc.entry_hash} object_key={rc.object_key}"
                  + (" spooled" if rc.spooled else ""))
        elif args.cmd == "close":
            rc = store.close_session(args.session)
            print(f"log_index={rc.log_index} entry_hash={rc.entry_hash}")
        elif args.cmd == "read":
            with open(args.out, "wb") as fh:
                store.read(args.object_key, args.actor, out=fh)
        elif args.cmd == "export":
            pub = Path(args.auditor_key).read_bytes() if args.auditor_key else None
            path = store.export_bundle(args.session, args.out, pub)
            print(f"bundle: {path}\nverifier key: {store.signer.verifier_key}")
        elif args.cmd == "rotate-kek":
            new = base64.b64decode(Path(args.new_kek_file).read_text().strip(), validate=True) \
                if args.new_kek_file else None
            res = store.rotate_kek(new, args.new_kek_id)
            secret = res.pop("new_kek_b64")
            print(json.dumps(res))
            if store.kek_from_settings:
                print(f"Set RTUK_EVIDENCE_KEK_ID={res['new_kek_id']} and RTUK_EVIDENCE_KEK to the new key "
                      + ("(the one in --new-kek-file)" if args.new_kek_file else f"{secret}") + " before restarting.")
        elif args.cmd == "shred":
            rcs = store.shred_candidate(args.candidate, args.actor)
            print(json.dumps([rc.as_dict() for rc in rcs]))
        elif args.cmd == "status":
            print(json.dumps(store.status(), indent=2))
        elif args.cmd == "parameters":
            print(json.dumps(store.describe_parameters(), indent=2))
        elif args.cmd == "checkpoint":
            sys.stdout.write(store.checkpoint().decode())
        elif args.cmd == "consistency":
            from .verifier import format_consistency_proof

            new_note = store.log.checkpoint_at(args.new_size) if args.new_size else store.checkpoint()
            old_note = store.log.checkpoint_at(args.old_size)
            if old_note is None or new_note is None:
                raise ValueError("no checkpoint was issued at that size (see log/checkpoints/)")
            new_size = int(new_note.split(b"\n")[1])
            out = Path(args.out_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"checkpoint-{args.old_size}").write_bytes(old_note)
            (out / f"checkpoint-{new_size}").write_bytes(new_note)
            (out / f"consistency-{args.old_size}-{new_size}.txt").write_bytes(
                format_consistency_proof(args.old_size, new_size, store.consistency_proof(args.old_size, new_size)))
            print(f"wrote {out}/checkpoint-{args.old_size}, checkpoint-{new_size}, "
                  f"consistency-{args.old_size}-{new_size}.txt")
        elif args.cmd == "recover":
            print(json.dumps(store.last_recovery, indent=2))
        elif args.cmd == "dump-log":
            out = Path(args.out_dir)
            out.mkdir(parents=True, exist_ok=True)
            note = store.checkpoint()  # signed first: the state below covers at least its size
            size = int(note.split(b"\n")[1])
            with open(out / "entries.jsonl", "wb") as fh:
                for start in range(0, size, 10_000):
                    for line in store.log.read_lines(list(range(start, min(size, start + 10_000)))):
                        fh.write(line + b"\n")
            (out / "checkpoint").write_bytes(note)
            print(f"wrote {out}/entries.jsonl ({size} entries) and {out}/checkpoint; verifier key: "
                  f"{store.signer.verifier_key}")
        elif args.cmd == "drain":
            print(f"stored {store.drain_spool()} spooled object(s); {store.spool_depth()} left")
    except Exception as exc:
        from .errors import EvidenceError

        if not isinstance(exc, EvidenceError | ValueError | OSError):
            raise
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0
