"""The event broker on a real nats-server (Debian package nats-server): `deploy/platform/nats.conf`
must be a valid configuration, the NACK custom resources (jetstream.nats.io `Stream`, `Consumer`,
`Account`) must be accepted by the server's JetStream API, and the users' permissions must be
exactly what the topics declare.

NACK's CRDs are published on no registry CI reaches, so these objects are not validated against
a schema file: each spec field is mapped to the JetStream API's config field the way NACK maps
it (a field the mapping does not know is a finding), and the server creates the stream or
consumer. For every service user of nats.conf, on the running server:

- publishing each topic (JetStream publish, acknowledged by the stream) succeeds iff the user
  is the topic's publisher (the Stream's comment `# <topic>: published by <service> alone`,
  cross-checked with the Events table of docs/architecture.md when there is one);
- subscribing to a topic's subject succeeds iff the user consumes it (has a Consumer on its
  stream);
- pulling from a durable consumer (`$JS.API.CONSUMER.MSG.NEXT`), asking for its info and
  acknowledging its messages succeed iff the durable is the user's own (durableName == user);
- subscribing to another service's inbox (`_INBOX.<other>.>`), or every inbox (`_INBOX.>`), and
  the JetStream management API (`$JS.API.STREAM.NAMES`) are refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..common import StepResult, ToolError, run, tail, tool_path
from ..tree import KObject, Tree, api_group

GROUP = "jetstream.nats.io"
KINDS = ("Stream", "Consumer", "Account")
CONTROLLER = "jetstream-controller"  # the user NACK connects as
CONF = "deploy/platform/nats.conf"
# Listeners that would bind fixed ports or dial other servers: the test runs one server alone.
DETACHED_BLOCKS = ("cluster", "gateway", "leafnodes", "websocket", "mqtt")
REPLY_TIMEOUT = 2.0  # seconds to wait for a reply the server owes (acks, API responses)
# JetStream refuses more replicas than this, whatever the cluster size.
MAX_REPLICAS = 5


# --- nats.conf -------------------------------------------------------------------------


class ConfError(ValueError):
    pass


@dataclass
class Var:
    """An unquoted `$NAME`: the server resolves it from the config, else from the environment."""

    name: str


class ConfParser:
    """The part of NATS's configuration syntax bulkhead writes (and a bit more): maps with
    `{}` or at the top level, `key: value` / `key = value` / `key value`, arrays, quoted and
    unquoted strings, numbers, booleans, `$VARIABLE` references, `#` and `//` comments.
    Records where each key's value lies in the text, so the check can rewrite or drop it."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.vars: list[str] = []
        self.keys: set[str] = set()
        self.spans: dict[tuple[str, ...], tuple[int, int, int]] = {}  # path → (key start, value start, end)

    def parse(self) -> dict:
        return self._map((), top=True)

    def _err(self, msg: str) -> ConfError:
        line = self.s.count("\n", 0, self.i) + 1
        col = self.i - (self.s.rfind("\n", 0, self.i) + 1) + 1
        return ConfError(f"{line}:{col}: {msg}")

    def _peek(self, n: int = 1) -> str:
        return self.s[self.i:self.i + n]

    def _skip(self, newlines: bool = True, separators: str = "") -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n") or c in separators:
                self.i += 1
            elif c == "#" or self._peek(2) == "//":
                end = self.s.find("\n", self.i)
                self.i = len(self.s) if end < 0 else end
            else:
                break

    def _map(self, path: tuple[str, ...], top: bool = False) -> dict:
        out: dict = {}
        while True:
            self._skip(separators=",;")
            if self.i >= len(self.s):
                if top:
                    return out
                raise self._err("unclosed `{`")
            if self.s[self.i] == "}":
                if top:
                    raise self._err("unexpected `}`")
                self.i += 1
                return out
            start = self.i
            key = self._key()
            self._skip(newlines=False)
            if self._peek() in ("=", ":"):
                self.i += 1
                self._skip(newlines=False)
            if key == "include":
                raise self._err("`include` is not supported by this check")
            value_start = self.i
            value = self._value(path + (key,))
            self.spans[path + (key,)] = (start, value_start, self.i)
            self.keys.add(key)
            out[key] = value

    def _key(self) -> str:
        if self._peek() in ('"', "'"):
            return self._quoted()
        m = re.compile(r"[^\s=:{}\[\],;#\"']+").match(self.s, self.i)
        if not m:
            raise self._err(f"expected a key, found {self._peek()!r}")
        self.i = m.end()
        return m.group(0)

    def _value(self, path: tuple[str, ...]):
        c = self._peek()
        if c == "{":
            self.i += 1
            return self._map(path)
        if c == "[":
            self.i += 1
            items = []
            while True:
                self._skip(separators=",")
                if self._peek() == "]":
                    self.i += 1
                    return items
                if self.i >= len(self.s):
                    raise self._err("unclosed `[`")
                items.append(self._value(path))
        if c in ('"', "'"):
            return self._quoted()
        if c == "$":
            m = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)").match(self.s, self.i)
            if not m:
                raise self._err("`$` without a variable name")
            self.i = m.end()
            self.vars.append(m.group(1))
            return Var(m.group(1))
        m = re.compile(r"[^\n,;}\]#]*").match(self.s, self.i)
        raw = m.group(0)
        cut = raw.find("//")
        if cut >= 0:
            raw = raw[:cut]
        self.i += len(raw)
        word = raw.strip()
        if not word:
            raise self._err("expected a value")
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        if word.lower() in ("true", "yes", "on"):
            return True
        if word.lower() in ("false", "no", "off"):
            return False
        return word

    def _quoted(self) -> str:
        q = self.s[self.i]
        j = self.i + 1
        while j < len(self.s) and self.s[j] != q:
            j += 2 if (q == '"' and self.s[j] == "\\") else 1
        if j >= len(self.s):
            raise self._err("unclosed quote")
        raw = self.s[self.i:j + 1]
        self.i = j + 1
        if q == "'":
            return raw[1:-1]
        try:
            return json.loads(raw)
        except ValueError:
            return raw[1:-1]


