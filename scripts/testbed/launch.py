#!/usr/bin/env python3
"""Runs the das cluster on testbed hosts from one topology file.

Reads the topology file (hosts, their roles and NICs, cores, port backend, the das
binary: see scripts/testbed/topology.example.toml), checks it, then starts `das dedup`,
the `das worker`s and `das duplicator` on their hosts in that order, each once the one
before has said `das STAGE: ready`, runs `das replay` on the source host, waits for
every stage to finish, and collects each stage's --report JSON and log into the output
folder. Everything it started is stopped on exit, on failure and on Ctrl-C.

Exit status: 0 when every stage succeeded and its report was collected, 1 when a stage
failed, 2 for a bad topology file or bad options, 130 on Ctrl-C. Needs Python 3.11, or
an older Python 3 with the tomli package (apt install python3-tomli).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        sys.exit("launch.py: needs Python 3.11, or the tomli package (apt install python3-tomli)")

PROG = "launch.py"
REPO = Path(__file__).resolve().parent.parent.parent
ROLES = ("source", "duplicator", "ids", "dedup")
BACKENDS = ("afpacket", "afxdp", "netmap", "dpdk")
SCHEMES = ("single", "clone", "clone-prio", "das")
SCHED_MODES = ("inline", "os")
# Which roles a link may join: the paper's chain source -> duplicator -> nodes -> dedup.
LINK_PAIRS = ({"source", "duplicator"}, {"duplicator", "ids"}, {"ids", "dedup"})
RUN_KEYS = {
    "das": str,
    "workdir": str,
    "cwd": str,
    "ports": str,
    "sudo": bool,
    "scheme": str,
    "nf": str,
    "sched": str,
    "idle_exit": str,
    "replay": list,
    "duplicator_args": list,
    "worker_args": list,
    "dedup_args": list,
}
HOST_KEYS = {
    "name": str,
    "role": str,
    "ssh": str,
    "index": int,
    "cores": list,
    "das": str,
    "ports": str,
    "sudo": bool,
    "cwd": str,
    "nic": list,
}
NIC_KEYS = {"link": str, "iface": str, "pci": str, "dpdk_port": str}
PCI = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class TopologyError(Exception):
    """A topology file that cannot be run; its message lists every problem."""


@dataclass
class Nic:
    """One NIC of a host: its end of a link."""

    link: str
    iface: str | None
    pci: str | None
    dpdk_port: str | None
    peer: Host | None = None


@dataclass
class Host:
    """One host of the topology and what runs there."""

    name: str
    role: str
    ssh: str | None
    index: int | None
    cores: list[int]
    das: str
    ports: str
    sudo: bool
    cwd: str | None
    nics: list[Nic] = field(default_factory=list)

    def stage(self) -> str:
        """The stage's name in reports and logs."""
        return {
            "source": "replay",
            "duplicator": "duplicator",
            "ids": f"worker{self.index}",
            "dedup": "dedup",
        }[self.role]

    def link_to(self, role: str, index: int | None = None) -> Nic:
        """The NIC whose link leads to the host of `role` (and `index`)."""
        for nic in self.nics:
            if nic.peer and nic.peer.role == role and (index is None or nic.peer.index == index):
                return nic
        raise AssertionError(f"{self.name}: no link to {role} {index}")


@dataclass
class Topology:
    """A checked topology file."""

    path: Path
    run: dict
    hosts: list[Host]

    def role(self, role: str) -> list[Host]:
        """The hosts of `role`, nodes by index."""
        return sorted((h for h in self.hosts if h.role == role), key=lambda h: h.index or 0)


