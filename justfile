# Everyday recipes. `just ci` is exactly what .ci/run runs.

# Run the whole test suite (installs sshd, etcd, at, pdsh if missing).
test:
    ./scripts/test

# What CI runs.
ci:
    ./scripts/test

# Format the code.
fmt:
    cargo fmt --all

# Lints as CI enforces them.
lint:
    cargo clippy --all-targets -- -D warnings

# Benchmarks against peers (pdsh, parallel-ssh, at, a Perl sleep-until); results land in
# docs/benchmarks.md. BENCH_SUITES=fanout or =arming runs one of them; =scale the 10,000-host lab.
bench:
    ./scripts/bench

# Regenerate the plan JSON Schema under docs/.
schema:
    cargo run --quiet -- schema > docs/plan.schema.json