@dataclass
class NatsConf:
    text: str
    data: dict
    env_vars: list[str]  # referenced, defined nowhere in the file: the environment provides them
    spans: dict

    @classmethod
    def parse(cls, text: str) -> "NatsConf":
        p = ConfParser(text)
        data = p.parse()
        env = sorted({v for v in p.vars if v not in p.keys})
        return cls(text, data, env, p.spans)

    def users(self) -> list[dict]:
        auth = self.data.get("authorization")
        users = auth.get("users") if isinstance(auth, dict) else None
        return [u for u in users if isinstance(u, dict)] if isinstance(users, list) else []

    def cluster_size(self) -> int:
        """Servers in the cluster the config describes (its routes), 1 without one."""
        cluster = self.data.get("cluster")
        if not isinstance(cluster, dict):
            return 1
        routes = cluster.get("routes")
        return max(1, len(routes)) if isinstance(routes, list) else 1

    def standalone(self, store_dir: Path) -> str:
        """The config for one server alone: the cluster (and any other listener that dials out
        or binds a fixed port) removed, JetStream's store_dir in a temporary folder. With its
        cluster block the server would wait for the routes' quorum before JetStream answers."""
        cuts: list[tuple[int, int, str]] = []
        for key in DETACHED_BLOCKS:
            if (key,) in self.spans:
                start, _, end = self.spans[(key,)]
                cuts.append((start, end, ""))
        quoted = json.dumps(str(store_dir))
        js = self.data.get("jetstream")
        if ("jetstream", "store_dir") in self.spans:
            _, vstart, end = self.spans[("jetstream", "store_dir")]
            cuts.append((vstart, end, quoted))
        elif isinstance(js, dict):
            _, vstart, _ = self.spans[("jetstream",)]
            cuts.append((vstart + 1, vstart + 1, f" store_dir: {quoted}\n"))
        elif ("jetstream",) in self.spans:  # `jetstream: enabled` and the like
            _, vstart, end = self.spans[("jetstream",)]
            cuts.append((vstart, end, f"{{ store_dir: {quoted} }}"))
        text = self.text
        for start, end, new in sorted(cuts, reverse=True):
            text = text[:start] + new + text[end:]
        return text


# --- NACK spec → JetStream API config ------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000}


def go_duration_ns(text: str) -> int:
    """Go's time.ParseDuration (what NACK parses maxAge, ackWait … with), in nanoseconds."""
    s = text.strip() if isinstance(text, str) else None
    if not s:
        raise ValueError(f"{text!r} is not a Go duration")
    sign = -1 if s[0] == "-" else 1
    s = s.lstrip("+-")
    if s == "0":
        return 0
    total, pos = 0.0, 0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"{text!r} is not a Go duration (e.g. 30s, 2m, 168h; no days)")
    return sign * int(total)


def _string(v):
    if not isinstance(v, str) or not v:
        raise ValueError(f"{v!r} is not a non-empty string")
    return v


def _name(v):
    v = _string(v)
    if re.search(r"[.*>\s]", v):
        raise ValueError(f"{v!r} is not a valid name (no '.', '*', '>' or spaces)")
    return v


def _strings(v):
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
        raise ValueError(f"{v!r} is not a non-empty list of strings")
    return v


def _int(v):
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"{v!r} is not an integer")
    return v


def _bool(v):
    if not isinstance(v, bool):
        raise ValueError(f"{v!r} is not a boolean")
    return v


def _enum(**values):
    def conv(v):
        if v not in values:
            raise ValueError(f"{v!r} is not one of {', '.join(values)}")
        return values[v]
    return conv


def _duration(v):
    return go_duration_ns(v)


