# Runner self-test (ci/selftest-runner): a module that leaves a pinned user page and a CMA
# buffer behind, which kmemleak does not see; the page check after the plan must fail on both.
modprobe selftest_pages && modprobe -r selftest_pages
t_ok "self-test module loaded and unloaded"