def load(path: Path) -> Topology:
    """Reads and checks a topology file; raises TopologyError with every problem."""
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as e:
        raise TopologyError(f"cannot read it: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise TopologyError(f"not valid TOML: {e}") from None
    problems: list[str] = []

    def typed(table: dict, keys: dict, where: str) -> dict:
        for key, value in table.items():
            want = keys.get(key)
            if want is None:
                problems.append(
                    f"{where}: unknown key '{key}' (expected one of: {', '.join(keys)})"
                )
            elif not isinstance(value, want) or (want is int and isinstance(value, bool)):
                problems.append(f"{where}: '{key}' must be a {want.__name__}, got {value!r}")
        return {k: v for k, v in table.items() if isinstance(v, keys.get(k, type(None)))}

    for key in doc:
        if key not in ("run", "host"):
            problems.append(f"unknown table '{key}' (expected [run] and [[host]])")
    run = (
        typed(doc.get("run", {}), RUN_KEYS, "[run]") if isinstance(doc.get("run", {}), dict) else {}
    )
    run.setdefault("workdir", "/tmp/das-testbed")
    run.setdefault("ports", "afpacket")
    run.setdefault("sudo", False)
    run.setdefault("scheme", "das")
    run.setdefault("nf", "ids")
    run.setdefault("sched", "inline")
    run.setdefault("idle_exit", "2s")
    run.setdefault("replay", ["--pace", "50000pps"])
    for key in ("replay", "duplicator_args", "worker_args", "dedup_args"):
        run.setdefault(key, [])
        if not all(isinstance(a, str) for a in run[key]):
            problems.append(f"[run]: '{key}' must be a list of strings")
    if not Path(run["workdir"]).is_absolute():
        problems.append(f"[run]: 'workdir' must be an absolute path, got {run['workdir']!r}")
    if run["ports"] not in BACKENDS:
        problems.append(
            f"[run]: 'ports' must be one of {', '.join(BACKENDS)}, got {run['ports']!r}"
        )
    if run["scheme"] not in SCHEMES:
        problems.append(
            f"[run]: 'scheme' must be one of {', '.join(SCHEMES)}, got {run['scheme']!r}"
        )
    if run["sched"] not in SCHED_MODES:
        problems.append(
            f"[run]: 'sched' must be one of {', '.join(SCHED_MODES)}, got {run['sched']!r}"
        )

    raw_hosts = doc.get("host", [])
    if not isinstance(raw_hosts, list) or not raw_hosts:
        problems.append("no hosts: add a [[host]] table per host")
        raw_hosts = []
    hosts: list[Host] = []
    for n, raw in enumerate(raw_hosts, 1):
        if not isinstance(raw, dict):
            problems.append(f"host {n}: not a table")
            continue
        where = f"host {n} ({raw.get('name', 'unnamed')})"
        t = typed(raw, HOST_KEYS, where)
        for key in ("name", "role"):
            if key not in t:
                problems.append(f"{where}: missing '{key}'")
        name, role = t.get("name", f"host{n}"), t.get("role", "")
        if "name" in t and not NAME.match(name):
            problems.append(f"{where}: name {name!r} may only have letters, digits, '_', '.', '-'")
        if "role" in t and role not in ROLES:
            problems.append(f"{where}: 'role' must be one of {', '.join(ROLES)}, got {role!r}")
        ports = t.get("ports", run["ports"])
        if "ports" in t and ports not in BACKENDS:
            problems.append(f"{where}: 'ports' must be one of {', '.join(BACKENDS)}, got {ports!r}")
        cores = t.get("cores", [])
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in cores):
            problems.append(f"{where}: 'cores' must be a list of CPU numbers, got {cores!r}")
            cores = []
        if "index" in t and role != "ids":
            problems.append(f"{where}: only ids hosts have an 'index'")
        host = Host(
            name=name,
            role=role,
            ssh=t.get("ssh"),
            index=t.get("index"),
            cores=cores,
            das=t.get("das", run.get("das", "")),
            ports=ports,
            sudo=t.get("sudo", run["sudo"]),
            cwd=t.get("cwd", run.get("cwd")),
        )
        for m, nic_raw in enumerate(t.get("nic", []), 1):
            nwhere = f"{where}: nic {m}"
            if not isinstance(nic_raw, dict):
                problems.append(f"{nwhere}: not a table")
                continue
            nt = typed(nic_raw, NIC_KEYS, nwhere)
            if "link" not in nt:
                problems.append(f"{nwhere}: missing 'link' (the name of the link it is on)")
                continue
            nic = Nic(nt["link"], nt.get("iface"), nt.get("pci"), nt.get("dpdk_port"))
            if nic.iface is not None and not valid_iface(nic.iface):
                problems.append(
                    f"{nwhere}: 'iface' {nic.iface!r} is not an interface name"
                    " (1 to 15 characters, no '/', ':' or spaces)"
                )
            if nic.pci is not None and not PCI.match(nic.pci):
                problems.append(f"{nwhere}: 'pci' must look like 0000:03:00.0, got {nic.pci!r}")
            host.nics.append(nic)
        hosts.append(host)

    names = [h.name for h in hosts]
    for dup in sorted({x for x in names if names.count(x) > 1}):
        problems.append(f"two hosts are named {dup!r}")
    for role in ("source", "duplicator", "dedup"):
        count = sum(h.role == role for h in hosts)
        if count != 1:
            problems.append(f"needs exactly one {role} host, found {count}")
    nodes = [h for h in hosts if h.role == "ids"]
    if not nodes:
        problems.append("needs at least one ids host")
    given = [h.index for h in nodes if h.index is not None]
    if given and len(given) != len(nodes):
        problems.append("give every ids host an 'index', or none")
    elif given and sorted(given) != list(range(len(nodes))):
        problems.append(
            f"ids host indices must be 0 to {len(nodes) - 1}, each once, got {sorted(given)}"
        )
    elif not given:
        for i, h in enumerate(nodes):
            h.index = i

    # Links: each joins two hosts whose roles are neighbours in the chain.
    ends: dict[str, list[tuple[Host, Nic]]] = {}
    for h in hosts:
        for nic in h.nics:
            ends.setdefault(nic.link, []).append((h, nic))
    for link, members in sorted(ends.items()):
        if len(members) != 2:
            problems.append(
                f"link {link!r} must join two hosts, it is on {len(members)}: "
                + ", ".join(h.name for h, _ in members)
            )
            continue
        (a, na), (b, nb) = members
        if {a.role, b.role} not in LINK_PAIRS:
            problems.append(
                f"link {link!r} joins {a.name} ({a.role}) and {b.name} ({b.role}): "
                "links go source-duplicator, duplicator-ids or ids-dedup"
            )
            continue
        na.peer, nb.peer = b, a
    if not problems:
        wanted = {
            "source": {"duplicator": 1},
            "duplicator": {"source": 1, "ids": len(nodes)},
            "ids": {"duplicator": 1, "dedup": 1},
            "dedup": {"ids": len(nodes)},
        }
        for h in hosts:
            for role, count in wanted[h.role].items():
                have = [n for n in h.nics if n.peer and n.peer.role == role]
                if len(have) != count:
                    problems.append(
                        f"host {h.name} ({h.role}) needs {count} link(s) to {role} hosts, "
                        f"has {len(have)}"
                    )
            if h.role in ("duplicator", "dedup"):
                reached = sorted(n.peer.index for n in h.nics if n.peer and n.peer.role == "ids")
                if len(set(reached)) != len(reached):
                    problems.append(f"host {h.name} has two links to the same ids host")
    if problems:
        raise TopologyError("\n".join(problems))
    return Topology(path, run, hosts)


