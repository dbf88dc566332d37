# Runner self-test (ci/selftest-runner): this plan must turn the run red.
t_run "load selftest_leak" modprobe selftest_leak
modprobe -r selftest_leak
