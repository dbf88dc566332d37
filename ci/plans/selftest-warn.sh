# Runner self-test (ci/selftest-runner): this plan must turn the run red.
t_run "load selftest_warn" modprobe selftest_warn
modprobe -r selftest_warn