def valid_iface(name: str) -> bool:
    """Whether `name` can be a Linux interface name."""
    return (
        1 <= len(name) <= 15
        and not any(c in name for c in "/:")
        and not any(c.isspace() for c in name)
    )


class Ssh:
    """Runs commands on a host over ssh; the host's `ssh` key is the address."""

    name = "ssh"
    options = ["-o", "BatchMode=yes", "-o", "ServerAliveInterval=5"]

    def __init__(self, topology: Topology, args: argparse.Namespace):
        missing = [h.name for h in topology.hosts if not h.ssh]
        if missing:
            raise TopologyError(
                f"hosts without an 'ssh' address: {', '.join(missing)} (or use --via netns)"
            )
        for h in topology.hosts:
            if args.das:
                h.das = args.das
            if args.ports:
                h.ports = args.ports
        self.workdir = topology.run["workdir"]

    def where(self, host: Host) -> str:
        """The host as the plan names it."""
        return f"ssh {host.ssh}"

    def argv(self, host: Host, command: str) -> list[str]:
        """The local command that runs shell `command` on `host`."""
        return ["ssh", *self.options, host.ssh, command]

    def fetch(self, host: Host, remote: str, local: Path) -> bool:
        """Copies `remote` from `host` to `local`; whether it worked."""
        done = subprocess.run(
            ["scp", "-q", *self.options, f"{host.ssh}:{remote}", str(local)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        return done.returncode == 0

    def setup(self, topology: Topology) -> None:
        """Nothing to build: the hosts exist."""

    def teardown(self) -> None:
        """Nothing to remove."""


class Netns:
    """Runs each host as a network namespace of scripts/topology.sh on this machine.

    The namespaces and interfaces are topology.sh's: PREFIXsrc (out), PREFIXdup (in,
    idsI), PREFIXidsI (dup, dedup) and PREFIXdedup (idsI), so each NIC's interface comes
    from the roles its link joins, not from the file. Ports are afpacket unless --ports
    says otherwise, nothing is pinned and nothing runs under sudo (this needs root).
    """

    name = "netns"

    def __init__(self, topology: Topology, args: argparse.Namespace):
        if args.ports in ("dpdk", "netmap"):
            raise TopologyError(
                "--via netns runs on veth pairs: --ports must be afpacket or afxdp, "
                f"not {args.ports}"
            )
        self.prefix = args.prefix
        self.workdir = str(args.out.resolve())
        self.up = False
        for h in topology.hosts:
            h.das = args.das or h.das
            h.ports = args.ports or "afpacket"
            h.cores, h.sudo, h.cwd = [], False, None
            for nic in h.nics:
                nic.iface = self.iface(h, nic)
        topology.run["workdir"] = self.workdir

    @staticmethod
    def iface(host: Host, nic: Nic) -> str:
        """topology.sh's name for `host`'s end of `nic`'s link."""
        peer = nic.peer
        assert peer is not None
        if host.role == "source":
            return "out"
        if host.role == "duplicator":
            return "in" if peer.role == "source" else f"ids{peer.index}"
        if host.role == "ids":
            return "dup" if peer.role == "duplicator" else "dedup"
        return f"ids{peer.index}"

    def namespace(self, host: Host) -> str:
        """The namespace standing in for `host`."""
        short = {"source": "src", "duplicator": "dup", "ids": f"ids{host.index}", "dedup": "dedup"}[
            host.role
        ]
        return self.prefix + short

    def where(self, host: Host) -> str:
        """The host as the plan names it."""
        return f"netns {self.namespace(host)}"

    def argv(self, host: Host, command: str) -> list[str]:
        """The local command that runs shell `command` in `host`'s namespace."""
        return ["ip", "netns", "exec", self.namespace(host), "sh", "-c", command]

    def fetch(self, host: Host, remote: str, local: Path) -> bool:
        """The namespaces share this file system: the report is where it was written."""
        if Path(remote).resolve() != local.resolve():
            shutil.copyfile(remote, local)
        return local.exists()

    def setup(self, topology: Topology) -> None:
        """Builds the namespaces and veth pairs."""
        if os.geteuid() != 0:
            raise RuntimeError("--via netns needs root (network namespaces, AF_PACKET sockets)")
        nodes = len(topology.role("ids"))
        self.up = True
        subprocess.run(
            [
                "bash",
                str(REPO / "scripts/topology.sh"),
                "up",
                "--prefix",
                self.prefix,
                "--nodes",
                str(nodes),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def teardown(self) -> None:
        """Removes the namespaces (and whatever still runs in them)."""
        if self.up:
            subprocess.run(
                ["bash", str(REPO / "scripts/topology.sh"), "down", "--prefix", self.prefix],
                stdout=subprocess.DEVNULL,
            )
            self.up = False


@dataclass
class Stage:
    """One das process: where it runs and its command line."""

    host: Host
    name: str
    kind: str
    command: list[str]

    def shell(self, workdir: str) -> str:
        """The shell command the host runs: clear an old report, record the pid, then become
        the stage."""
        cwd = shlex.quote(self.host.cwd or workdir)
        pid = shlex.quote(f"{workdir}/{self.name}.pid")
        command = shlex.join(self.command)
        report = shlex.quote(f"{workdir}/{self.name}.json")
        return (
            f"mkdir -p {shlex.quote(workdir)} && rm -f {report} && cd {cwd} "
            f"&& echo $$ > {pid} && exec {command}"
        )


def port(host: Host, nic: Nic) -> str:
    """The das port spec of `host`'s end of `nic`'s link."""
    if host.ports == "dpdk":
        return f"dpdk:{nic.dpdk_port or nic.link}"
    if not nic.iface:
        raise TopologyError(
            f"host {host.name}: nic on link {nic.link!r} needs an 'iface' for {host.ports} ports"
        )
    return f"{host.ports}:{nic.iface}"


def plan(topology: Topology, replay_args: list[str]) -> list[Stage]:
    """Every stage in start order: dedup, the workers, the duplicator, then the replay."""
    run, workdir = topology.run, topology.run["workdir"]
    nodes = topology.role("ids")
    stages = []

    def stage(host: Host, args: list[str], last: list[str], idle: bool = True) -> None:
        if not host.das:
            raise TopologyError(
                f"host {host.name}: no das binary: set 'das' in [run] or in the host, or pass --das"
            )
        prefix = ["sudo"] if host.sudo else []
        if host.cores:
            prefix += ["taskset", "-c", ",".join(map(str, host.cores))]
        tail = ["--idle-exit", run["idle_exit"]] if idle else []
        name = host.stage()
        command = [*prefix, host.das, *args, *last, *tail, "--report", f"{workdir}/{name}.json"]
        stages.append(Stage(host, name, args[0], command))

    (dedup,) = topology.role("dedup")
    node_ports = [a for n in nodes for a in ("--node", port(dedup, dedup.link_to("ids", n.index)))]
    stage(dedup, ["dedup", *node_ports, "--out", f"{workdir}/unique.pcap"], run["dedup_args"])
    for n in nodes:
        core = ["--core", str(n.cores[0])] if n.cores else []
        args = [
            "worker",
            "--index",
            str(n.index),
            "--in",
            port(n, n.link_to("duplicator")),
            "--out",
            port(n, n.link_to("dedup")),
        ]
        stage(n, [*args, "--nf", run["nf"], "--sched", run["sched"], *core], run["worker_args"])
    (dup,) = topology.role("duplicator")
    node_ports = [a for n in nodes for a in ("--node", port(dup, dup.link_to("ids", n.index)))]
    stage(
        dup,
        [
            "duplicator",
            "--in",
            port(dup, dup.link_to("source")),
            *node_ports,
            "--scheme",
            run["scheme"],
        ],
        run["duplicator_args"],
    )
    (src,) = topology.role("source")
    stage(
        src,
        ["replay", "--to", port(src, src.link_to("duplicator"))],
        replay_args or run["replay"],
        idle=False,
    )
    return stages


def print_plan(topology: Topology, transport, stages: list[Stage]) -> None:
    """The --dry-run output: each host's command, in start order."""
    print(
        f"# {topology.path.name} via {transport.name}: "
        "start each stage once the one before is ready"
    )
    for n, s in enumerate(stages, 1):
        wait = "runs to the end" if s.kind == "replay" else f'then wait for "das {s.kind}: ready"'
        print(f"\n# {n}. {s.name} on {s.host.name} ({transport.where(s.host)}), {wait}")
        print(s.shell(topology.run["workdir"]))


class Runner:
    """Starts stages, waits for them and stops whatever is left."""

    def __init__(self, topology: Topology, transport, out: Path, ready_timeout: float):
        self.topology = topology
        self.transport = transport
        self.out = out
        self.ready_timeout = ready_timeout
        self.running: list[tuple[Stage, subprocess.Popen]] = []

    def log(self, stage: Stage) -> Path:
        """Where a stage's output (its stderr, relayed) goes."""
        return self.out / f"{stage.name}.log"

    def start(self, stage: Stage) -> subprocess.Popen:
        """Starts `stage` on its host, output to its log."""
        with open(self.log(stage), "wb") as log:
            argv = self.transport.argv(stage.host, stage.shell(self.topology.run["workdir"]))
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append((stage, proc))
        return proc

    def wait_ready(self, stage: Stage, proc: subprocess.Popen) -> None:
        """Waits until the stage's log says it is ready; raises if it died or hangs."""
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if re.search(rb"^das [a-z]+: ready\r?$", self.log(stage).read_bytes(), re.M):
                return
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{stage.name} on {stage.host.name} exited with status {proc.returncode} "
                    f"before it was ready:\n{self.tail(stage)}"
                )
            time.sleep(0.1)
        raise RuntimeError(
            f"{stage.name} on {stage.host.name} was not ready after {self.ready_timeout:g} s:\n"
            + self.tail(stage)
        )

    def tail(self, stage: Stage) -> str:
        """The last lines of a stage's log."""
        lines = self.log(stage).read_text(errors="replace").splitlines()
        return "\n".join("    " + line for line in lines[-15:])

    def signal(self, stage: Stage, sig: str) -> None:
        """Sends `sig` (INT or KILL) to the stage's process on its host."""
        pid = shlex.quote(f"{self.topology.run['workdir']}/{stage.name}.pid")
        sudo = "sudo " if stage.host.sudo else ""
        # Under sudo the recorded pid is sudo's: it relays INT; KILL goes to its child too.
        children = f"$(pgrep -P $(cat {pid}) 2>/dev/null) " if sig == "KILL" else ""
        command = f"test -f {pid} && {sudo}kill -{sig} {children}$(cat {pid}) 2>/dev/null; true"
        subprocess.run(
            self.transport.argv(stage.host, command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
        )

    def stop_all(self, grace: float = 10.0) -> None:
        """Asks every stage still running to stop (SIGINT: it drains and reports), then
        kills what is left after `grace` seconds. The replay sends until its traffic ends
        whatever signal it gets: it is killed at once."""
        left = [(s, p) for s, p in self.running if p.poll() is None]
        for s, _ in left:
            self.signal(s, "KILL" if s.kind == "replay" else "INT")
        deadline = time.monotonic() + grace
        for s, p in left:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.signal(s, "KILL")
                p.kill()
                p.wait()


def run(topology: Topology, transport, stages: list[Stage], args: argparse.Namespace) -> int:
    """Runs the plan; returns the exit status."""
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    runner = Runner(topology, transport, out, args.ready_timeout)
    status = 0
    try:
        transport.setup(topology)
        *servers, replay = stages
        for stage in servers:
            print(f"{PROG}: starting {stage.name} on {stage.host.name}", file=sys.stderr)
            runner.wait_ready(stage, runner.start(stage))
        print(f"{PROG}: every stage is ready; replaying on {replay.host.name}", file=sys.stderr)
        deadline = time.monotonic() + args.timeout
        runner.start(replay)
        for stage, p in runner.running:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(
                    f"{PROG}: {stage.name} still runs after --timeout {args.timeout:g} s: "
                    "stopping everything",
                    file=sys.stderr,
                )
                status = 1
                break
            if p.returncode != 0:
                print(
                    f"{PROG}: {stage.name} on {stage.host.name} failed (status {p.returncode}):\n"
                    + runner.tail(stage),
                    file=sys.stderr,
                )
                status = 1
    finally:
        runner.stop_all()
        for stage, _ in runner.running:
            remote = f"{topology.run['workdir']}/{stage.name}.json"
            if not transport.fetch(stage.host, remote, out / f"{stage.name}.json"):
                print(
                    f"{PROG}: no report from {stage.name} on {stage.host.name} ({remote})",
                    file=sys.stderr,
                )
                status = 1
        transport.teardown()
    summarize(out)
    return status


def summarize(out: Path) -> None:
    """Prints what the replay sent and what dedup delivered, from their reports."""
    try:
        replay = json.loads((out / "replay.json").read_text())["report"]
        dedup = json.loads((out / "dedup.json").read_text())["report"]
    except (OSError, ValueError, KeyError):
        return
    sent = replay["sent"]["packets"]
    unique = dedup["dedup"]["counters"]["forwarded"]
    print(
        f"{PROG}: replay sent {sent} packets, dedup delivered {unique} unique; "
        f"reports and logs in {out}",
        file=sys.stderr,
    )


def main() -> int:
    """Parses the command line and runs."""
    summary, description, status = __doc__.split("\n\n")
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=f"{summary}\n\n{description}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s TOPOLOGY [options] [-- REPLAY-OPTIONS...]",
        epilog="REPLAY-OPTIONS replace the file's [run] replay options.\n\n"
        f"{status}\nSee scripts/testbed/README.md.",
    )
    parser.add_argument("topology", type=Path, help="the topology file (TOML)")
    parser.add_argument(
        "--via",
        choices=("ssh", "netns"),
        default="ssh",
        help="how commands reach a host (default ssh): `ssh HOST`, or `ip netns exec` in the "
        "network namespaces scripts/topology.sh makes, one per host, with its interface names "
        "(then every port is afpacket unless --ports says otherwise, and no core is pinned)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print each host's command and exit")
    parser.add_argument("--check", action="store_true", help="check the topology file and exit")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "results/testbed",
        metavar="DIR",
        help="where reports and logs go (default results/testbed)",
    )
    parser.add_argument(
        "--das", metavar="PATH", help="the das binary on every host (overrides the file)"
    )
    parser.add_argument(
        "--ports", choices=BACKENDS, help="the port backend of every host (overrides the file)"
    )
    parser.add_argument(
        "--prefix",
        default="das-",
        metavar="P",
        help="namespace prefix with --via netns (default das-)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds each stage may take to say it is ready (default 60)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="seconds the run may take once the replay starts (default 3600)",
    )
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.replay = argv[split + 1 :]
    if args.das and args.via == "netns":
        args.das = str(Path(args.das).resolve())
    try:
        topology = load(args.topology)
        transport = (Netns if args.via == "netns" else Ssh)(topology, args)
        stages = plan(topology, args.replay)
    except TopologyError as e:
        for line in str(e).splitlines():
            print(f"{PROG}: {args.topology}: {line}", file=sys.stderr)
        return 2
    if args.check:
        print(
            f"{PROG}: {args.topology}: ok ({len(topology.hosts)} hosts, "
            f"{len(topology.role('ids'))} IDS nodes)"
        )
        return 0
    if args.dry_run:
        print_plan(topology, transport, stages)
        return 0

    def interrupted(signum, _frame):
        raise KeyboardInterrupt

    # Both explicitly: a launcher started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        return run(topology, transport, stages, args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; everything it started was stopped", file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.CalledProcessError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
