""" "Did you mean jordan@gmail.com?": likely typos of the email domains most people use.

A hint, never a correction: the sender decides. A domain gets a hint when
- its top-level domain is a slip that no real domain has (".con", ".cmo", ".ocm", ".nte" …), or
- it is within two edits (a letter added, dropped, changed, or two swapped) of one of the common consumer
  domains below, and its name (the part before the first dot) within what its length allows: none for
  names of up to three letters ("cox.net" is not "gmx.net"), one for up to five ("yaho", "gmial"),
  two for longer ones. Only the ending differing counts only when it is cut short or doubled ("gmail.co",
  "gmail.comm"), not another country's ("yahoo.ca", "hotmail.de" are real).
A domain that is one of the common ones, or far from all of them ("proton.me", "example.org"), gets none.
"""

from __future__ import annotations

COMMON_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "aol.com",
    "live.com",
    "msn.com",
    "me.com",
    "mac.com",
    "googlemail.com",
    "ymail.com",
    "protonmail.com",
    "proton.me",
    "gmx.com",
    "gmx.net",
    "gmx.de",
    "web.de",
    "mail.com",
    "email.com",
    "yandex.com",
    "zoho.com",
    "fastmail.com",
    "comcast.net",
    "verizon.net",
    "att.net",
    "sbcglobal.net",
    "hotmail.co.uk",
    "yahoo.co.uk",
    "qq.com",
    "163.com",
    "126.com",
)

# Top-level domains that do not exist, and the one meant.
TLD_TYPOS = {
    "con": "com",
    "cmo": "com",
    "ocm": "com",
    "cim": "com",
    "cpm": "com",
    "vom": "com",
    "xom": "com",
    "comm": "com",
    "coom": "com",
    "cmm": "com",
    "copm": "com",
    "c0m": "com",
    "nte": "net",
    "ner": "net",
    "nett": "net",
    "ent": "net",
    "ogr": "org",
    "orgg": "org",
    "rog": "org",
}


def edit_distance(a: str, b: str) -> int:
    """Letters added, dropped, changed, or two neighbours swapped (optimal string alignment distance)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[len(a)][len(b)]


def _name_and_ending(domain: str) -> tuple[str, str]:
    name, _, ending = domain.partition(".")
    return name, ending


def _edits_allowed(name: str) -> int:
    return 0 if len(name) <= 3 else 1 if len(name) <= 5 else 2


def _close(typed: str, common: str) -> int | None:
    """How far `typed` is from `common`, when it is close enough to be a slip; else None."""
    distance = edit_distance(typed, common)
    if distance == 0 or distance > 2:
        return None
    name, ending = _name_and_ending(typed)
    common_name, common_ending = _name_and_ending(common)
    if edit_distance(name, common_name) > _edits_allowed(name):
        return None
    if name == common_name and not (common_ending.startswith(ending) or ending.startswith(common_ending)):
        return None  # another real ending of the same name: yahoo.ca, hotmail.de
    return distance


def suggest_domain(domain: str) -> str | None:
    """The domain probably meant, or None when `domain` looks right (or is not close to a common one)."""
    domain = domain.strip().lower().rstrip(".")
    if not domain or "." not in domain or domain in COMMON_DOMAINS:
        return None
    head, _, tld = domain.rpartition(".")
    fixed = f"{head}.{TLD_TYPOS[tld]}" if tld in TLD_TYPOS else domain
    if fixed in COMMON_DOMAINS:
        return fixed
    distances = [(distance, index) for index, common in enumerate(COMMON_DOMAINS) if (distance := _close(fixed, common))]
    if distances:
        return COMMON_DOMAINS[min(distances)[1]]
    return fixed if fixed != domain else None


def suggest_email(address: str) -> str | None:
    """'jordan@gmail.com' for 'jordan@gmial.com'; None when the address's domain looks right (or it has none)."""
    local, at, domain = (address or "").strip().rpartition("@")
    if not at or not local:
        return None
    suggestion = suggest_domain(domain)
    return f"{local}@{suggestion}" if suggestion else None
