"""Unit tests of tools/overhead-report: its statistics against values worked
out by hand, its refusals, and the files a run leaves. Run by make test
(host tier) with Debian's python3: python3 -m unittest discover tests/tools.
"""
import csv
import importlib.machinery
import importlib.util
import json
import math
import os
import shutil
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "tools", "overhead-report")
_loader = importlib.machinery.SourceFileLoader("overhead_report", TOOL)
_spec = importlib.util.spec_from_loader("overhead_report", _loader)
rep = importlib.util.module_from_spec(_spec)
_loader.exec_module(rep)


def write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


class Statistics(unittest.TestCase):
    def test_mean_ci_by_hand(self):
        # 1..5: mean 3, s = sqrt(2.5), se = s/sqrt(5), t(4) = 2.776.
        m, h, n = rep.mean_ci([1, 2, 3, 4, 5])
        self.assertEqual((m, n), (3, 5))
        self.assertAlmostEqual(h, 2.776 * math.sqrt(2.5) / math.sqrt(5), places=9)

    def test_one_run_has_no_interval(self):
        m, h, n = rep.mean_ci([7.0])
        self.assertEqual((m, n), (7.0, 1))
        self.assertTrue(math.isnan(h))

    def test_t_quantiles(self):
        self.assertEqual(rep.t95(9), 2.262)
        self.assertEqual(rep.t95(35), 2.042)   # conservative: df 30's value
        self.assertEqual(rep.t95(1000), 1.960)

    def test_relative_direction(self):
        # Throughput: half of native is 0.5. Latency: twice native is 0.5.
        r, _ = rep.relative((50.0, 1.0, 5), (100.0, 1.0, 5), "higher")
        self.assertAlmostEqual(r, 0.5)
        r, _ = rep.relative((20.0, 1.0, 5), (10.0, 1.0, 5), "lower")
        self.assertAlmostEqual(r, 0.5)

    def test_relative_interval_delta_method(self):
        t = rep.t95(4)
        plat, nat = (80.0, t * 4.0, 5), (100.0, t * 2.0, 5)   # se 4 and 2
        r, h = rep.relative(plat, nat, "higher")
        self.assertAlmostEqual(r, 0.8)
        self.assertAlmostEqual(h, t * 0.8 * math.sqrt((4 / 80) ** 2 + (2 / 100) ** 2))

    def test_significance_is_interval_overlap(self):
        # 100 +- 5 against 112 +- 5: apart; against 108 +- 5: they overlap.
        self.assertTrue(rep.significant((100.0, 5.0, 3), (112.0, 5.0, 3)))
        self.assertFalse(rep.significant((100.0, 5.0, 3), (108.0, 5.0, 3)))
        self.assertFalse(rep.significant((108.0, 5.0, 3), (100.0, 5.0, 3)))
        # One run has no interval: nothing can be told apart.
        self.assertFalse(rep.significant((100.0, float("nan"), 1), (200.0, 1.0, 3)))

    def test_relative_refuses_zero(self):
        with self.assertRaises(rep.BadInput):
            rep.relative((0.0, 1.0, 3), (1.0, 1.0, 3), "higher")


