"""parallel-ssh (libssh2) side of the fan-out benchmark.

Usage: pssh_client.py HOSTFILE KEY POOL_SIZE COMMAND
Runs COMMAND on every host in HOSTFILE as root with the key, at most POOL_SIZE at once,
drains each host's output, prints "<ok> ok, <bad> failed", exits 1 if any host failed.
parallel-ssh's native client has no known_hosts check: host keys are NOT verified.
"""
import sys

from pssh.clients import ParallelSSHClient


def main():
    hostfile, key, pool, command = sys.argv[1:5]
    hosts = open(hostfile).read().split()
    client = ParallelSSHClient(
        hosts, user="root", pkey=key, pool_size=int(pool),
        num_retries=0, timeout=30, allow_agent=False,
    )
    output = client.run_command(command, stop_on_errors=False)
    client.join(output)
    bad = 0
    for host in output:
        if host.exception is not None:
            bad += 1
            continue
        for _ in host.stdout:
            pass
        if host.exit_code != 0:
            bad += 1
    print(f"{len(output) - bad} ok, {bad} failed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
