#!/usr/bin/env python3
"""Tests of tools/chaos/check, the independent judge of fault-injection runs.

Each test writes a small synthetic run directory (history/*.jsonl and final.jsonl in the
format of docs/reliability.md), runs the checker as a subprocess, as the runner does, and
looks at its exit status and output. The checker is found at ../../tools/chaos/check from
this file, or at $QUIRE_CHAOS_CHECK.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

CHECK = os.environ.get("QUIRE_CHAOS_CHECK") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "chaos",
                 "check"))


def payload(proc, ledger, seq):
    return f"{proc}:{ledger}:{seq}:" + "x" * 16


def sha(entries):
    """The read_closed digest, written out here from the format's text, not the checker's."""
    h = hashlib.sha256()
    for i, p in enumerate(entries):
        h.update(f"{i}:{len(p.encode())}:{p}".encode())
    return h.hexdigest()


class Run:
    """A synthetic run directory: history lines per proc, with a clock, and final reads."""

    def __init__(self, root):
        self.dir = tempfile.mkdtemp(dir=root)
        self.history = {}  # proc -> [line text]
        self.final = []  # [line text]
        self.clock = 1700000000.0

    def line(self, proc, op, phase, **fields):
        self.clock += 0.001
        rec = {"v": 1, "t": round(self.clock, 6), "proc": proc, "op": op, "phase": phase}
        rec.update(fields)
        self.raw(proc, json.dumps(rec))

    def raw(self, proc, text):
        self.history.setdefault(proc, []).append(text)

    def add(self, proc, ledger, seq, phase="ok", entry=None, data=None):
        """An add's invoke and (unless phase is None) its completion."""
        data = payload(proc, ledger, seq) if data is None else data
        self.line(proc, "add", "invoke", ledger=ledger, seq=seq, payload=data)
        if phase == "ok":
            self.line(proc, "add", "ok", ledger=ledger, seq=seq,
                      entry=seq if entry is None else entry)
        elif phase is not None:
            self.line(proc, "add", phase, ledger=ledger, seq=seq, error="fenced: ledger fenced")
        return data

    def closed(self, ledger, entries):
        self.final.append(json.dumps({"v": 1, "ledger": ledger, "state": "closed",
                                      "last": len(entries) - 1, "entries": entries}))

    def writer(self, proc, ledger, n, close=True):
        """A clean writer: create, n acknowledged adds, close. Returns the payloads."""
        self.line(proc, "create", "ok", ledger=ledger)
        entries = [self.add(proc, ledger, s) for s in range(n)]
        if close:
            self.line(proc, "close", "invoke", ledger=ledger)
            self.line(proc, "close", "ok", ledger=ledger, last=n - 1)
        return entries

    def run(self, *args):
        hdir = os.path.join(self.dir, "history")
        os.makedirs(hdir, exist_ok=True)
        for proc, lines in self.history.items():
            with open(os.path.join(hdir, f"{proc}.jsonl"), "w") as f:
                f.write("".join(line + "\n" for line in lines))
        with open(os.path.join(self.dir, "final.jsonl"), "w") as f:
            f.write("".join(line + "\n" for line in self.final))
        return run_check(self.dir, *args)


