# Runner self-test (ci/selftest-runner): an oops panics the kernel; the run must go red.
t_run "load selftest_oops" modprobe selftest_oops
