"""A small web client for benchmarks (not a test, no dependency beyond the standard library):
signed-in sessions of Keystage's real sign-in form (password, then the authenticator code for
the roles that need one), timed page reads, percentiles, and a bounded load runner.

It only ever talks to 127.0.0.1: `Session` refuses any other host, so a benchmark cannot be
pointed at someone else's server by mistake.

    from bench.webclient import Session, run_sessions, summarise
    s = Session("http://127.0.0.1:8421", https_proxy=True)
    s.sign_in("admin938", "a-long-password", totp_key="3132...")  # hex key of the TOTP device
    r = s.get("/ks1-2023/la/938/dashboard")
    r.status, r.ms, len(r.body)

Production settings force HTTPS (secure cookies, redirect to https). On plain-HTTP 127.0.0.1 a
benchmark runs the production settings as if behind a TLS proxy (`KEYSTAGE_TLS_PROXY=1`): the
client then sends `X-Forwarded-Proto: https` and a matching `Origin`, as the proxy would, and
keeps secure cookies itself (`https_proxy=True`).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import math
import random
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

ALLOWED_HOST = "127.0.0.1"
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


class NotLocal(ValueError):
    """The address is not on 127.0.0.1: the client refuses it."""


def check_local(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != ALLOWED_HOST or parts.port is None:
        raise NotLocal(f"{url}: this client only talks to http://{ALLOWED_HOST}:PORT")
    return parts.hostname, parts.port


def totp(key_hex: str, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 code of a django-otp TOTP device (its `key` field is the secret in hex)."""
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    ms: float
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Session:
    """One browser: its cookies, one request at a time, redirects followed by hand (so the
    cookies of every step are kept). A connection per request: the server may close it."""

    def __init__(self, base_url: str, *, https_proxy: bool = False, timeout: float = 30.0):
        self.host, self.port = check_local(base_url)
        self.base = f"http://{self.host}:{self.port}"
        self.https_proxy = https_proxy
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def _headers(self, extra: dict | None = None) -> dict[str, str]:
        h = {"Host": f"{self.host}:{self.port}", "User-Agent": "keystage-bench"}
        if self.https_proxy:
            h["X-Forwarded-Proto"] = "https"
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(extra or {})
        return h

    def _keep_cookies(self, message) -> None:
        for raw in message.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> Response:  # fmt: skip
        if path.startswith("http"):
            check_local(path)
            path = urlsplit(path).path + (
                "?" + urlsplit(path).query if urlsplit(path).query else ""
            )
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=self._headers(headers))
            r = conn.getresponse()
            data = r.read()
            self._keep_cookies(r.msg)
            return Response(
                r.status,
                {k.lower(): v for k, v in r.getheaders()},
                data,
                (time.perf_counter() - started) * 1000,
                path,
            )
        finally:
            conn.close()

    def get(self, path: str, *, follow: bool = True, max_redirects: int = 5) -> Response:
        """GET `path`; redirects to our own pages are followed and their time added."""
        r = self.request("GET", path)
        total = r.ms
        while follow and r.status in (301, 302, 303, 307) and max_redirects > 0:
            location = urljoin(self.base + path, r.headers.get("location", ""))
            if location.startswith("https://"):  # production's own absolute links
                location = "http://" + location[len("https://") :]
            check_local(location)
            path = location
            r = self.request("GET", location)
            total += r.ms
            max_redirects -= 1
        r.ms = total
        if m := CSRF_INPUT.search(r.body):
            self.csrf = m.group(1).decode()
        return r

    def post_form(self, path: str, fields: dict, *, follow: bool = True) -> Response:
        """POST a form with this session's CSRF token, as a browser would."""
        data = urlencode({"csrfmiddlewaretoken": self.csrf, **fields}).encode()
        scheme = "https" if self.https_proxy else "http"
        r = self.request("POST", path, body=data, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"{scheme}://{self.host}:{self.port}",
            "Referer": f"{scheme}://{self.host}:{self.port}{path}",
        })  # fmt: skip
        if follow and r.status in (301, 302, 303):
            after = self.get(r.headers["location"])
            after.ms += r.ms
            return after
        return r

    def sign_in(self, username: str, password: str, totp_key: str | None = None) -> Response:
        """Keystage's sign-in: the form, then the authenticator code when asked for one (the
        two-factor page). Raises `SignInFailed` unless it ends on a signed-in page."""
        page = self.get("/sign-in")
        if page.status != 200 or not self.csrf:
            raise SignInFailed(f"{username}: sign-in page answered {page.status}")
        r = self.post_form("/sign-in", {"username": username, "password": password, "next": "/"})
        if "/two-factor/" in r.url:
            if not totp_key:
                raise SignInFailed(f"{username}: asked for a code, and no TOTP key was given")
            if "/two-factor/setup" in r.url:
                raise SignInFailed(f"{username}: the TOTP device is not confirmed")
            r = self.post_form(r.url, {"code": totp(totp_key), "next": "/"})
            if "/two-factor/" in r.url:
                # A code is accepted once per 30 s step: wait for the next step and try again.
                time.sleep(30 - time.time() % 30 + 0.5)
                self.get(r.url)
                r = self.post_form(r.url, {"code": totp(totp_key), "next": "/"})
        if r.status != 200 or "/sign-in" in r.url or "/two-factor/" in r.url:
            raise SignInFailed(f"{username}: sign-in ended at {r.url} ({r.status})")
        return r