def run_check(run_dir, *args):
    p = subprocess.run([sys.executable, CHECK, run_dir, *args], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def summary(stdout):
    """The last stdout line as a dict; it must be `checked key=value ...`."""
    last = stdout.rstrip("\n").split("\n")[-1]
    words = last.split(" ")
    assert words[0] == "checked", last
    fields = {}
    for w in words[1:]:
        key, sep, value = w.partition("=")
        assert sep == "=" and key and value, f"not key=value: {w!r} in {last!r}"
        fields[key] = value
    return fields


class CheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="quire-check-test-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def new_run(self):
        return Run(self.root)

    def assert_clean(self, run, *args):
        code, out, err = run.run(*args)
        self.assertEqual(code, 0, out + err)
        self.assertNotIn("VIOLATION", out)
        self.assertEqual(summary(out)["violations"], "0", out)
        return out

    def assert_violations(self, run, counts, *args):
        """Exit 1, exactly `counts` ({kind: n}) in the summary, each kind shown."""
        code, out, err = run.run(*args)
        self.assertEqual(code, 1, out + err)
        s = summary(out)
        self.assertEqual(int(s["violations"]), sum(counts.values()), out)
        for kind, n in counts.items():
            self.assertIn(f"VIOLATION {kind}: ", out)
            self.assertEqual(s.get(f"v_{kind}"), str(n), out)
        reported = {k[2:] for k in s if k.startswith("v_")}
        self.assertEqual(reported, set(counts), out)
        return out

    # -- a clean run, every op -----------------------------------------------------------------

    def clean_run(self):
        run = self.new_run()
        entries = run.writer("w1", 1, 5)
        run.line("t1", "tail", "ok", ledger=1, entry=0, payload=entries[0])
        run.line("t1", "tail", "ok", ledger=1, entry=4, payload=entries[4])
        run.line("t1", "tail_end", "ok", ledger=1, last=4)
        run.line("c1", "read_closed", "ok", ledger=1, last=4, sha256=sha(entries))
        run.line("r1", "recover", "invoke", ledger=1)
        run.line("r1", "recover", "ok", ledger=1, last=4)
        run.line("c1", "read_closed", "fail", ledger=1, error="unavailable: no bookie")
        run.line("w2", "create", "fail", error="unavailable: metadata store")
        run.closed(1, entries)
        return run

    def test_clean_run_passes(self):
        out = self.assert_clean(self.clean_run(), "--seed", "42")
        s = summary(out)
        # Completed (ok or fail) operations: create, 5 adds, close, 2 tails, tail_end,
        # read_closed, recover, the failed read_closed and the failed create.
        self.assertEqual(s["ops"], "14")
        self.assertEqual(s["acked"], "5")
        self.assertEqual(s["unknown"], "0")
        self.assertEqual(s["ledgers"], "1")
        self.assertEqual(s["seed"], "42")

    def test_summary_is_last_line_with_fixed_keys(self):
        code, out, _ = self.clean_run().run()
        self.assertEqual(code, 0)
        self.assertEqual(list(summary(out)),
                         ["ops", "acked", "unknown", "ledgers", "deleted", "violations", "seed"])
        self.assertEqual(summary(out)["seed"], "-")
        run = self.clean_run()
        run.line("c1", "read_closed", "ok", ledger=1, last=3, sha256="0" * 64)
        code, out, _ = run.run("--seed", "7")
        self.assertEqual(code, 1)
        self.assertEqual(list(summary(out))[:7],
                         ["ops", "acked", "unknown", "ledgers", "deleted", "violations", "seed"])
        self.assertEqual(summary(out)["v_closed-read-mismatch"], "1")

    # -- rule 1: lost-ack / ack-past-end -------------------------------------------------------

    def test_lost_ack_different_bytes(self):
        run = self.new_run()
        entries = run.writer("w1", 1, 3)
        run.add("w9", 1, 0, phase="unknown", data="w9:1:0:other")
        run.closed(1, [entries[0], "w9:1:0:other", entries[2]])
        out = self.assert_violations(run, {"lost-ack": 1})
        self.assertIn("different bytes", out)
        # The excerpt names the add's lines and summarizes the final entry at issue.
        self.assertIn("history/w1.jsonl:", out)
        self.assertIn('entries[1]="w9:1:0:other"', out)

    def test_ack_past_end(self):
        run = self.new_run()
        entries = run.writer("w1", 1, 3, close=False)
        run.line("r1", "recover", "ok", ledger=1, last=1)
        run.closed(1, entries[:2])
        out = self.assert_violations(run, {"ack-past-end": 1})
        self.assertIn("entries[2]: beyond last", out)

    def test_lost_ack_ledger_missing(self):
        run = self.new_run()
        run.writer("w1", 1, 2, close=False)
        run.closed(2, [])
        # Each ack is lost, and the ledger itself was never closed.
        out = self.assert_violations(run, {"lost-ack": 2, "not-closed": 1})
        self.assertIn("missing from final.jsonl", out)

    def test_deleted_ledger_is_not_judged_but_others_are(self):
        run = self.new_run()
        run.writer("w1", 1, 2)
        run.line("c1", "read_closed", "ok", ledger=1, last=1, sha256="0" * 64)
        # The read of ledger 1 (in c1's file) comes before its deletion (in r1's file).
        run.line("r1", "delete", "invoke", ledger=1)
        run.line("r1", "delete", "ok", ledger=1)
        entries = run.writer("w2", 2, 2)
        run.closed(2, entries[:1])  # ledger 2 lost an acknowledged entry
        code, out, _ = run.run()
        self.assertEqual(code, 1, out)
        s = summary(out)
        self.assertEqual(s["deleted"], "1")
        # Ledger 2: its entry 1 acknowledged past the final end, and the close's end differs.
        self.assertEqual(s["violations"], "2")
        self.assertEqual(s["v_ack-past-end"], "1")
        self.assertEqual(s["v_end-mismatch"], "1")
        self.assertNotIn("ledger 1:", out)

    def test_lost_ack_ledger_in_error(self):
        run = self.new_run()
        run.writer("w1", 1, 1, close=False)
        run.final.append(json.dumps({"v": 1, "ledger": 1, "state": "error",
                                     "error": "unavailable: 2 bookies down"}))
        out = self.assert_violations(run, {"lost-ack": 1, "not-closed": 1})
        self.assertIn("not closed", out)

    # -- rule 2: phantom-entry -----------------------------------------------------------------

    def test_phantom_entry_never_invoked(self):
        run = self.new_run()
        entries = run.writer("w1", 1, 2)
        run.closed(1, entries + ["zz:1:9:never-written"])
        run.history["w1"].pop()  # and the close, which would also disagree on the end
        out = self.assert_violations(run, {"phantom-entry": 1})
        self.assertIn("never invoked", out)

    def test_phantom_entry_invoked_on_another_ledger(self):
        run = self.new_run()
        a = run.writer("w1", 1, 1, close=False)
        b = run.writer("w2", 2, 1, close=False)
        run.closed(1, a + b)  # w2's payload turned up in ledger 1
        run.closed(2, b)
        self.assert_violations(run, {"phantom-entry": 1})

    def test_phantom_entry_duplicate(self):
        run = self.new_run()
        entries = run.writer("w1", 1, 2, close=False)
        run.closed(1, entries + [entries[1]])
        out = self.assert_violations(run, {"phantom-entry": 1})
        self.assertIn("same payload", out)

    def test_phantom_entry_out_of_seq_order(self):
        run = self.new_run()
        run.line("w1", "create", "ok", ledger=1)
        a = run.add("w1", 1, 0, phase="unknown")
        b = run.add("w1", 1, 1, phase="unknown")
        run.closed(1, [b, a])
        out = self.assert_violations(run, {"phantom-entry": 1})
        self.assertIn("out of order", out)

    # -- rule 3: closed-read-mismatch ----------------------------------------------------------

    def test_closed_read_wrong_hash(self):
        run = self.clean_run()
        run.line("c2", "read_closed", "ok", ledger=1, last=4, sha256=sha(["a"] * 5))
        out = self.assert_violations(run, {"closed-read-mismatch": 1})
        self.assertIn("hash to", out)

    def test_closed_read_wrong_last(self):
        run = self.clean_run()
        run.line("c2", "read_closed", "ok", ledger=1, last=5, sha256="a" * 64)
        self.assert_violations(run, {"closed-read-mismatch": 1})

    def test_closed_read_hash_is_over_id_length_payload(self):
        # An empty ledger (last=-1) hashes nothing at all.
        run = self.new_run()
        run.line("w1", "create", "ok", ledger=3)
        run.line("w1", "close", "ok", ledger=3, last=-1)
        run.line("c1", "read_closed", "ok", ledger=3, last=-1,
                 sha256=hashlib.sha256(b"").hexdigest())
        run.final.append(json.dumps({"v": 1, "ledger": 3, "state": "closed", "last": -1,
                                     "entries": []}))
        self.assert_clean(run)

    # -- rule 4: end-mismatch ------------------------------------------------------------------

    def test_recover_end_mismatch(self):
        run = self.clean_run()
        run.line("r2", "recover", "ok", ledger=1, last=3)
        out = self.assert_violations(run, {"end-mismatch": 1})
        self.assertIn("final last=4", out)

    def test_close_end_mismatch(self):
        run = self.new_run()
        entries = run.writer("w1", 1, 3)
        run.closed(1, entries + [run.add("w1", 1, 3, phase=None)])  # close said last=2
        self.assert_violations(run, {"end-mismatch": 1})

    # -- rule 5: fenced-writer-succeeded / ack-order -------------------------------------------

    def test_fenced_writer_succeeded_by_time(self):
        run = self.new_run()
        run.line("w1", "create", "ok", ledger=1)
        a = run.add("w1", 1, 0)
        run.line("w1", "add", "invoke", ledger=1, seq=1, payload=payload("w1", 1, 1))
        run.line("w1", "add", "invoke", ledger=1, seq=2, payload=payload("w1", 1, 2))
        run.line("w1", "add", "fail", ledger=1, seq=2, error="fenced")
        run.line("w1", "add", "ok", ledger=1, seq=1, entry=1)  # ok after a failure
        run.closed(1, [a, payload("w1", 1, 1)])
        out = self.assert_violations(run, {"fenced-writer-succeeded": 1})
        self.assertIn("must not succeed", out)

    def test_fenced_writer_succeeded_by_seq(self):
        run = self.new_run()
        run.line("w1", "create", "ok", ledger=1)
        run.line("w1", "add", "invoke", ledger=1, seq=0, payload=payload("w1", 1, 0))
        run.line("w1", "add", "invoke", ledger=1, seq=1, payload=payload("w1", 1, 1))
        run.line("w1", "add", "ok", ledger=1, seq=1, entry=0)
        run.line("w1", "add", "fail", ledger=1, seq=0, error="fenced")  # logged later
        run.closed(1, [payload("w1", 1, 1)])
        self.assert_violations(run, {"fenced-writer-succeeded": 1})

    def test_failures_after_all_oks_are_fine(self):
        run = self.new_run()
        entries = run.writer("w1", 1, 2, close=False)
        run.add("w1", 1, 2, phase="fail")
        run.add("w1", 1, 3, phase="fail")
        run.line("r1", "recover", "ok", ledger=1, last=1)
        run.closed(1, entries)
        out = self.assert_clean(run)
        self.assertEqual(summary(out)["acked"], "2")

    def test_ack_order(self):
        run = self.new_run()
        run.line("w1", "create", "ok", ledger=1)
        a = run.add("w1", 1, 0, entry=1)
        b = run.add("w1", 1, 1, entry=1)  # the same entry id acked twice
        run.closed(1, [a, b])
        # a, acked as entry 1, is not what entry 1 holds: a lost ack as well.
        out = self.assert_violations(run, {"ack-order": 1, "lost-ack": 1})
        self.assertIn("after an earlier ack of entry 1", out)

    # -- rule 6: tail-mismatch -----------------------------------------------------------------

    def test_tail_wrong_payload(self):
        run = self.clean_run()
        run.line("t2", "tail", "ok", ledger=1, entry=2, payload="w1:1:2:changed")
        self.assert_violations(run, {"tail-mismatch": 1})

    def test_tail_beyond_end(self):
        run = self.clean_run()
        run.line("t2", "tail", "ok", ledger=1, entry=5, payload=payload("w1", 1, 5))
        out = self.assert_violations(run, {"tail-mismatch": 1})
        self.assertIn("beyond the final last=4", out)

    def test_tail_end_mismatch(self):
        run = self.clean_run()
        run.line("t2", "tail_end", "ok", ledger=1, last=2)
        self.assert_violations(run, {"tail-mismatch": 1})

    # -- rule 7: not-closed --------------------------------------------------------------------

    def test_created_ledger_missing_from_final(self):
        run = self.clean_run()
        run.line("w2", "create", "ok", ledger=2)
        out = self.assert_violations(run, {"not-closed": 1})
        self.assertIn("ledger 2 is in the history but missing", out)

    def test_final_error_state_is_not_closed(self):
        run = self.clean_run()
        run.line("w2", "create", "ok", ledger=2)
        run.final.append(json.dumps({"v": 1, "ledger": 2, "state": "error",
                                     "error": "unavailable: recovery undecidable"}))
        out = self.assert_violations(run, {"not-closed": 1})
        self.assertIn("recovery undecidable", out)

    # -- rule 8: bad-history -------------------------------------------------------------------

    def test_malformed_line(self):
        run = self.clean_run()
        run.raw("w1", '{"v": 1, "t": 1700000000.5, "proc": "w1", "op": "add"')
        out = self.assert_violations(run, {"bad-history": 1})
        self.assertIn("not valid JSON", out)

    def test_truncated_last_line(self):
        run = self.clean_run()
        run.run()
        with open(os.path.join(run.dir, "history", "w1.jsonl"), "a") as f:
            f.write('{"v": 1, "t": 17000')
        code, out, _ = run_check(run.dir)
        self.assertEqual(code, 1, out)
        self.assertIn("VIOLATION bad-history: ", out)
        self.assertIn("truncated", out)
        self.assertEqual(summary(out)["violations"], "1")

    def test_unknown_version(self):
        run = self.clean_run()
        run.raw("w1", json.dumps({"v": 2, "t": 1700000001.0, "proc": "w1", "op": "close",
                                  "phase": "invoke", "ledger": 1}))
        out = self.assert_violations(run, {"bad-history": 1})
        self.assertIn("version", out)

    def test_missing_field(self):
        run = self.clean_run()
        run.line("w1", "close", "ok", ledger=1)  # no last
        self.assert_violations(run, {"bad-history": 1})

    def test_ok_without_invoke(self):
        run = self.clean_run()
        run.line("w1", "add", "ok", ledger=1, seq=77, entry=77)
        out = self.assert_violations(run, {"bad-history": 1})
        self.assertIn("no pending invoke", out)

    # -- adds whose outcome is unknown ---------------------------------------------------------

    def test_unknown_adds_present_or_absent_are_fine(self):
        run = self.new_run()
        run.line("w1", "create", "ok", ledger=1)
        a = run.add("w1", 1, 0)
        b = run.add("w1", 1, 1, phase="unknown")  # present in final
        run.add("w1", 1, 2, phase="unknown")  # absent
        c = run.add("w1", 1, 3, phase=None)  # never completed, present
        run.add("w1", 1, 4, phase=None)  # never completed, absent
        run.line("r1", "recover", "ok", ledger=1, last=2)
        run.closed(1, [a, b, c])
        out = self.assert_clean(run)
        s = summary(out)
        self.assertEqual(s["unknown"], "4")
        self.assertEqual(s["acked"], "1")
        self.assertEqual(s["ops"], "3")  # create, the ok add, recover

    def test_unknown_add_out_of_order_is_reported(self):
        run = self.new_run()
        run.line("w1", "create", "ok", ledger=1)
        a = run.add("w1", 1, 0)
        run.add("w1", 1, 1, phase="unknown")
        c = run.add("w1", 1, 2, phase=None)
        run.closed(1, [a, c, payload("w1", 1, 1)])
        self.assert_violations(run, {"phantom-entry": 1})

    def test_ledger_ids_as_strings_match_ints(self):
        run = self.new_run()
        entries = run.writer("w1", "9", 2)
        run.closed(9, entries)
        self.assert_clean(run)

    # -- output bounds -------------------------------------------------------------------------

    def test_excerpt_is_bounded(self):
        run = self.new_run()
        run.line("w1", "create", "ok", ledger=1)
        a = run.add("w1", 1, 0)
        for _ in range(40):  # a busy ledger: many recovery attempts around the add
            run.line("r1", "recover", "invoke", ledger=1)
            run.line("r1", "recover", "fail", ledger=1, error="unavailable")
        lost = run.add("w1", 1, 1)
        run.line("r1", "recover", "ok", ledger=1, last=0)
        run.closed(1, [a])
        for n, arg in ((12, ()), (5, ("--excerpt-lines", "5")), (1, ("--excerpt-lines", "1"))):
            out = self.assert_violations(run, {"ack-past-end": 1}, *arg)
            lines = out.splitlines()
            history = [ln for ln in lines if ln.startswith("  history/")]
            self.assertEqual(len(history), n, out)
            # The add's own invoke and completion come first in priority.
            if n >= 2:
                self.assertTrue(any(lost in ln for ln in history), out)
            # Never the whole entries array; one final summary line.
            finals = [ln for ln in lines if ln.startswith("  final ledger 1:")]
            self.assertEqual(len(finals), 1, out)
            self.assertNotIn("[", finals[0].replace("entries[1]", ""))
            # Excerpt lines are in time order.
            times = [json.loads(ln.split(" ", 3)[3])["t"] for ln in history]
            self.assertEqual(times, sorted(times))

    def test_detail_capped_at_20_all_counted(self):
        run = self.new_run()
        entries = run.writer("w1", 1, 30, close=False)
        run.closed(1, entries[:5])  # 25 acks past the end
        run.line("t1", "tail_end", "ok", ledger=1, last=9)  # and one rarer kind
        code, out, _ = run.run()
        self.assertEqual(code, 1)
        self.assertEqual(out.count("VIOLATION "), 20)
        self.assertIn("VIOLATION tail-mismatch: ", out)  # not drowned by the flood
        s = summary(out)
        self.assertEqual(s["violations"], "26")
        self.assertEqual(s["v_ack-past-end"], "25")

    # -- usage ---------------------------------------------------------------------------------

    def test_usage_errors_exit_2(self):
        p = subprocess.run([sys.executable, CHECK], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        code, _, err = run_check(os.path.join(self.root, "no-such-run"))
        self.assertEqual(code, 2, err)
        empty = tempfile.mkdtemp(dir=self.root)
        code, _, err = run_check(empty)  # no final.jsonl, no history
        self.assertEqual(code, 2, err)
        code, _, err = run_check(self.clean_run().dir, "--excerpt-lines", "x")
        self.assertEqual(code, 2, err)


if __name__ == "__main__":
    unittest.main()
