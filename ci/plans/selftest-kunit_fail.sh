# Runner self-test (ci/selftest-runner): a failing KUnit case must turn the run red.
kunit_load selftest_kunit_fail
modprobe -r selftest_kunit_fail
