# Runner self-test (ci/selftest-runner): a plan that never ends must go red on the timeout.
t_ok "about to hang"
sleep 100000
