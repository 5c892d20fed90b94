# vm-failures.awk LOG prints why a kernel's run failed, briefly: each
# failed test (subtests included) with the last lines it logged, and any
# panic or timeout with the lines after it. vm-test.sh prints it after the
# matrix table, so that the end of CI's output, which is all that is kept
# of a long run, names the cause.
function flush_test(name,   i, from) {
	from = nbuf > 30 ? nbuf - 30 + 1 : 1
	print "  " run ": " name " failed; its last lines:"
	for (i = from; i <= nbuf; i++) print "    " buf[i]
	shown++
}
/^TCPTOP-VM-BEGIN / { run = $2; nbuf = 0; next }
/^=== RUN / { if ($3 !~ /\//) nbuf = 0; next }
/^=== / { next }
/^ *--- FAIL: / {
	if (shown < 6) flush_test($3)
	next
}
/^(panic: |test timed out|fatal error: )/ { tail = 25; print "  " run ": " $0; next }
tail > 0 { print "    " $0; tail--; next }
{ if (nbuf < 400) buf[++nbuf] = $0; else { for (i = 1; i < 400; i++) buf[i] = buf[i + 1]; buf[400] = $0 } }
END { if (shown >= 6) print "  (more failures: see the whole log)" }
