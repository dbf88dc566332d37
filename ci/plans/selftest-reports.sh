# Runner self-test (ci/selftest-runner): every module here must produce its own kind of
# report (FAIL-REASON kunit, warn, lockdep, kasan, kmemleak); each is checked separately.
kunit_load selftest_kunit_fail
modprobe -r selftest_kunit_fail
for m in selftest_warn selftest_lockdep selftest_kasan selftest_leak; do
	modprobe $m && modprobe -r $m
done
t_ok "self-test modules loaded"