class Files(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.runs = os.path.join(self.d, "runs.csv")

    def tearDown(self):
        shutil.rmtree(self.d)

    def run_tool(self, *extra):
        return rep.main(["--runs", self.runs, "--out", os.path.join(self.d, "out"), *extra])

    def test_report_files_and_equation(self):
        rows = []
        for i, (n, v) in enumerate([(1000, 900), (1010, 905), (990, 895)]):
            rows += [["native", "getpid", i, 100, "ns", "lower"],
                     ["ringvm", "getpid", i, 125, "ns", "lower"],
                     ["native", "fio_qd1", i, n, "iops", "higher"],
                     ["ringvm", "fio_qd1", i, v, "iops", "higher"]]
        write(self.runs, ["platform", "workload", "run", "value", "unit", "better"], rows)
        exits = os.path.join(self.d, "exits.csv")
        # 1000 I/O exits/s at 100 us and 500 halts/s at 20 us: 10% + 1%.
        write(exits, ["platform", "workload", "run", "reason", "count", "seconds"],
              [["ringvm", "fio_qd1", 0, "io", 2000, 2], ["ringvm", "fio_qd1", 0, "hlt", 1000, 2],
               ["ringvm", "fio_qd1", 0, "mmio", 10, 2]])
        costs = os.path.join(self.d, "costs.csv")
        write(costs, ["reason", "cost_ns"], [["io", 100000], ["hlt", 20000]])
        self.assertEqual(self.run_tool("--exits", exits, "--costs", costs), 0)
        out = os.path.join(self.d, "out")
        with open(os.path.join(out, "summary.json")) as f:
            s = json.load(f)
        fig = {(x["workload"], x["platform"]): x for x in s["figures"]}
        self.assertAlmostEqual(fig[("getpid", "ringvm")]["relative"], 0.8)
        self.assertAlmostEqual(fig[("fio_qd1", "ringvm")]["relative"], 0.9)
        self.assertAlmostEqual(fig[("getpid", "native")]["relative"], 1.0)
        eq = s["overhead_equation"][0]
        self.assertAlmostEqual(eq["predicted"], 0.11)
        self.assertAlmostEqual(eq["observed"], 1 / 0.9 - 1)
        # A reason without a measured cost is listed, not guessed.
        self.assertIsNone([t for t in eq["terms"] if t["reason"] == "mmio"][0]["share"])
        with open(os.path.join(out, "report.md")) as f:
            md = f.read()
        self.assertIn("| getpid | ringvm | 3 | 125 ns", md)
        self.assertTrue(fig[("getpid", "ringvm")]["significant"])
        self.assertIn("| 0.800 ± ", md)
        self.assertIn("Predicted overhead 11.00%; observed 11.11%.", md)
        with open(os.path.join(out, "summary.csv")) as f:
            self.assertEqual(len(list(csv.DictReader(f))), 4)
        if shutil.which("gnuplot"):
            for ext in ("png", "svg"):
                self.assertGreater(os.path.getsize(os.path.join(out, f"relative.{ext}")), 1000)
            with open(os.path.join(out, "relative.png"), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_overlap_is_reported_as_not_significant(self):
        rows = []
        for i, (n, v) in enumerate([(100, 101), (110, 112), (90, 92)]):
            rows += [["native", "getpid", i, n, "ns", "lower"],
                     ["ringvm", "getpid", i, v, "ns", "lower"]]
        write(self.runs, ["platform", "workload", "run", "value", "unit", "better"], rows)
        self.assertEqual(self.run_tool(), 0)
        out = os.path.join(self.d, "out")
        with open(os.path.join(out, "report.md")) as f:
            md = f.read()
        self.assertIn("| getpid | ringvm | 3 | 102 ns (lower is better) | ± 24.9 | not significant |", md)
        with open(os.path.join(out, "summary.json")) as f:
            fig = {(x["workload"], x["platform"]): x for x in json.load(f)["figures"]}
        self.assertFalse(fig[("getpid", "ringvm")]["significant"])

    def test_ringvm_against_qemu(self):
        rows = []
        for i, (n, r, q) in enumerate([(100, 120, 150), (101, 121, 151), (99, 119, 149)]):
            rows += [["native", "getpid", i, n, "ns", "lower"],
                     ["ringvm", "getpid", i, r, "ns", "lower"],
                     ["qemu", "getpid", i, q, "ns", "lower"],
                     ["ringvm", "tcp", i, 100 + i, "Mbit/s", "higher"],
                     ["qemu", "tcp", i, 101 - i, "Mbit/s", "higher"]]
        write(self.runs, ["platform", "workload", "run", "value", "unit", "better"], rows)
        self.assertEqual(self.run_tool(), 0)
        out = os.path.join(self.d, "out")
        with open(os.path.join(out, "summary.json")) as f:
            vs = {v["workload"]: v for v in json.load(f)["ringvm_vs_qemu"]}
        # Lower is better: QEMU's 150 ns against ringvm's 120 ns is 1.25.
        self.assertAlmostEqual(vs["getpid"]["relative"], 1.25)
        self.assertTrue(vs["getpid"]["significant"])
        self.assertFalse(vs["tcp"]["significant"])
        with open(os.path.join(out, "report.md")) as f:
            md = f.read()
        self.assertIn("## ringvm against qemu", md)
        self.assertIn("| getpid | 1.250 ± ", md)
        self.assertIn("| tcp | not significant |", md)

    def test_exits_of_two_vmms_side_by_side(self):
        rows = []
        for i in range(3):
            rows += [["native", "chase", i, 100 + i, "ns", "lower"],
                     ["ringvm", "chase", i, 120 + i, "ns", "lower"],
                     ["qemu", "chase", i, 110 + i, "ns", "lower"]]
        write(self.runs, ["platform", "workload", "run", "value", "unit", "better"], rows)
        exits = os.path.join(self.d, "exits.csv")
        write(exits, ["platform", "workload", "run", "reason", "count", "seconds"],
              [["ringvm", "chase", 1, "other", 4000, 2], ["qemu", "chase", 1, "other", 1000, 2],
               ["ringvm", "chase", 1, "halt_exits", 10, 2]])
        costs = os.path.join(self.d, "costs.csv")
        write(costs, ["reason", "cost_ns"], [["other", 1000]])
        self.assertEqual(self.run_tool("--exits", exits, "--costs", costs), 0)
        with open(os.path.join(self.d, "out", "report.md")) as f:
            md = f.read()
        self.assertIn("| workload | reason | qemu | ringvm |", md)
        self.assertIn("| chase | other | 500 | 2,000 |", md)
        self.assertIn("| chase | halt_exits | n/a | 5 |", md)
        # The equation is ringvm's only: its costs are ringvm's paths'.
        self.assertIn("### chase on ringvm", md)
        self.assertNotIn("### chase on qemu", md)

    def test_refusals_name_the_problem(self):
        cases = [
            (["platform", "workload", "run", "value", "unit"], [["native", "w", 0, 1, "ns"]], "missing column(s) better"),
            (["platform", "workload", "run", "value", "unit", "better"], [["native", "w", 0, "fast", "ns", "lower"]], ":2: value 'fast' is not a number"),
            (["platform", "workload", "run", "value", "unit", "better"], [["native", "w", 0, "nan", "ns", "lower"]], "is not finite"),
            (["platform", "workload", "run", "value", "unit", "better"], [["native", "w", 0, 1, "ns", "up"]], "better 'up': give higher or lower"),
            (["platform", "workload", "run", "value", "unit", "better"],
             [["native", "w", 0, 1, "ns", "lower"], ["ringvm", "w", 0, 1, "us", "lower"]], "changes its unit"),
            (["platform", "workload", "run", "value", "unit", "better"], [], "no runs"),
        ]
        for header, rows, msg in cases:
            write(self.runs, header, rows)
            with self.assertRaises(rep.BadInput) as cm:
                rep.summarize(rep.load_runs(self.runs))
            self.assertIn(msg, str(cm.exception))
        self.assertEqual(rep.main(["--runs", os.path.join(self.d, "none.csv"), "--out", self.d]), 1)


if __name__ == "__main__":
    unittest.main()
