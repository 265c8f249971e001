# Copied from packages/dkim/test/dkimpy-verify.py (same project, MIT).
# Verifies DKIM signatures with dkimpy (Debian python3-dkim), asking the loopback DNS server.
# stdin: JSON {"server": "127.0.0.1:PORT", "messages": [base64 or [base64, signature index], ...]}
# stdout: JSON [{"ok": bool, "error": str|null}, ...] in the same order.
import base64
import json
import sys

import dkim
import dns.resolver

request = json.load(sys.stdin)
host, port = request["server"].rsplit(":", 1)
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = [host]
resolver.port = int(port)
resolver.timeout = 5
resolver.lifetime = 5
# dkimpy's dnsplug asks dns.resolver's default resolver: point it at the loopback server only.
dns.resolver.default_resolver = resolver

results = []
for entry in request["messages"]:
    encoded, index = (entry, 0) if isinstance(entry, str) else entry
    message = base64.b64decode(encoded)
    try:
        verifier = dkim.DKIM(message)
        ok = verifier.verify(index)
        results.append({"ok": bool(ok), "error": None if ok else "signature did not verify"})
    except Exception as error:  # report, do not stop: one bad message must not hide the others
        results.append({"ok": False, "error": f"{type(error).__name__}: {error}"})
json.dump(results, sys.stdout)