# spec field → (JetStream API config field, conversion); NACK's names and values.
STREAM_FIELDS = {
    "name": ("name", _name),
    "subjects": ("subjects", _strings),
    "storage": ("storage", _enum(file="file", memory="memory")),
    "replicas": ("num_replicas", _int),  # 1 on the single test server; the value is checked apart
    "retention": ("retention", _enum(limits="limits", interest="interest", workqueue="workqueue")),
    "maxAge": ("max_age", _duration),
    "discard": ("discard", _enum(old="old", new="new")),
    "duplicateWindow": ("duplicate_window", _duration),
}
CONSUMER_FIELDS = {
    "durableName": ("durable_name", _name),
    "filterSubject": ("filter_subject", _string),
    "deliverPolicy": ("deliver_policy", _enum(
        all="all", last="last", new="new", lastPerSubject="last_per_subject",
        byStartSequence="by_start_sequence", byStartTime="by_start_time")),
    "ackPolicy": ("ack_policy", _enum(none="none", all="all", explicit="explicit")),
    "ackWait": ("ack_wait", _duration),
    "maxDeliver": ("max_deliver", _int),
    "maxAckPending": ("max_ack_pending", _int),
}
# What the API server fills in from NACK's CRD when a field is left out: NACK then creates
# the stream or consumer with these, so the server run does too.
CRD_DEFAULTS = {
    "Stream": {"storage": "memory", "replicas": 1, "retention": "limits", "discard": "old"},
    "Consumer": {"deliverPolicy": "all", "ackPolicy": "none", "ackWait": "1ns"},
}
# Read by NACK itself, never sent to the server (the account is checked to exist).
CONTROLLER_FIELDS = {"preventDelete": _bool, "preventUpdate": _bool, "account": _name}
ACCOUNT_FIELDS = {"name": _name, "servers": _strings, "user": None}
ACCOUNT_USER_FIELDS = {"secret", "user", "password"}


@dataclass
class Topic:
    stream: str
    subjects: list[str]
    publisher: str | None  # None: published outside the platform
    publisher_known: bool
    where: str


@dataclass
class Plan:
    """One environment's (or several identical environments') streams and consumers."""

    namespaces: list[str]
    streams: list[tuple[KObject, dict]] = field(default_factory=list)  # (object, API config)
    consumers: list[tuple[KObject, str, dict]] = field(default_factory=list)  # (object, stream, API config)
    # (stream, durable) of every Consumer declared, created or not: who consumes what.
    durables: set[tuple[str, str]] = field(default_factory=set)


def spec_of(o: KObject) -> dict:
    spec = o.obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def map_spec(o: KObject, fields: dict, res: StepResult) -> dict | None:
    """The API config of a Stream or Consumer spec; None (and findings) when a field is unknown
    or a value is not one NACK accepts."""
    config, ok = {}, True
    spec = {**CRD_DEFAULTS.get(o.obj.get("kind"), {}), **spec_of(o)}
    known = sorted([*fields, *CONTROLLER_FIELDS, *(["streamName"] if o.obj.get("kind") == "Consumer" else [])])
    for key, value in spec.items():
        if key in fields:
            api, conv = fields[key]
            try:
                config[api] = conv(value)
            except ValueError as e:
                res.add(o.where, f"spec.{key}: {e}")
                ok = False
        elif key in CONTROLLER_FIELDS:
            try:
                CONTROLLER_FIELDS[key](value)
            except ValueError as e:
                res.add(o.where, f"spec.{key}: {e}")
                ok = False
        elif key != "streamName" or o.obj.get("kind") != "Consumer":
            res.add(o.where, f"spec.{key}: a field this check does not map to the JetStream API "
                             f"(known: {', '.join(known)})")
            ok = False
    return config if ok else None


# --- the check -------------------------------------------------------------------------------


def server_binary() -> Path:
    return tool_path("nats-server")


