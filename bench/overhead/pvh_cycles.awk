# exitcost_pvh.S's cycle counts in ("EXITCOST_CYCLES C" lines, seven a
# run: nop, cpuid, hypercall, pio_user, mmio_user, halt, selfipi), "KIND NS"
# lines out, one per kind and run: ns per operation less the NOP loop's.
# halt ran N / 500 times, selfipi N / 100, and halt waited 10 us each time
# by design, which is taken off, as exitcost does. Needs -v khz=TSC_KHZ and
# -v n=N (20000, fixed in exitcost_pvh.S). Used by bench/exits.sh and by
# the observatory's cost side (overhead-l1.sh).
$1 == "EXITCOST_CYCLES" { c[runs_seen++] = $2 }
END {
	split("nop cpuid hypercall pio_user mmio_user halt selfipi", name)
	for (k = 2; k <= 7; k++)
		for (r = 0; r < int(runs_seen / 7); r++) {
			nk = k == 6 ? n / 500 : k == 7 ? n / 100 : n
			printf "%s %.6f\n", name[k], (c[r * 7 + k - 1] / nk - c[r * 7] / n) * 1e6 / khz - (k == 6 ? 10000 : 0)
		}
}
