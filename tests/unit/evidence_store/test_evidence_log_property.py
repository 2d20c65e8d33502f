"""Property test of the log itself (hypothesis), for both logs: any sequence of session opens, items and closes,
written one by one or several at once (group commit), gives exactly the entries a simple model predicts, and the whole
log verifies with the offline verifier (indices 0..n-1, every chain's seq/prev, every leaf under the signed root)."""

from __future__ import annotations

import io
import json
import threading
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evidence_unit_helpers import BOTH_LOGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_store.errors import SessionError
from evidence_store.log import TransparencyLog
from evidence_store.pglog import PgTransparencyLog
from evidence_store.verifier import verify_log

#: one signing key for every example: the PostgreSQL log records the key it began with and refuses another
_KEY = Ed25519PrivateKey.generate()
OPS = st.lists(st.tuples(st.sampled_from(["open", "item", "close"]), st.integers(0, 3)), min_size=1, max_size=25)


def _build(kind: str, chain: str):
    def build(state):
        head = state.heads.get(chain)
        if kind == "open" and head is not None:
            raise SessionError("exists")
        if kind != "open" and (head is None or head.closed):
            raise SessionError("not open")
        return {"chain": chain, "kind": kind, "session_id": chain}

    return build


@BOTH_LOGS
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, together=st.integers(1, 4))
def test_any_sequence_of_appends_gives_the_predicted_valid_log(log_kind, log_url, tmp_path, ops, together):
    log = PgTransparencyLog(log_url, _KEY, every_entries=5) if log_url else \
        TransparencyLog(tmp_path / "log", _KEY, every_entries=5)
    try:
        prefix = uuid.uuid4().hex[:6]  # each example uses its own chains in the test's one log
        model: dict[str, str] = {}
        expected = []
        # the ops in groups of `together`, each group on as many threads at once; groups touch distinct chains, so
        # the model's prediction does not depend on the order inside a group
        i = 0
        while i < len(ops):
            group, used = [], set()
            while i < len(ops) and len(group) < together and ops[i][1] not in used:
                group.append(ops[i])
                used.add(ops[i][1])
                i += 1
            results: dict[int, object] = {}

            def run(j, kind, chain, results=results):
                try:
                    results[j] = log.append(_build(kind, chain))
                except SessionError as exc:
                    results[j] = exc

            threads = []
            for j, (kind, n) in enumerate(group):
                chain = f"{prefix}-{n}"
                state = model.get(chain)
                ok = (kind == "open" and state is None) or (kind != "open" and state == "open")
                if ok:
                    model[chain] = "closed" if kind == "close" else "open"
                    expected.append((chain, kind))
                threads.append((threading.Thread(target=run, args=(j, kind, chain)), ok))
            for t, _ in threads:
                t.start()
            for t, _ in threads:
                t.join()
            for j, (_t, ok) in enumerate(threads):
                assert isinstance(results[j], tuple) == ok, (group[j], results[j])
        with log.locked() as state:
            mine = sorted(i for c, idx in state.chains.items() if c.startswith(prefix) for i in idx)
        entries = [json.loads(line) for line in log.read_lines(mine)]
        got = [(e["chain"], e["kind"]) for e in entries]
        assert sorted(got) == sorted(expected)
        for chain in {c for c, _ in expected}:  # per chain the order is the order of the ops
            assert [k for c, k in got if c == chain] == [k for c, k in expected if c == chain]
        # the whole log verifies offline against a fresh checkpoint
        note = log.checkpoint()
        size = int(note.split(b"\n")[1])
        lines = log.read_lines(list(range(size)))
        report = verify_log(io.BytesIO(b"".join(line + b"\n" for line in lines)), note, str(log.signer.verifier_key))
        assert report.ok, report.failures
    finally:
        log.close()