def check(tree: Tree) -> StepResult:
    res = StepResult("nats", unit="probes")
    exe = server_binary()
    try:
        if not exe.is_file():
            raise ToolError(f"{exe} missing (Debian package nats-server)")
        v = run([exe, "--version"], timeout=60)
        if v.returncode != 0:
            raise ToolError(f"nats-server --version failed: {tail(v.stderr + v.stdout)}")
        res.notes.append(v.stdout.strip() or v.stderr.strip())
        import nats  # noqa: F401 - nats-py, from requirements.txt
    except ImportError as e:
        res.error = f"nats-py is not installed in the tools venv: {e}"
        return res
    except ToolError as e:
        res.error = str(e)
        return res

    objects = [o for o in tree.objects if api_group(str(o.obj.get("apiVersion", ""))) == GROUP]
    conf_path = tree.root / CONF
    if not conf_path.is_file():
        for o in objects:
            res.add(o.where, f"{o.obj.get('kind')} for the event broker, but there is no {CONF}")
        if not objects:
            res.nothing = f"no {CONF}: no service publishes or consumes"
        return res

    text = conf_path.read_text()
    try:
        conf = NatsConf.parse(text)
    except ConfError as e:
        res.add(CONF, f"cannot read the configuration: {e}")
        conf = None

    # 1. nats-server -t: the configuration as the StatefulSet's servers read it.
    env = {**os.environ, **{name: f"dummy{name.lower().replace('_', '')}" for name in
                            (conf.env_vars if conf else _env_vars_rough(text))}}
    proc = run([exe, "-t", "-c", conf_path], env=env, timeout=60)
    out = (proc.stdout + proc.stderr).replace(str(conf_path), CONF)
    if proc.returncode != 0 or "is valid" not in out:
        res.add(CONF, f"nats-server -t: {tail(out, 10)}")
        return res
    res.checked += 1
    if conf is None:
        return res

    if "jetstream" not in conf.data:
        res.add(CONF, "no `jetstream` block: the servers keep no streams and NACK's objects fail")
        return res
    if not objects:
        res.notes.append(f"no {GROUP} object in the builds: nats.conf and its users only")

    # 2. The custom resources: known kinds, known fields, values NACK accepts.
    plans = plan_objects(tree, objects, conf, res)
    topics = declared_topics(tree, objects, res)

    users = conf.users()
    names = [u.get("user") for u in users]
    if CONTROLLER not in names:
        res.add(CONF, f"no user {CONTROLLER!r}: the JetStream controller (NACK) cannot connect")
    for u in users:
        if not isinstance(u.get("user"), str):
            res.add(CONF, f"a user without a name: {u}")
    services = [u["user"] for u in users if isinstance(u.get("user"), str) and u["user"] != CONTROLLER]
    res.extra = "(" + ", ".join(_count(n, what) for n, what in (
        (len(services), "service user"), (len(topics), "topic"),
        (sum(len(p.durables) for p in plans), "consumer"))) + ")"
    if CONTROLLER not in names:
        return res

    # 3. A real server per distinct set of streams and consumers (usually one: the environments
    # declare the same), with random passwords.
    if not plans:
        plans = [Plan(namespaces=[])]
    for plan in plans:
        if len(plan.namespaces) > 1:
            res.notes.append(f"{', '.join(plan.namespaces)}: the same streams and consumers, "
                             "checked on one server")
    for n, plan in enumerate(plans):
        prefix = f"[{', '.join(plan.namespaces)}] " if len(plans) > 1 else ""
        run_dir = tree.scratch / f"nats-{n}"
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        try:
            with Server(exe, conf, run_dir) as server:
                probes = Probes(server, conf, plan, topics, services, res, prefix)
                asyncio.run(asyncio.wait_for(probes.run(), timeout=120))
                res.checked += probes.count
        except ServerFailed as e:
            res.add(CONF, f"{prefix}nats-server did not start from this configuration "
                          f"(cluster block removed): {e}")
        except asyncio.TimeoutError:
            res.error = "the probes against nats-server took more than 120s"
    return res


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _env_vars_rough(text: str) -> list[str]:
    """Variables when the parser gave up: unquoted $NAME outside comments (close enough for -t)."""
    found = set()
    for line in text.splitlines():
        line = re.sub(r'"(\\.|[^"\\])*"|\'[^\']*\'', "", line.split("#")[0])
        found.update(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", line))
    return sorted(found)


def plan_objects(tree: Tree, objects: list[KObject], conf: NatsConf, res: StepResult) -> list[Plan]:
    """Check every jetstream.nats.io object's fields and group the Streams and Consumers by
    namespace; environments declaring the same set share one server run."""
    accounts: dict[str | None, set[str]] = {}
    by_ns: dict[str | None, list[KObject]] = {}
    for o in objects:
        kind = o.obj.get("kind")
        version = str(o.obj.get("apiVersion", "")).rsplit("/", 1)[-1]
        if kind not in KINDS:
            res.add(o.where, f"{GROUP} {kind}: not checked by this step (it knows {', '.join(KINDS)})")
            continue
        if version != "v1beta2":
            res.add(o.where, f"{o.obj.get('apiVersion')}: NACK serves {GROUP}/v1beta2 only")
            continue
        ns = (o.obj.get("metadata") or {}).get("namespace")
        if kind == "Account":
            check_account(tree, o, conf, res)
            accounts.setdefault(ns, set()).add(str(spec_of(o).get("name") or
                                                   (o.obj.get("metadata") or {}).get("name")))
            continue
        by_ns.setdefault(ns, []).append(o)

    plans: dict[str, Plan] = {}
    for ns, objs in sorted(by_ns.items(), key=lambda kv: kv[0] or ""):
        for o in objs:
            account = spec_of(o).get("account")
            if account is not None and account not in accounts.get(ns, set()):
                res.add(o.where, f"spec.account: no Account {account!r} in namespace {ns or '(none)'} "
                                 "for NACK to connect with")
        key = json.dumps(sorted(json.dumps([o.obj.get("kind"), (o.obj.get("metadata") or {}).get("name"),
                                            spec_of(o)], sort_keys=True) for o in objs))
        plans.setdefault(key, Plan(namespaces=[])).namespaces.append(ns or "(no namespace)")
        plan = plans[key]
        if plan.streams or plan.consumers:
            continue  # the same objects, already mapped for another namespace
        streams = {}
        for o in objs:
            if o.obj.get("kind") != "Stream":
                continue
            config = map_spec(o, STREAM_FIELDS, res)
            streams[spec_of(o).get("name")] = o
            if config is None:
                continue  # its consumers are not created either: the findings above say why
            replicas = config.get("num_replicas", 1)
            servers = conf.cluster_size()
            if not 1 <= replicas <= min(MAX_REPLICAS, servers):
                res.add(o.where, f"spec.replicas: {replicas}, but the cluster of {CONF} has {servers} "
                                 f"server(s) (and JetStream allows at most {MAX_REPLICAS})")
            config["num_replicas"] = 1  # the single test server
            plan.streams.append((o, config))
        for o in objs:
            if o.obj.get("kind") != "Consumer":
                continue
            stream = spec_of(o).get("streamName")
            plan.durables.add((str(stream), str(spec_of(o).get("durableName"))))
            config = map_spec(o, CONSUMER_FIELDS, res)
            if not isinstance(stream, str) or stream not in streams:
                res.add(o.where, f"spec.streamName: {stream!r} is no Stream declared here")
                continue
            if config is None:
                continue
            plan.consumers.append((o, stream, config))
    return list(plans.values())


def check_account(tree: Tree, o: KObject, conf: NatsConf, res: StepResult) -> None:
    """The Account NACK connects through: known fields; its servers are the broker's client
    Service and port."""
    spec = spec_of(o)
    for key, value in spec.items():
        if key not in ACCOUNT_FIELDS:
            res.add(o.where, f"spec.{key}: a field this check does not know (known: "
                             f"{', '.join(ACCOUNT_FIELDS)})")
        elif key == "user":
            if not isinstance(value, dict):
                res.add(o.where, "spec.user: not a mapping")
                continue
            for k in value:
                if k not in ACCOUNT_USER_FIELDS:
                    res.add(o.where, f"spec.user.{k}: a field this check does not know")
            secret = value.get("secret")
            if not (isinstance(secret, dict) and isinstance(secret.get("name"), str) and secret["name"]):
                res.add(o.where, "spec.user.secret.name: the Secret with the controller's user and "
                                 "password is not named")
        else:
            try:
                ACCOUNT_FIELDS[key](value)
            except ValueError as e:
                res.add(o.where, f"spec.{key}: {e}")
    if "user" not in spec:
        res.add(o.where, f"spec.user: missing; nats.conf admits only users with passwords "
                         f"({CONTROLLER} for NACK)")
    port = conf.data.get("port", 4222)
    ns = (o.obj.get("metadata") or {}).get("namespace")
    for url in spec.get("servers") or []:
        m = re.fullmatch(r"nats://([a-z0-9-]+)(?:\.([a-z0-9-]+))?(?:\.svc(?:\.cluster\.local)?)?:(\d+)",
                         str(url))
        if not m:
            res.add(o.where, f"spec.servers: {url!r} is not nats://<service>[.<namespace>.svc…]:<port>")
            continue
        svc, svc_ns, svc_port = m.group(1), m.group(2) or ns, int(m.group(3))
        if svc_port != port:
            res.add(o.where, f"spec.servers: {url!r}: the servers listen on port {port} ({CONF})")
        found = [s for s in tree.objects if s.obj.get("kind") == "Service"
                 and (s.obj.get("metadata") or {}).get("name") == svc
                 and (s.obj.get("metadata") or {}).get("namespace") == svc_ns]
        if not found:
            res.add(o.where, f"spec.servers: {url!r}: no Service {svc} in namespace {svc_ns}")
        elif not any(p.get("port") == svc_port for s in found
                     for p in ((s.obj.get("spec") or {}).get("ports") or []) if isinstance(p, dict)):
            res.add(o.where, f"spec.servers: {url!r}: Service {svc} has no port {svc_port}")


STREAM_COMMENT = re.compile(
    r"^#\s*(?P<topic>\S+):\s*(?:published by \"?(?P<publisher>[^\s\";]+)\"? alone|"
    r"(?P<external>from outside the platform))")


def declared_topics(tree: Tree, objects: list[KObject], res: StepResult) -> list[Topic]:
    """Each stream's subjects and publisher. The publisher is what the generated Stream's comment
    says; docs/architecture.md's Events table (the graph), when present, must agree with it, and
    with who consumes (the Consumers)."""
    comments: dict[str, tuple[str | None, str]] = {}
    for p in tree.yaml_files():
        text = p.read_text(errors="replace")
        if GROUP not in text:
            continue
        for chunk in re.split(r"(?m)^---\s*$", text):
            try:
                doc = yaml.safe_load(chunk)
            except yaml.YAMLError:
                continue
            if not (isinstance(doc, dict) and doc.get("kind") == "Stream"
                    and api_group(str(doc.get("apiVersion", ""))) == GROUP):
                continue
            for line in chunk.splitlines():
                m = STREAM_COMMENT.match(line.strip())
                if m:
                    name = str((doc.get("metadata") or {}).get("name"))
                    comments[name] = (None if m["external"] else m["publisher"], tree.rel(p))
                    break
    events = events_table(tree)

    topics: dict[str, Topic] = {}
    consumers: dict[str, set[str]] = {}
    for o in objects:
        spec = spec_of(o)
        if o.obj.get("kind") == "Consumer" and isinstance(spec.get("streamName"), str):
            consumers.setdefault(spec["streamName"], set()).add(str(spec.get("durableName")))
    for o in objects:
        if o.obj.get("kind") != "Stream":
            continue
        spec = spec_of(o)
        name = spec.get("name")
        subjects = spec.get("subjects") if isinstance(spec.get("subjects"), list) else []
        if not isinstance(name, str) or name in topics:
            continue
        meta_name = str((o.obj.get("metadata") or {}).get("name"))
        known = meta_name in comments
        publisher = comments[meta_name][0] if known else None
        for subject in subjects:
            if events is None or subject not in events:
                continue
            table_pub, table_consumers = events[subject]
            if not known:
                publisher, known = table_pub, True
            elif table_pub != publisher:
                res.add(o.where, f"published by {publisher or 'outside the platform'} (its comment), "
                                 f"but docs/architecture.md says {table_pub or 'outside the platform'}")
            if sorted(table_consumers) != sorted(consumers.get(name, set())):
                res.add(o.where, f"consumed by {', '.join(sorted(consumers.get(name, set()))) or 'nobody'} "
                                 f"(its Consumers), but docs/architecture.md says "
                                 f"{', '.join(sorted(table_consumers)) or 'nobody'}")
        if not known:
            res.add(o.where, "cannot tell who publishes this stream: no `# <topic>: published by "
                             "<service> alone` comment, no row in docs/architecture.md's Events")
        topics[name] = Topic(name, [s for s in subjects if isinstance(s, str)], publisher, known, o.where)
    if events is not None:
        declared = {s for t in topics.values() for s in t.subjects}
        for subject in events:
            if subject not in declared and (events[subject][0] or events[subject][1]):
                res.add("docs/architecture.md", f"topic {subject} has no JetStream Stream")
    return list(topics.values())


def events_table(tree: Tree) -> dict[str, tuple[str | None, list[str]]] | None:
    """docs/architecture.md's `## Events` table: topic → (publisher, consumers)."""
    doc = tree.root / "docs" / "architecture.md"
    if not doc.is_file():
        return None
    text = doc.read_text(errors="replace")
    m = re.search(r"(?ms)^## Events\s*$(.*?)(?=^## |\Z)", text)
    if not m:
        return None
    out = {}
    unescape = lambda s: re.sub(r"\\(.)", r"\1", s.strip())  # noqa: E731
    for line in m.group(1).splitlines():
        cells = [c for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or set(cells[0].strip()) <= set("-: ") or cells[0].strip() == "topic":
            continue
        topic, pub, cons = (unescape(c) for c in cells)
        publisher = None if pub == "outside the platform" else pub
        consumers = [] if cons == "nobody yet" else [c.strip() for c in cons.split(",")]
        out[topic] = (publisher, consumers)
    return out or None


# --- the server --------------------------------------------------------------------------------


class ServerFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """nats-server on free loopback ports, from the standalone config, with a random password
    per variable; stopped (and its store removed) on exit."""

    def __init__(self, exe: Path, conf: NatsConf, work: Path) -> None:
        self.exe, self.conf, self.work = exe, conf, work
        self.secrets = {name: "pw" + secrets.token_hex(12) for name in conf.env_vars}
        self.proc: subprocess.Popen | None = None

    def password(self, user: dict) -> str | None:
        pw = user.get("password")
        if isinstance(pw, Var):
            return self.secrets.get(pw.name)
        return pw if isinstance(pw, str) else None

    def __enter__(self) -> "Server":
        cfg = self.work / "nats.conf"
        cfg.write_text(self.conf.standalone(self.work / "jetstream"))
        env = {**os.environ, **self.secrets}
        last = ""
        for _ in range(3):  # a free port taken between the probe and the bind: try again
            self.port, self.http = free_port(), free_port()
            log = self.work / "server.log"
            with log.open("w") as out:
                self.proc = subprocess.Popen(
                    [str(self.exe), "-c", str(cfg), "-a", "127.0.0.1", "-p", str(self.port),
                     "-m", str(self.http), "-P", str(self.work / "nats.pid")],
                    env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.work)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(
                            f"http://127.0.0.1:{self.http}/healthz?js-enabled-only=true", timeout=1) as r:
                        if r.status == 200:
                            return self
                except OSError:
                    pass
                time.sleep(0.05)
            self._stop()
            last = tail(log.read_text(errors="replace"), 8)
            if "address already in use" not in last:
                break
        raise ServerFailed(last or "no output")

    def _stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc) -> None:
        self._stop()
        shutil.rmtree(self.work / "jetstream", ignore_errors=True)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


# --- the probes ---------------------------------------------------------------------------------


class Client:
    """One user's connection; permission violations the server reports are collected."""

    def __init__(self, user: str, password: str | None, inbox: str) -> None:
        self.user, self.password, self.inbox = user, password, inbox
        self.errors: list[str] = []
        self.nc = None

    async def connect(self, url: str) -> None:
        import nats

        async def on_error(e):
            self.errors.append(str(e))

        self.nc = await nats.connect(url, user=self.user, password=self.password or "",
                                     inbox_prefix=self.inbox, allow_reconnect=False,
                                     connect_timeout=5, error_cb=on_error, name=f"conformance {self.user}")

    async def settle(self) -> None:
        """Until the server has answered everything sent so far (its -ERR included). nats-py
        writes a flush's PING straight to the socket, ahead of commands still buffered for its
        flusher task: the first PONG can overtake a violation, the second cannot."""
        await self.nc.flush(timeout=REPLY_TIMEOUT)
        await self.nc.flush(timeout=REPLY_TIMEOUT)

    def violation(self, op: str, subject: str, since: int) -> bool:
        want = f'permissions violation for {op} to "{subject.lower()}"'
        return any(want in e.lower() for e in self.errors[since:])

    async def publish(self, subject: str, payload: bytes, headers: dict | None = None):
        """('denied', None) on a permissions violation, else ('reply', msg) or ('none', None)."""
        since = len(self.errors)
        reply = self.nc.new_inbox()
        sub = await self.nc.subscribe(reply, max_msgs=1)
        try:
            await self.nc.publish(subject, payload, reply=reply, headers=headers)
            await self.settle()
            if self.violation("publish", subject, since):
                return "denied", None
            try:
                return "reply", await sub.next_msg(timeout=REPLY_TIMEOUT)
            except Exception:  # noqa: BLE001 - nats.errors.TimeoutError
                return ("denied", None) if self.violation("publish", subject, since) else ("none", None)
        finally:
            await sub.unsubscribe()

    async def subscribe(self, subject: str) -> bool:
        """Whether the server accepts a subscription to the subject."""
        since = len(self.errors)
        sub = await self.nc.subscribe(subject)
        await self.settle()
        allowed = not self.violation("subscription", subject, since)
        await sub.unsubscribe()
        return allowed

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()


def _json(msg) -> dict:
    try:
        data = json.loads(msg.data or b"{}")
    except ValueError:
        return {"error": {"description": f"not JSON: {msg.data[:200]!r}"}}
    return data if isinstance(data, dict) else {}


def _status(msg) -> str | None:
    return (msg.headers or {}).get("Status") if msg is not None else None


def _literal(subject: str) -> str:
    """A subject a client may publish to: wildcard tokens replaced."""
    return ".".join("conformance" if t in ("*", ">") else t for t in subject.split("."))


class Probes:
    def __init__(self, server: Server, conf: NatsConf, plan: Plan, topics: list[Topic],
                 services: list[str], res: StepResult, prefix: str) -> None:
        self.server, self.conf, self.plan, self.res, self.prefix = server, conf, plan, res, prefix
        self.topics = [t for t in topics if any(c.get("name") == t.stream for _, c in plan.streams)]
        self.services = services
        self.count = 0
        self.users = {u["user"]: u for u in conf.users() if isinstance(u.get("user"), str)}

    def add(self, where: str, message: str) -> None:
        self.res.add(where, self.prefix + message)

    async def client(self, user: str) -> Client | None:
        c = Client(user, self.server.password(self.users[user]), f"_INBOX.{user}")
        try:
            await c.connect(self.server.url)
        except Exception as e:  # noqa: BLE001 - any failure to connect is the finding
            self.add(CONF, f"user {user}: cannot connect with its password: {type(e).__name__}: {e}")
            return None
        return c

    async def run(self) -> None:
        admin = await self.client(CONTROLLER)
        if admin is None:
            return
        clients: dict[str, Client] = {}
        try:
            created = await self.create(admin)
            for user in self.services:
                c = await self.client(user)
                if c is not None:
                    clients[user] = c
            published = await self.publishes(clients, created)
            await self.consumers(clients, created, published)
            await self.subscriptions(clients)
        finally:
            for c in [admin, *clients.values()]:
                try:
                    await c.close()
                except Exception:  # noqa: BLE001, S110 - closing after a failure
                    pass

    async def api(self, admin: Client, subject: str, payload: dict) -> dict:
        kind, msg = await admin.publish(subject, json.dumps(payload).encode())
        self.count += 1
        if kind == "denied":
            return {"error": {"description": f"{CONTROLLER} may not publish {subject} (permissions violation)"}}
        if kind == "none" or _status(msg) == "503":
            return {"error": {"description": f"no reply from the JetStream API on {subject}"}}
        return _json(msg)

    async def create(self, admin: Client) -> set[tuple[str, str]]:
        """Create each Stream and Consumer as NACK would; the server must accept each and keep
        the config as sent. Returns the (stream, "") and (stream, durable) pairs that exist."""
        created: set[tuple[str, str]] = set()
        for o, config in self.plan.streams:
            name = config.get("name")
            reply = await self.api(admin, f"$JS.API.STREAM.CREATE.{name}", config)
            if self.refused(o, reply, config):
                continue
            created.add((name, ""))
        for o, stream, config in self.plan.consumers:
            if (stream, "") not in created:
                continue
            durable = config.get("durable_name")
            reply = await self.api(admin, f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
                                   {"stream_name": stream, "config": config})
            if self.refused(o, reply, config):
                continue
            created.add((stream, durable))
        return created

    def refused(self, o: KObject, reply: dict, sent: dict) -> bool:
        err = reply.get("error")
        if err:
            code = f" (JetStream error {err.get('err_code')})" if isinstance(err, dict) and err.get("err_code") else ""
            desc = err.get("description") if isinstance(err, dict) else err
            self.add(o.where, f"nats-server refused the {o.obj.get('kind')}: {desc}{code}")
            return True
        got = reply.get("config") or {}
        for key, value in sent.items():
            if key in got and got[key] != value:
                self.add(o.where, f"nats-server changed {key}: sent {value!r}, kept {got[key]!r}")
            elif key not in got:
                self.add(o.where, f"nats-server ignored {key} (sent {value!r}): not a JetStream config field")
        return False

    async def publishes(self, clients: dict[str, Client], created) -> dict[str, int]:
        """Every user publishes every topic (its publisher first): acknowledged by the stream iff
        it is the publisher. Returns the messages stored per stream."""
        stored: dict[str, int] = {}
        for t in self.topics:
            if (t.stream, "") not in created:
                continue
            order = sorted(clients, key=lambda u: u != t.publisher)
            for subject in map(_literal, t.subjects):
                for user in order:
                    c = clients[user]
                    kind, msg = await c.publish(subject, f"conformance test from {user}".encode(),
                                                headers={"Nats-Msg-Id": secrets.token_hex(8)})
                    self.count += 1
                    ack = _json(msg) if kind == "reply" else {}
                    ok = kind == "reply" and ack.get("stream") == t.stream and "error" not in ack
                    if ok:
                        stored[t.stream] = stored.get(t.stream, 0) + 1
                    if not t.publisher_known:
                        continue
                    if user == t.publisher and not ok:
                        why = ("refused (permissions violation)" if kind == "denied" else
                               "not acknowledged (no reply)" if kind == "none" else
                               f"answered {msg.data[:200]!r}")
                        self.add(CONF, f"user {user}: publishing {subject} {why}, but it is the "
                                       f"topic's publisher (its stream {t.stream})")
                    elif user != t.publisher and kind != "denied":
                        who = t.publisher or "nobody in the platform (external topic)"
                        self.add(CONF, f"user {user}: may publish {subject} "
                                       f"({'stored in ' + t.stream if ok else 'not refused'}), "
                                       f"but its publisher is {who}")
        return stored

    async def consumers(self, clients: dict[str, Client], created, stored: dict[str, int]) -> None:
        """Every user pulls one message from every durable, asks for its info and acknowledges:
        allowed iff the durable is the user's own."""
        for o, stream, config in self.plan.consumers:
            durable = config.get("durable_name")
            if (stream, durable) not in created:
                continue
            # The owner first: a pull another user should not have been allowed cannot take its message.
            for user, c in sorted(clients.items(), key=lambda uc: uc[0] != durable):
                own = user == durable
                # Pull one message (no wait: the stream has what was published above).
                subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
                kind, msg = await c.publish(subject, json.dumps({"batch": 1, "no_wait": True}).encode())
                self.count += 1
                got = kind == "reply" and bool(msg.reply) and msg.reply.startswith("$JS.ACK.")
                empty = kind == "reply" and _status(msg) in ("404", "408")
                if own:
                    if kind == "denied":
                        self.add(CONF, f"user {user}: pulling from its own durable {stream}/{durable} "
                                       "refused (permissions violation)")
                    elif stored.get(stream) and not got:
                        self.add(CONF, f"user {user}: pulled nothing from its durable {stream}/{durable} "
                                       f"though {stored[stream]} message(s) were published "
                                       f"({_status(msg) or kind})")
                    elif not stored.get(stream) and not (got or empty):
                        self.add(CONF, f"user {user}: no answer pulling from its durable "
                                       f"{stream}/{durable} ({_status(msg) or kind})")
                elif kind != "denied":
                    self.add(CONF, f"user {user}: may pull from {stream}/{durable}, the durable of "
                                   f"{durable} ({'got a message' if got else 'not refused'})")
                # Acknowledge: the real message for the owner, a made-up ack subject for others.
                ack_subject = msg.reply if got else f"$JS.ACK.{stream}.{durable}.1.1.1.0.0"
                if own and not got:
                    ack_subject = None
                if ack_subject:
                    kind, _ = await c.publish(ack_subject, b"+ACK")
                    self.count += 1
                    if own and kind == "denied":
                        self.add(CONF, f"user {user}: acknowledging a message of its durable "
                                       f"{stream}/{durable} refused (permissions violation)")
                    elif own and kind == "none":
                        self.add(CONF, f"user {user}: its acknowledgement on {stream}/{durable} "
                                       "was not confirmed")
                    elif not own and kind != "denied":
                        self.add(CONF, f"user {user}: may acknowledge messages of {stream}/{durable}, "
                                       f"the durable of {durable}")
                # Consumer info (what clients bind with).
                subject = f"$JS.API.CONSUMER.INFO.{stream}.{durable}"
                kind, msg = await c.publish(subject, b"")
                self.count += 1
                info_ok = kind == "reply" and "error" not in _json(msg) and _status(msg) is None
                if own and not info_ok:
                    self.add(CONF, f"user {user}: reading the info of its durable {stream}/{durable} "
                                   f"failed ({kind if kind != 'reply' else _json(msg).get('error')})")
                elif not own and kind != "denied":
                    self.add(CONF, f"user {user}: may read the info of {stream}/{durable}, "
                                   f"the durable of {durable}")

    async def subscriptions(self, clients: dict[str, Client]) -> None:
        for user, c in clients.items():
            for t in self.topics:
                consumes = (t.stream, user) in self.plan.durables
                for subject in t.subjects:
                    allowed = await c.subscribe(subject)
                    self.count += 1
                    if consumes and not allowed:
                        self.add(CONF, f"user {user}: subscribing to {subject} refused, but it "
                                       f"consumes it (durable {t.stream}/{user})")
                    elif not consumes and allowed:
                        self.add(CONF, f"user {user}: may subscribe to {subject}, which it does "
                                       "not consume")
            own = f"_INBOX.{user}.>"
            if not await c.subscribe(own):
                self.add(CONF, f"user {user}: subscribing to its own inbox {own} refused "
                               "(its replies and pulled messages arrive there)")
            self.count += 1
            for other in [*(u for u in self.users if u != user), None]:
                inbox = f"_INBOX.{other}.>" if other else "_INBOX.>"
                allowed = await c.subscribe(inbox)
                self.count += 1
                if allowed:
                    whose = f"the inbox of {other}" if other else "every inbox"
                    self.add(CONF, f"user {user}: may subscribe to {inbox} ({whose}): it would read "
                                   "replies meant for others")
            kind, _ = await c.publish("$JS.API.STREAM.NAMES", b"")
            self.count += 1
            if kind != "denied":
                self.add(CONF, f"user {user}: may use the JetStream management API "
                               "($JS.API.STREAM.NAMES): only the consumer subjects of its own durables")
