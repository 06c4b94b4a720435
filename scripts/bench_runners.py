#!/usr/bin/env python3
"""Several runners over one PostgreSQL store: a backlog's throughput with 1, 2 and 4 runners.

The backlog (--orders intranet sales in --files exports, and the card provider's capture of each
señal in as many settlement files) waits on one loopback OpenSSH sshd. Each runner is a
`caas-gateway run` with a workspace of its own, pulling from that server into its own inbox; all
share one PostgreSQL (initdb in the work folder, a free loopback port, fsync on) and one factory
simulator answering every order after --latency seconds. A round starts every runner at once and
is repeated until every order is placed with the factory (a runner leaves what another holds),
timed from the first start to the last exit. Rounds alternate between runner counts (1, 2, 4, 1,
2, 4, …) and min and median are printed, with orders per second and the speed-up over one runner.
Target: 4 runners >= 3x one.

Run by scripts/bench --runners-only (which builds the static release binaries first).
"""
import os, shutil, signal, socket, subprocess, sys, time


def cpu_of(pid):
    """CPU seconds a process and the children it has reaped used so far (/proc/pid/stat)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, seconds=30):
    for _ in range(int(seconds / 0.05)):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"{what} did not start on port {port}")


class Postgres:
    """A throwaway cluster; as root, initdb and postgres run as Debian's postgres user."""

    def __init__(self, d):
        versions = sorted(int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit())
        if not versions:
            sys.exit("no PostgreSQL server under /usr/lib/postgresql: scripts/install-deps --tests installs it")
        self.bin = f"/usr/lib/postgresql/{versions[-1]}/bin"
        self.dir = d
        os.makedirs(d)
        prefix = []
        if os.getuid() == 0:
            shutil.chown(d, "postgres", "postgres")
            prefix = ["runuser", "-u", "postgres", "--"]
        subprocess.run(prefix + [f"{self.bin}/initdb", "-D", f"{d}/data", "-U", "caas", "--auth=trust", "--no-sync"],
                       check=True, capture_output=True)
        self.port = free_port()
        self.proc = subprocess.Popen(
            prefix + [f"{self.bin}/postgres", "-D", f"{d}/data", "-p", str(self.port), "-k", d, "-c", "listen_addresses=127.0.0.1",
                      "-c", "max_connections=200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port, "PostgreSQL")

    def createdb(self, name):
        subprocess.run([f"{self.bin}/createdb", "-h", self.dir, "-p", str(self.port), "-U", "caas", name], check=True)
        return f"postgresql://caas@127.0.0.1:{self.port}/{name}?sslmode=disable"

    def scalar(self, db, sql):
        out = subprocess.run([f"{self.bin}/psql", "-h", self.dir, "-p", str(self.port), "-U", "caas", "-d", db, "-At", "-c", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait()


def runners_bench(gw, gen, work, repo, orders, files, latency, counts, repeat, start_sshd, make_ca, concurrency=4, extra=()):
    d = os.path.join(work, "runners")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    pg = Postgres(os.path.join(d, "pg"))
    ssh = start_sshd(os.path.join(d, "sshd"))
    ca = make_ca(os.path.join(d, "ca"))
    factory_port = free_port()
    factory = subprocess.Popen(
        [sys.executable, os.path.join(repo, "Tests/Simulators/factory.py"), "--port", str(factory_port), "--token", "bench-token",
         "--order-book", os.path.join(repo, "samples/partner-story/factory/order-book.csv"), "--cert", f"{ca}/server.pem",
         "--key", f"{ca}/server.key"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    backlog = os.path.join(d, "backlog")
    subprocess.run([gen, "--orders", str(orders), "--files", str(files), "--formats", "intranet-xml,psp-csv", "--out", backlog],
                   check=True, capture_output=True)
    try:
        wait_port(factory_port, "the factory simulator")
        import ssl, urllib.request
        context = ssl.create_default_context(cafile=f"{ca}/ca.pem")
        urllib.request.urlopen(urllib.request.Request(
            f"https://127.0.0.1:{factory_port}/_sim/faults", data=f'{{"delay": {latency}}}'.encode(), method="POST"),
            context=context).read()

        def one_round(k, index):
            """A fresh database, a fresh copy of the backlog on the server and k new workspaces."""
            name = f"bench_{k}_{index}"
            url = pg.createdb(name)
            remote = os.path.join(ssh["dir"], "remote", name)
            for sub, prefix in (("sales", "SALES_"), ("psp", "settlement_")):
                os.makedirs(os.path.join(remote, sub))
                for f in os.listdir(backlog):
                    if f.startswith(prefix):
                        shutil.copy(os.path.join(backlog, f), os.path.join(remote, sub, f))
            homes = []
            for i in range(k):
                home = os.path.join(d, name, f"runner{i + 1}")
                os.makedirs(home)
                shutil.copytree(os.path.join(repo, "mappings"), os.path.join(home, "mappings"))
                with open(os.path.join(home, "token"), "w") as f:
                    f.write("bench-token")
                source = (f"host: 127.0.0.1, port: {ssh['port']}, user: {ssh['user']}, key: {ssh['key']}, "
                          f"known_hosts: {ssh['known_hosts']}, ready: {{stable_seconds: 0}}")
                with open(os.path.join(home, "caas-gateway.yaml"), "w") as f:
                    f.write(f"""store: {{postgres: {{url: '{url}'}}}}
runner: {{name: runner-{i + 1}}}
factory: {{base_url: "https://127.0.0.1:{factory_port}", token: {{file: token}}, ca_bundle: {ca}/ca.pem, concurrency: {concurrency}}}
sources:
  - {{name: sales, {source}, remote_dir: {remote}/sales, pattern: '^SALES_', feed: intranet-sales}}
  - {{name: psp, {source}, remote_dir: {remote}/psp, pattern: '^settlement_', feed: psp-settlement}}
""")
                homes.append(home)
            start = time.perf_counter()
            others = cpu_of(pg.proc.pid) + cpu_of(factory.pid)
            runner_cpu = 0.0
            for attempt in range(10):
                # Standard error to a file each: a pipe read one runner after the other would stall the others.
                procs = [subprocess.Popen([gw, "run", "--as-of", f"2026-10-03T23:{attempt:02d}:00Z", *extra], cwd=h,
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=open(os.path.join(h, f"stderr-{attempt}.log"), "wb")) for h in homes]
                for h, p in zip(homes, procs):
                    _, status, usage = os.wait4(p.pid, 0)
                    runner_cpu += usage.ru_utime + usage.ru_stime
                    code = os.waitstatus_to_exitcode(status)
                    if code not in (0, 2):
                        sys.exit(f"a runner failed ({code}): {open(os.path.join(h, f'stderr-{attempt}.log')).read()[-1500:]}")
                placed = int(pg.scalar(name, "SELECT count(*) FROM facts WHERE kind = 'factory_order_placed'"))
                if placed >= orders:
                    break
            elapsed = time.perf_counter() - start
            if placed != orders:
                sys.exit(f"{k} runner(s) placed {placed} of {orders} orders")
            by = pg.scalar(name, "SELECT string_agg(n::text, '/' ORDER BY n DESC) FROM (SELECT count(*) n FROM facts f "
                                 "JOIN runs r ON r.id = f.run_id WHERE f.kind = 'factory_order_placed' GROUP BY r.runner) x")
            others = cpu_of(pg.proc.pid) + cpu_of(factory.pid) - others
            return elapsed, attempt + 1, by, runner_cpu, others

        results = {k: [] for k in counts}
        for index in range(repeat):
            for k in counts:
                results[k].append(one_round(k, index))
        print(f"Several runners over one PostgreSQL ({os.cpu_count()} cores): {orders:,} orders in {files} exports and {files} "
              f"settlements on one sshd, the factory answering after {latency * 1000:.0f} ms ({concurrency} call(s) at a time per runner), "
              f"{repeat} alternated rounds\n")
        print(f"  {'runners':>7} {'min s':>8} {'median s':>9} {'orders/s':>9} {'speed-up':>9}  {'CPU-s runners/db+sim':>20}  rounds"
              "  placed per runner")
        base = None
        for k in counts:
            times = sorted(r[0] for r in results[k])
            med = times[len(times) // 2]
            base = base or med
            last = results[k][-1]
            print(f"  {k:7} {times[0]:8.2f} {med:9.2f} {orders / med:9.1f} {base / med:8.2f}x  {last[3]:10.1f} / {last[4]:<8.1f}  "
                  f"{last[1]:6}  {last[2]}")
        if 4 in results and 1 in results:
            speed = sorted(r[0] for r in results[1])[repeat // 2] / sorted(r[0] for r in results[4])[repeat // 2]
            print(f"\n  4 runners: {speed:.2f}x one (target >= 3x) {'met' if speed >= 3 else 'MISSED'}\n")
        return results
    finally:
        os.killpg(factory.pid, signal.SIGKILL)
        ssh["stop"]()
        pg.stop()
