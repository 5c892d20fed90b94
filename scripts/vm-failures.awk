# vm-failures.awk LOG prints why a kernel's run failed, briefly: each
# failed test (subtests included) with the last lines it logged, and any
# panic or timeout with the lines after it. vm-test.sh prints it after the
# matrix table, so that the end of CI's output, which is all that is kept
# of a long run, names the cause.
#
# go test -v prints a subtest's "--- FAIL" line only when its top-level
# test ends, after every subtest's lines, so the lines just before it
# say nothing. Each line is kept with the test that wrote it (the last
# "=== RUN/CONT/NAME" before it), and a failure prints the lines of that
# test and its subtests. Only the deepest failures are printed: a parent
# fails because a subtest did.
function flush_test(name,   i, from, n, pick) {
	n = 0
	from = nbuf > KEEP ? nbuf - KEEP + 1 : 1
	for (i = from; i <= nbuf; i++) {
		if (owner[i % KEEP] == name || index(owner[i % KEEP], name "/") == 1)
			pick[++n] = i % KEEP
	}
	print "  " run ": " name " failed; its last lines:"
	for (i = n > 30 ? n - 30 + 1 : 1; i <= n; i++) print "    " buf[pick[i]]
	shown++
}
# flush_run prints the failures of the run just read, leaves first.
function flush_run(   i, j, leaf) {
	for (i = 1; i <= nfail; i++) {
		leaf = 1
		for (j = 1; j <= nfail; j++)
			if (index(failed[j], failed[i] "/") == 1) leaf = 0
		if (leaf && shown < 6) flush_test(failed[i])
	}
	nfail = 0
}
BEGIN { KEEP = 20000 }
/^TCPTOP-VM-BEGIN / { flush_run(); run = $2; nbuf = 0; cur = ""; next }
/^=== (RUN|CONT|NAME|PAUSE) / { cur = $3; next }
/^ *--- FAIL: / { failed[++nfail] = $3; next }
/^ *--- (PASS|SKIP): / { next }
/^(panic: |test timed out|fatal error: )/ { tail = 25; print "  " run ": " $0; next }
tail > 0 { print "    " $0; tail--; next }
{ nbuf++; buf[nbuf % KEEP] = $0; owner[nbuf % KEEP] = cur }
END { flush_run(); if (shown >= 6) print "  (more failures: see the whole log)" }