class SignInFailed(RuntimeError):
    pass


# -- figures ----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation between closest ranks (numpy's
    default); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class PageStats:
    count: int = 0
    errors: int = 0
    ms: list[float] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    error_examples: list[str] = field(default_factory=list)
    at: list[float] = field(default_factory=list)  # seconds into the run each request began

    def add(self, ok: bool, ms: float, size: int, why: str = "", at: float = 0.0) -> None:
        self.count += 1
        self.ms.append(ms)
        self.at.append(at)
        self.bytes.append(size)
        if not ok:
            self.errors += 1
            if len(self.error_examples) < 3:
                self.error_examples.append(why)

    def summary(self) -> dict:
        return {
            "count": self.count,
            "errors": self.errors,
            "p50_ms": round(percentile(self.ms, 50), 1),
            "p95_ms": round(percentile(self.ms, 95), 1),
            "max_ms": round(max(self.ms, default=0.0), 1),
            "mean_bytes": round(sum(self.bytes) / len(self.bytes)) if self.bytes else 0,
            "error_examples": self.error_examples,
        }


def summarise(stats: dict[str, PageStats]) -> dict[str, dict]:
    return {name: s.summary() for name, s in sorted(stats.items())}


def timeline(stats: dict[str, PageStats], step: float = 10.0) -> list[dict]:
    """Every page's requests together, by the `step` seconds of the run they began in: how
    many, their p50 and p95 (where in a run the slow requests were)."""
    windows: dict[int, list[float]] = {}
    for s in stats.values():
        for at, ms in zip(s.at, s.ms, strict=True):
            windows.setdefault(int(at // step), []).append(ms)
    return [
        {"from_s": k * step, "requests": len(v), "p50_ms": round(percentile(v, 50), 1),
         "p95_ms": round(percentile(v, 95), 1)}
        for k, v in sorted(windows.items())
    ]  # fmt: skip


# -- the load runner --------------------------------------------------------------------------


@dataclass
class Visitor:
    """A signed-in session and the pages it opens: (name, path) pairs, one chosen at random
    for every request."""

    session: Session
    pages: list[tuple[str, str]]
    label: str = ""


def run_sessions(
    visitors: list[Visitor],
    *,
    seconds: float,
    think: tuple[float, float] | None = (2.0, 8.0),
    max_requests: int = 100_000,
    seed: int = 0,
    ok=lambda r: r.status == 200,
) -> tuple[dict[str, PageStats], float]:
    """Every visitor in its own thread opens a page, reads for a random `think` seconds (none
    when `think` is None: the closed loop), and again, until `seconds` have passed or
    `max_requests` have been sent in all. Bounded in time and count whatever the server does.
    Returns the figures per page name and the seconds the run took."""
    stats: dict[str, PageStats] = {}
    lock = threading.Lock()
    sent = [0]
    started = time.monotonic()
    deadline = started + seconds

    def one(n: int, v: Visitor) -> None:
        rnd = random.Random(seed * 100_003 + n)
        if think:  # spread the first requests over the first reading time
            time.sleep(rnd.uniform(0, think[1]))
        while time.monotonic() < deadline:
            with lock:
                if sent[0] >= max_requests:
                    return
                sent[0] += 1
            name, path = rnd.choice(v.pages)
            at = time.monotonic() - started
            try:
                r = v.session.get(path, follow=False)
                good, why = ok(r), f"{r.status} {path}"
                ms, size = r.ms, len(r.body)
            except (OSError, http.client.HTTPException) as e:
                good, why, ms, size = (
                    False,
                    f"{type(e).__name__} {path}",
                    v.session.timeout * 1000,
                    0,
                )
            with lock:
                stats.setdefault(name, PageStats()).add(good, ms, size, why, at)
            if think:
                time.sleep(min(rnd.uniform(*think), max(0.0, deadline - time.monotonic())))

    threads = [
        threading.Thread(target=one, args=(n, v), daemon=True) for n, v in enumerate(visitors)
    ]
    for t in threads:
        t.start()
    for t in threads:
        # Each request is bounded by the session's timeout, so every thread ends soon after.
        t.join(timeout=seconds + 120)
    return stats, time.monotonic() - started
